"""Order-preserving integer keys of float scores and the 65536 buckets they fall in (numba).

A float's bit pattern becomes an unsigned key that sorts like the float (-0.0 and +0.0
share one key). Every score, float32 or float64, falls in the bucket

    bucket(v) = key32(largest float32 <= v) >> 16

(the sign, the 8 exponent bits and the top 7 mantissa bits of v rounded down to
float32), a non-decreasing function of v. A float32 score's bucket is the high half of
its own key, so a class holding float32 and float64 maps needs no re-bucketing: a float32
entry stored as its key's low 16 bits widens exactly to the float64 key of the same value
(`widen_low`). Kernels pass small scratch arrays (`scratch()`) to move between a float's
bits and its value without allocating.
"""

from __future__ import annotations

import numpy as np
from numba import njit

N_BUCKETS = 1 << 16
_SIGN32 = np.uint32(0x80000000)
_ABS32 = np.uint32(0x7FFFFFFF)
_SIGN64 = np.uint64(0x8000000000000000)
_ABS64 = np.uint64(0x7FFFFFFFFFFFFFFF)


def scratch() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One-element uint32 / float32 / uint64 / float64 views for bit casts in kernels."""
    u32 = np.zeros(1, dtype=np.uint32)
    u64 = np.zeros(1, dtype=np.uint64)
    return u32, u32.view(np.float32), u64, u64.view(np.float64)


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
def bits_of_key32(key: np.uint32) -> np.uint32:
    """Inverse of `key32` (for keys it produces)."""
    if key & _SIGN32:
        return key ^ _SIGN32
    return ~key


@njit(cache=True, nogil=True)
def bits_of_key64(key: np.uint64) -> np.uint64:
    """Inverse of `key64` (for keys it produces)."""
    if key & _SIGN64:
        return key ^ _SIGN64
    return ~key


@njit(cache=True, nogil=True)
def value_of_key32(key: np.uint32, u32: np.ndarray, f32: np.ndarray) -> float:
    """The float32 score of a key32, as float64."""
    u32[0] = bits_of_key32(key)
    return np.float64(f32[0])


@njit(cache=True, nogil=True)
def value_of_key64(key: np.uint64, u64: np.ndarray, f64: np.ndarray) -> float:
    """The float64 score of a key64."""
    u64[0] = bits_of_key64(key)
    return f64[0]


@njit(cache=True, nogil=True)
def bucket_of_float64(value: float, u32: np.ndarray, f32: np.ndarray) -> np.int64:
    """bucket(v) for a float64 v: the high 16 bits of the key of the largest float32 <= v."""
    nearest = np.float32(value)
    f32[0] = nearest
    key = key32(u32[0])
    if np.float64(nearest) > value:
        key -= np.uint32(1)  # the float32 just below (a hole next to 0: still monotone)
    return np.int64(key >> np.uint32(16))


@njit(cache=True, nogil=True)
def key64_of_value(value: float, u64: np.ndarray, f64: np.ndarray) -> np.uint64:
    """key64 of a float64 value."""
    f64[0] = value
    return key64(u64[0])


@njit(cache=True, nogil=True)
def widen_low(bucket: np.int64, low: np.uint16, u32: np.ndarray, f32: np.ndarray,
              u64: np.ndarray, f64: np.ndarray) -> np.uint64:
    """The key64 of the float32 score stored as (bucket, low 16 key bits)."""
    key = (np.uint32(bucket) << np.uint32(16)) | np.uint32(low)
    return key64_of_value(value_of_key32(key, u32, f32), u64, f64)


def keys32_to_values(keys: np.ndarray) -> np.ndarray:
    """Vectorised inverse of `key32`: the float32 scores of uint32 keys, as float64."""
    keys = np.asarray(keys, dtype=np.uint32)
    bits = np.where(keys & _SIGN32, keys ^ _SIGN32, ~keys).astype(np.uint32)
    return bits.view(np.float32).astype(np.float64)
