"""One walk down the distinct scores: every ranking and threshold count in a single pass.

Input: distinct score values in descending order, per value the number of normal pixels
`neg`, of anomalous pixels `pos` and the exact weight W(v) = sum of 1/area over its
anomalous pixels (128-bit fixed point, `metrics.fixedpoint`). The walk state (what lies
above the first value: TP, FP, W, and the running partial sums) is passed in and out,
so a bucket may be walked in several calls and disjoint buckets in parallel, each from
its known start. With TP(v), FP(v), W(v) counting scores >= v:

- auc  += neg(v) * (2 TP_above(v) + pos(v))          (AUROC * 2PN, exact 128-bit)
- ap   += pos(v) * TP(v) / (TP(v) + FP(v))           (AP * P)
- f1    = max 2 TP(v) / (TP(v) + FP(v) + P)          (F1-max, and the v where it is first met)
- pro  += trapezoid of PRO = W/R over FPR = FP/N, up to FPR `limit`, interpolated there
- intervals[k] += neg(v), pos(v), W(v) where k = number of `bounds` <= v (the threshold
  metrics, ADer's bins and thresholds, histograms: all counted without a division)
- optionally the curve points: a value is kept for the ROC, PR or PRO curve when its
  point on that curve lies in another cell of a `grid` x `grid` raster than the
  previous value's point (always for the first and the last value).

The floating sums `ap` and `pro` are per bucket: each bucket starts them at 0, and the
engine adds the buckets' partial sums in descending bucket order. The result is thus a
function of the class's (value, label, area) multiset only (docs/metrics.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from metrics.fixedpoint import add128, mul64, weight_to_float

# state layout: ints, words (uint64), floats
TP, FP, K, F1_TP, F1_FP = range(5)
W_HI, W_LO, AUC_HI, AUC_LO = range(4)
X_PREV, Y_PREV, AP, PRO, F1, F1_VALUE, F1_W = range(7)
N_INTS, N_WORDS, N_FLOATS = 5, 4, 7
POINT_FIELDS = 5  # value, TP, FP, W (as float), curves (1 ROC | 2 PR | 4 PRO) the point is kept for
ALL_CURVES = 7


def new_state() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A walk state at the top of the class: nothing above, F1 not yet met."""
    floats = np.zeros(N_FLOATS, dtype=np.float64)
    floats[F1] = -1.0
    return (np.zeros(N_INTS, dtype=np.int64), np.zeros(N_WORDS, dtype=np.uint64), floats)


@njit(cache=True, nogil=True)
def count_at_or_below(sorted_vals: np.ndarray, x: float) -> int:
    """Number of entries <= x of an ascending array."""
    lo = 0
    hi = sorted_vals.shape[0]
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_vals[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def start_state(ints, words, floats, tp, fp, w_hi, w_lo, totals):
    """Set a state to the start of a bucket: TP, FP, W above it; partial sums zeroed."""
    ints[TP] = tp
    ints[FP] = fp
    ints[K] = -1  # found by the first walked value
    ints[F1_TP] = 0
    ints[F1_FP] = 0
    words[W_HI] = w_hi
    words[W_LO] = w_lo
    words[AUC_HI] = 0
    words[AUC_LO] = 0
    floats[X_PREV] = fp * (1.0 / max(totals[1], 1.0))  # as `walk_values` computes them
    floats[Y_PREV] = weight_to_float(w_hi, w_lo) * (1.0 / max(totals[2], 1.0))
    floats[AP] = 0.0
    floats[PRO] = 0.0
    floats[F1] = -1.0
    floats[F1_VALUE] = math.inf
    floats[F1_W] = 0.0


@njit(cache=True, nogil=True)
def _cell(numerator, denominator, grid):
    if denominator <= 0:
        return -1
    return np.int64(math.floor(numerator / denominator * grid))


@njit(cache=True, nogil=True)
def walk_values(values, neg, pos, w_hi, w_lo, n, ints, words, floats, totals, limit, bounds,
                iv_neg, iv_pos, iv_whi, iv_wlo, grid, points, n_points):
    """Walk values[:n] (descending, distinct) from the state; returns the new point count.

    totals = (P, N, R) of the class. `points` (rows: value, TP, FP, W, curve flags) must
    have room for n more rows when grid != 0 (0: no points; < 0: every point).
    """
    if n == 0:
        return n_points
    tp = ints[TP]
    fp = ints[FP]
    k = ints[K]
    if k < 0:
        k = count_at_or_below(bounds, values[0])
    wh = words[W_HI]
    wl = words[W_LO]
    auc_hi = words[AUC_HI]
    auc_lo = words[AUC_LO]
    x_prev = floats[X_PREV]
    y_prev = floats[Y_PREV]
    ap = floats[AP]
    pro = floats[PRO]
    f1 = floats[F1]
    n_pos = np.int64(totals[0])
    n_neg = np.int64(totals[1])
    inv_neg = 1.0 / max(totals[1], 1.0)
    inv_regions = 1.0 / max(totals[2], 1.0)
    w_now = weight_to_float(wh, wl)
    cells = (np.int64(0), np.int64(0), np.int64(0), np.int64(0))
    if grid != 0:
        cells = (_cell(fp, n_neg, grid), _cell(tp, n_pos, grid), _cell(tp, tp + fp, grid),
                 _cell(w_now, totals[2], grid))
    for i in range(n):
        v = values[i]
        nv = neg[i]
        pv = pos[i]
        if nv > 0:
            prod_hi, prod_lo = mul64(np.uint64(nv), np.uint64(2 * tp + pv))
            auc_hi, auc_lo = add128(auc_hi, auc_lo, prod_hi, prod_lo)
        first = tp == 0 and fp == 0
        tp += pv
        fp += nv
        if pv > 0:
            wh, wl = add128(wh, wl, w_hi[i], w_lo[i])
            ap += pv * (tp / (tp + fp))
            f1_here = 2.0 * tp / (tp + fp + n_pos)
            if f1_here > f1:
                f1 = f1_here
                floats[F1_VALUE] = v
                ints[F1_TP] = tp
                ints[F1_FP] = fp
                floats[F1_W] = weight_to_float(wh, wl)
        if x_prev < limit or grid != 0:
            if pv > 0:
                w_now = weight_to_float(wh, wl)
            x = fp * inv_neg
            y = w_now * inv_regions
            if x_prev < limit:
                if x <= limit:
                    pro += (x - x_prev) * (y + y_prev) * 0.5
                else:
                    y_at = y_prev + (y - y_prev) * (limit - x_prev) / (x - x_prev)
                    pro += (limit - x_prev) * (y_at + y_prev) * 0.5
            x_prev = x
            y_prev = y
        while k > 0 and bounds[k - 1] > v:
            k -= 1
        iv_neg[k] += nv
        iv_pos[k] += pv
        if pv > 0:
            iv_whi[k], iv_wlo[k] = add128(iv_whi[k], iv_wlo[k], w_hi[i], w_lo[i])
        if grid != 0:
            new_cells = (_cell(fp, n_neg, grid), _cell(tp, n_pos, grid),
                         _cell(tp, tp + fp, grid), _cell(w_now, totals[2], grid))
            flags = 0
            if grid < 0 or first or (tp == n_pos and fp == n_neg):
                flags = ALL_CURVES
            else:
                if new_cells[0] != cells[0] or new_cells[1] != cells[1]:
                    flags |= 1
                if new_cells[1] != cells[1] or new_cells[2] != cells[2]:
                    flags |= 2
                if new_cells[0] != cells[0] or new_cells[3] != cells[3]:
                    flags |= 4
            if flags:
                points[n_points, 0] = v
                points[n_points, 1] = tp
                points[n_points, 2] = fp
                points[n_points, 3] = w_now
                points[n_points, 4] = flags
                n_points += 1
            cells = new_cells
    ints[TP] = tp
    ints[FP] = fp
    ints[K] = k
    words[W_HI] = wh
    words[W_LO] = wl
    words[AUC_HI] = auc_hi
    words[AUC_LO] = auc_lo
    floats[X_PREV] = x_prev
    floats[Y_PREV] = y_prev
    floats[AP] = ap
    floats[PRO] = pro
    floats[F1] = f1
    return n_points
