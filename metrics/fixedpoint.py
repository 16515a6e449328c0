"""Exact unsigned 128-bit integers as (hi, lo) uint64 pairs, for sums that must not depend
on the order they are added in (numba, see docs/metrics.md "The engine").

Two sums of the engine use them:
- AUPRO's weights: a pixel of an 8-connected region of `area` pixels weighs the float64
  w = fl(1/area). For area <= 2**31, w is an integer multiple of 2**-83, so
  W = w * 2**83 is an integer below 2**84 and any sum of such weights is exact in 128
  bits: the weight of a set of pixels is the same number whatever the order, the
  thread count or the batching. It is rounded to float64 once, where a formula needs it.
- AUROC's numerator sum_v neg(v) * (2 TP_above(v) + pos(v)), which overflows int64 for
  classes of more than ~4e9 pixels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros

WEIGHT_BITS = 83  # a region weight fl(1/area) is an integer times 2**-WEIGHT_BITS
MAX_AREA = 1 << 31

_ONE = np.uint64(1)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_U64 = np.uint64(64)


@njit(cache=True, nogil=True)
def add128(hi: np.uint64, lo: np.uint64, add_hi: np.uint64, add_lo: np.uint64,
           ) -> tuple[np.uint64, np.uint64]:
    """(hi, lo) + (add_hi, add_lo) modulo 2**128."""
    new_lo = lo + add_lo
    carry = np.uint64(1) if new_lo < lo else np.uint64(0)
    return hi + add_hi + carry, new_lo


@njit(cache=True, nogil=True)
def mul64(a: np.uint64, b: np.uint64) -> tuple[np.uint64, np.uint64]:
    """The exact 128-bit product of two uint64 as (hi, lo)."""
    a = np.uint64(a)
    b = np.uint64(b)
    if (a | b) <= _LOW32:
        return np.uint64(0), a * b
    a_lo = a & _LOW32
    a_hi = a >> _U32
    b_lo = b & _LOW32
    b_hi = b >> _U32
    low = a_lo * b_lo
    mid1 = a_hi * b_lo
    mid2 = a_lo * b_hi
    high = a_hi * b_hi
    mid = (low >> _U32) + (mid1 & _LOW32) + (mid2 & _LOW32)
    lo = (low & _LOW32) | ((mid & _LOW32) << _U32)
    hi = high + (mid1 >> _U32) + (mid2 >> _U32) + (mid >> _U32)
    return hi, lo


@njit(cache=True, nogil=True)
def area_weight(area: np.int64) -> tuple[np.uint64, np.uint64]:
    """fl(1/area) * 2**83 as an exact 128-bit integer (1 <= area <= 2**31)."""
    mantissa, exponent = math.frexp(1.0 / area)  # 1/area = mantissa * 2**exponent
    digits = np.uint64(mantissa * 9007199254740992.0)  # mantissa * 2**53, exact
    shift = np.uint64(exponent + 30)  # in [0, 31] for area <= 2**31
    lo = digits << shift
    hi = np.uint64(0) if shift == 0 else digits >> (_U64 - shift)
    return hi, lo


@njit(cache=True, nogil=True)
def to_float(hi: np.uint64, lo: np.uint64, scale_bits: int) -> float:
    """(hi * 2**64 + lo) * 2**-scale_bits rounded once to the nearest float64."""
    if hi == 0:
        return math.ldexp(float(lo), -scale_bits)
    zeros = np.uint64(leading_zeros(hi))  # type: ignore[call-arg]
    if zeros == 0:
        top = hi
        lost = lo
    else:
        top = (hi << zeros) | (lo >> (_U64 - zeros))
        lost = lo << zeros
    if lost != 0:
        top |= _ONE  # sticky bit: keeps round-to-nearest exact
    return math.ldexp(float(top), int(64 - np.int64(zeros) - scale_bits))


@njit(cache=True, nogil=True)
def weight_to_float(hi: np.uint64, lo: np.uint64) -> float:
    """A fixed-point weight sum as float64 (correctly rounded)."""
    return to_float(hi, lo, WEIGHT_BITS)


def as_int(hi: int | np.integer, lo: int | np.integer) -> int:
    """A (hi, lo) pair as a Python int."""
    return (int(hi) << 64) | int(lo)


def int_to_float(value: int, scale_bits: int = 0) -> float:
    """value * 2**-scale_bits rounded once to float64 (Python ints divide exactly)."""
    return value / (1 << scale_bits) if scale_bits else float(value)
