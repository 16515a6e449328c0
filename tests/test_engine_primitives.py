"""The engine's building blocks against plain Python: 128-bit fixed point against Python
ints and fractions, order-preserving keys and buckets against float comparisons, and
the score-space boundaries against the formulas they stand for, evaluated per value."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.boundaries import (
    N_STRIPS,
    ader_bin_boundaries,
    ader_paper_thresholds,
    histc_bin,
    strictly_above_boundaries,
)
from metrics.engine import bound_keys
from metrics.fixedpoint import (
    WEIGHT_BITS,
    add128,
    area_weight,
    as_int,
    mul64,
    to_float,
)
from metrics.orderkeys import (
    bucket_of_float64,
    key32,
    key64,
    keys_of,
    value_of_key32,
    widen_low,
)

U128 = st.integers(0, 2**128 - 1)


def split(value: int) -> tuple[np.uint64, np.uint64]:
    """A non-negative int below 2**128 as (hi, lo) uint64."""
    return np.uint64(value >> 64), np.uint64(value & 0xFFFFFFFFFFFFFFFF)


@settings(max_examples=300, deadline=None)
@given(U128, U128)
def test_add128_is_exact(a, b):
    assert as_int(*add128(*split(a), *split(b))) == (a + b) % 2**128


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_mul64_is_the_exact_product(a, b):
    assert as_int(*mul64(np.uint64(a), np.uint64(b))) == a * b


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**31))
def test_area_weight_is_the_float64_reciprocal_scaled(area):
    exact = Fraction(as_int(*area_weight(np.int64(area))), 2**WEIGHT_BITS)
    assert exact == Fraction(1.0 / area)


@settings(max_examples=400, deadline=None)
@given(U128, st.integers(0, 120))
def test_to_float_rounds_once_to_nearest(value, scale):
    got = to_float(*split(value), scale)
    assert got == value / 2**scale  # Python's int / int is correctly rounded


def _float32s(draw_values):
    return np.array(draw_values, dtype=np.float32)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False), min_size=2, max_size=40))
def test_key32_orders_like_the_floats(values):
    arr = _float32s(values)
    keys = np.array([key32(b) for b in arr.view(np.uint32)], dtype=np.uint64)
    for i in range(len(arr)):
        for j in range(len(arr)):
            assert (keys[i] < keys[j]) == (arr[i] < arr[j])
            assert (keys[i] == keys[j]) == (arr[i] == arr[j])
    for key, value in zip(keys, arr, strict=True):
        assert value_of_key32(np.uint32(key)) == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=2, max_size=40))
def test_key64_orders_and_bucket_is_monotone(values):
    arr = np.array(values, dtype=np.float64)
    keys = [int(key64(b)) for b in arr.view(np.uint64)]
    buckets = [int(bucket_of_float64(v)) for v in arr]
    for i in range(len(arr)):
        for j in range(len(arr)):
            assert (keys[i] < keys[j]) == (arr[i] < arr[j])
            if arr[i] <= arr[j]:
                assert buckets[i] <= buckets[j]


@settings(max_examples=200, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_float32_bucket_and_widening_agree_with_float64(value):
    v32 = np.float32(value)
    key = int(key32(np.array([v32]).view(np.uint32)[0]))
    assert bucket_of_float64(float(v32)) == key >> 16
    wide = widen_low(np.int64(key >> 16), np.uint16(key & 0xFFFF))
    assert wide == key64(np.array([float(v32)]).view(np.uint64)[0])


def _bins_by_boundaries(values: np.ndarray, starts: np.ndarray, hi: float) -> np.ndarray:
    """Bin of each value from the boundaries: number of bin starts <= value (49 max)."""
    return np.searchsorted(starts, values.astype(np.float64), side="right")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.floats(-1e6, 1e6),
       st.floats(1e-30, 1e6), st.integers(0, 2**32 - 1))
def test_ader_bin_boundaries_reproduce_histc(dtype, lo, width, seed):
    low = dtype(lo)
    high = dtype(lo + width)
    if not low < high:
        return
    rng = np.random.default_rng(seed)
    values = np.concatenate([[low, high], low + (high - low) * rng.random(300)])
    values = np.clip(values.astype(dtype), low, high)
    if dtype == np.float32:  # neighbours of the bin starts too
        ordinals = values.view(np.int32)
        values = np.concatenate([values, (ordinals + 1).view(np.float32),
                                 (ordinals - 1).view(np.float32)])
        values = values[(values >= low) & (values <= high)]
    starts = ader_bin_boundaries(float(low), float(high), dtype)
    expected = np.array([min(histc_bin(v, low, high, dtype), N_STRIPS - 1) for v in values])
    assert np.array_equal(_bins_by_boundaries(values, starts, float(high)), expected)


def test_histc_bin_is_the_cuda_formula_in_the_maps_type():
    # (x - lo) * 50 / (hi - lo) in float32: 0.1 rounds differently than in float64
    lo, hi = np.float32(0.0), np.float32(0.3)
    x = np.float32(0.06)
    f32 = int(((x - lo) * np.float32(50)) / (hi - lo))
    assert histc_bin(x, lo, hi, np.float32) == f32
    assert histc_bin(hi, lo, hi, np.float32) in (49, 50)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.floats(-1e4, 1e4),
       st.floats(1e-6, 1e4))
def test_ader_paper_thresholds_are_numpy_1_arange(dtype, lo, width):
    low, high = dtype(lo), dtype(lo + width)
    if not low < high:
        return
    # NumPy 1.x: (max - min) in the maps' type, then / 100 promoted to float64
    reference = np.arange(low, high, np.float64(high - low) / 100)
    assert reference.dtype == np.float64
    assert np.array_equal(ader_paper_thresholds(float(low), float(high), dtype), reference)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([np.float32, np.float64]), st.lists(st.floats(-10, 10), min_size=1,
                                                           max_size=20),
       st.integers(0, 2**32 - 1))
def test_strictly_above_boundaries_match_the_comparison(dtype, thresholds, seed):
    th = np.array(thresholds, dtype=np.float64)
    bounds = strictly_above_boundaries(th, dtype)
    values = (np.random.default_rng(seed).random(200) * 20 - 10).astype(dtype)
    values = np.concatenate([values, th.astype(dtype)])
    for t, b in zip(th, bounds, strict=True):
        assert np.array_equal(values > dtype(t), values.astype(np.float64) >= b)
        assert math.isfinite(b)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([np.float32, np.float64]),
       st.lists(st.floats(-1e6, 1e6) | st.sampled_from([0.0, -0.0, np.inf, -np.inf]),
                min_size=1, max_size=10),
       st.integers(0, 2**32 - 1))
def test_bound_keys_compare_like_the_bounds(dtype, bounds, seed):
    bounds = np.sort(np.array(bounds, dtype=np.float64))
    keys = bound_keys(bounds, 32 if dtype == np.float32 else 64)
    rng = np.random.default_rng(seed)
    values = np.concatenate([(rng.standard_normal(100) * 10.0 ** rng.integers(0, 6, 100)),
                             bounds[np.isfinite(bounds)], [0.0, -0.0]]).astype(dtype)
    value_keys = keys_of(values)
    for b, k in zip(bounds, keys, strict=True):
        assert np.array_equal(values.astype(np.float64) >= b, value_keys >= k)
