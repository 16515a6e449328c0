"""Thresholds moved into score space: each becomes a boundary b with "score >= b".

The walk counts, per interval between sorted boundaries, the pixels whose score lies
there (`metrics.walk`), so every thresholded count of every definition is a sum of
intervals, exact and without a division per pixel. This module finds the boundaries:

- threshold metrics: N(v) = (v - lo) / (hi - lo) in float64 is monotone in v, so
  N(v) > t iff v >= b_t, b_t the smallest float64 with N(b_t) > t (bisection);
- `--compat ader`: torch.histc's bin b(v) = trunc(((v - lo) * 50) / (hi - lo)) computed
  in the maps' float type is monotone too: bin k starts at the smallest v of that type
  with b(v) >= k; pixels at the maximum also count in the overflow bin (v >= hi);
- `--compat ader-paper`: map > th in the maps' type (th rounded to float32 for float32
  maps) iff v >= the next value of that type above th;
- report histograms: fixed edges lo + (hi - lo) * k / bins.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

N_STRIPS = 50
ADER_PAPER_STEPS = 100


def _ordinal(x: float, dtype: type[np.floating]) -> int:
    """Order-preserving integer of a float of `dtype` (-0.0 and +0.0 alike)."""
    signed = {np.float32: np.int32, np.float64: np.int64}[dtype]
    bits = int(np.array(x, dtype=dtype).view(signed))
    sign = 1 << (np.dtype(dtype).itemsize * 8 - 1)
    return bits if bits >= 0 else -(bits & (sign - 1))


def _from_ordinal(o: int, dtype: type[np.floating]) -> float:
    unsigned = {np.float32: np.uint32, np.float64: np.uint64}[dtype]
    sign = 1 << (np.dtype(dtype).itemsize * 8 - 1)
    bits = o if o >= 0 else (-o) | sign
    return float(np.array(bits, dtype=unsigned).view(dtype))


def smallest_with(predicate: Callable[[float], bool], lo: float, hi: float,
                  dtype: type[np.floating] = np.float64) -> float:
    """The smallest v of `dtype` in [lo, hi] with predicate(v) (a predicate monotone in v:
    false, then true), as float64; -inf if predicate(lo), +inf if not predicate(hi)."""
    if predicate(lo):
        return -math.inf
    if not predicate(hi):
        return math.inf
    below, above = _ordinal(lo, dtype), _ordinal(hi, dtype)  # predicate false / true
    while above - below > 1:
        mid = (below + above) // 2
        if predicate(_from_ordinal(mid, dtype)):
            above = mid
        else:
            below = mid
    return _from_ordinal(above, dtype)


def normalised_cut_boundaries(cuts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """b_t for each threshold t in `cuts`: v >= b_t iff (v - lo)/(hi - lo) > t, for v in
    [lo, hi]; with hi == lo (N = 0 everywhere) b_t = -inf if t < 0 else +inf."""
    span = hi - lo
    out = np.empty(len(cuts), dtype=np.float64)
    for j, t in enumerate(cuts):
        if span == 0:
            out[j] = -np.inf if t < 0.0 else np.inf
        else:
            out[j] = smallest_with(functools.partial(_normalised_above, lo=lo, span=span,
                                                     cut=float(t)), lo, hi)
    return out


def _normalised_above(v: float, lo: float, span: float, cut: float) -> bool:
    return (v - lo) / span > cut


def histc_bin(value: float, lo: float, hi: float, dtype: type[np.floating]) -> int:
    """torch.histc's CUDA bin of `value` for 50 bins over [lo, hi], in `dtype` arithmetic,
    before the clamp of 50 to 49 (inf or NaN, from overflowing arithmetic: 50)."""
    x, low, high = dtype(value), dtype(lo), dtype(hi)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scaled = ((x - low) * dtype(N_STRIPS)) / (high - low)
    return int(scaled) if np.isfinite(scaled) and scaled < N_STRIPS else N_STRIPS


def ader_bin_boundaries(lo: float, hi: float, dtype: type[np.floating]) -> np.ndarray:
    """Where ADer's bins 1..49 start (bin 0 starts at lo): e_k = the smallest v of `dtype`
    with histc_bin(v) >= k, +inf if none. Requires lo < hi."""
    return np.array([smallest_with(functools.partial(_bin_at_least, lo=lo, hi=hi, dtype=dtype,
                                                     k=k), lo, hi, dtype)
                     for k in range(1, N_STRIPS)])


def _bin_at_least(v: float, lo: float, hi: float, dtype: type[np.floating], k: int) -> bool:
    return histc_bin(v, lo, hi, dtype) >= k


def ader_paper_thresholds(lo: float, hi: float, dtype: type[np.floating]) -> np.ndarray:
    """ADer's April 2024 AUPRO thresholds as NumPy 1.x computed them for maps of `dtype`
    with extremes lo < hi: step = (max - min) / 100, the difference in the maps' type and
    the division in float64, then numpy.arange(min, max, step) (float64: th_0 = min,
    th_i = min + i * ((min + step) - min), ceil((max - min) / step) values)."""
    low, high = dtype(lo), dtype(hi)
    spread = np.float64(high - low)
    step = spread / ADER_PAPER_STEPS
    count = math.ceil(spread / step)
    first = np.float64(low)
    if count <= 1:
        return np.array([first])[:count]
    delta = (first + step) - first
    return np.concatenate(([first, first + step],
                           first + np.arange(2, count, dtype=np.float64) * delta))


def strictly_above_boundaries(thresholds: np.ndarray, dtype: type[np.floating]) -> np.ndarray:
    """For map > th compared in `dtype` (th rounded to it first): the boundary b with
    v > th iff v >= b, i.e. the next value of `dtype` above th."""
    rounded = np.asarray(thresholds, dtype=np.float64).astype(dtype)
    return np.nextafter(rounded, dtype(np.inf)).astype(np.float64)


def histogram_edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """bins + 1 edges lo + (hi - lo) * k / bins (float64); bin k holds e_k <= v < e_k+1,
    the last bin also v = hi."""
    if hi <= lo:
        return np.full(bins + 1, float(lo))
    edges = lo + (hi - lo) * (np.arange(bins + 1, dtype=np.float64) / bins)
    edges[-1] = hi
    return edges
