"""Order-preserving integer keys of float scores and the 65536 buckets they fall in (numba).

A float's bit pattern becomes an unsigned key that sorts like the float (-0.0 and +0.0
share one key). Every score, float32 or float64, falls in the bucket

    bucket(v) = key32(largest float32 <= v) >> 16

(the sign, the 8 exponent bits and the top 7 mantissa bits of v rounded down to
float32), a non-decreasing function of v. A float32 score's bucket is the high half of
its own key, so a class holding float32 and float64 maps needs no re-bucketing: a float32
entry stored as its key's low 16 bits widens exactly to the float64 key of the same value
(`widen_low`). Bit patterns and values are reinterpreted in registers (`bits_to_*`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

N_BUCKETS = 1 << 16
_SIGN32 = np.uint32(0x80000000)
_ABS32 = np.uint32(0x7FFFFFFF)
_SIGN64 = np.uint64(0x8000000000000000)
_ABS64 = np.uint64(0x7FFFFFFFFFFFFFFF)


def _bitcast(source: types.Type, target: types.Type):
    """An intrinsic reinterpreting a `source` value's bits as `target` (same width)."""

    @intrinsic
    def cast(typingctx, value):
        if value != source:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return cast


bits_to_float32 = _bitcast(types.uint32, types.float32)
float32_to_bits = _bitcast(types.float32, types.uint32)
bits_to_float64 = _bitcast(types.uint64, types.float64)
float64_to_bits = _bitcast(types.float64, types.uint64)


@njit(cache=True, nogil=True)
def key32(bits: np.uint32) -> np.uint32:
    """Order-preserving key of the float32 with bit pattern `bits` (-0.0 -> +0.0)."""
    if (bits & _ABS32) == 0:
        return _SIGN32
    if bits & _SIGN32:
        return ~bits
    return bits | _SIGN32


@njit(cache=True, nogil=True)
def key64(bits: np.uint64) -> np.uint64:
    """Order-preserving key of the float64 with bit pattern `bits` (-0.0 -> +0.0)."""
    if (bits & _ABS64) == 0:
        return _SIGN64
    if bits & _SIGN64:
        return ~bits
    return bits | _SIGN64


@njit(cache=True, nogil=True)
def value_of_key32(key: np.uint32) -> float:
    """The float32 score of a key32 (as float64)."""
    bits = key ^ _SIGN32 if key & _SIGN32 else ~key
    return np.float64(bits_to_float32(np.uint32(bits)))


@njit(cache=True, nogil=True)
def value_of_key64(key: np.uint64) -> float:
    """The float64 score of a key64."""
    bits = key ^ _SIGN64 if key & _SIGN64 else ~key
    return bits_to_float64(np.uint64(bits))


@njit(cache=True, nogil=True)
def bucket_of_float64(value: float) -> np.int64:
    """bucket(v) for a float64 v: the high 16 bits of the key of the largest float32 <= v."""
    nearest = np.float32(value)
    key = key32(float32_to_bits(nearest))
    if np.float64(nearest) > value:
        key -= np.uint32(1)  # the float32 just below (a hole next to 0: still monotone)
    return np.int64(key >> np.uint32(16))


@njit(cache=True, nogil=True)
def key64_of_value(value: float) -> np.uint64:
    """key64 of a float64 value."""
    return key64(float64_to_bits(value))


@njit(cache=True, nogil=True)
def widen_low(bucket: np.int64, low: np.uint16) -> np.uint64:
    """The key64 of the float32 score stored as (bucket, low 16 key bits)."""
    key = (np.uint32(bucket) << np.uint32(16)) | np.uint32(low)
    return key64_of_value(value_of_key32(key))


def keys_of(values: np.ndarray) -> np.ndarray:
    """Vectorised `key32` / `key64` of a float32 / float64 array."""
    values = np.where(values == 0, 0.0, values).astype(values.dtype)  # -0.0 -> +0.0
    if values.dtype == np.float64:
        bits64 = values.view(np.uint64)
        return np.where(bits64 & _SIGN64, ~bits64, bits64 | _SIGN64)
    bits32 = values.view(np.uint32)
    return np.where(bits32 & _SIGN32, ~bits32, bits32 | _SIGN32)
