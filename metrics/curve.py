"""One walk down the distinct scores: every ranking and threshold count in a single pass.

Input: the distinct score values of a class in descending order, with per value the
number of normal pixels `neg`, anomalous pixels `pos` and the AUPRO weight `w` (sum of
1/area of the anomalous pixels' regions), plus the counts already seen above the first
value (so that disjoint, descending slices of the values can be walked in parallel and
the results added). The walk accumulates into a worker's `Accumulator` arrays:

- `ints[0]`  = sum_v neg(v) * (2*TP_above(v) + pos(v))      (AUROC * 2PN, exact integer)
- `floats[0]` = sum_v pos(v) * TP(v) / (TP(v) + FP(v))      (AP * P)
- `floats[1]` = max_v 2TP(v) / (TP(v) + FP(v) + P)            (F1-max)
- `floats[2]` = trapezoid area of PRO over FPR up to FPR 0.3, interpolated at 0.3
- `cut_counts[0|1, k]`: normal | anomalous pixels whose min-max normalised score
  N = (v - min)/(max - min) exceeds exactly k of the sorted cuts (threshold metrics),
  found without dividing: N(v) > t iff v >= the cut's boundary in score space
- `edge_counts[0|1, k]`, `edge_weights[k]`: pixels with v >= exactly k of ADer's 51
  float32 bin edges (the `--compat ader` histogram)
Here TP(v), FP(v), W(v) count pixels with score >= v.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FPR_LIMIT = 0.3


@njit(cache=True, nogil=True)
def _count_at_or_below(sorted_vals: np.ndarray, x: float) -> int:
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
def walk_distinct(
    values: np.ndarray,
    neg: np.ndarray,
    pos: np.ndarray,
    weight: np.ndarray,
    n_values: int,
    start: np.ndarray,
    totals: np.ndarray,
    cut_values: np.ndarray,
    edges: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    cut_counts: np.ndarray,
    edge_counts: np.ndarray,
    edge_weights: np.ndarray,
) -> None:
    """Walk `values[:n_values]` (descending, distinct) and add to the accumulators.

    start = (TP, FP, W) above the first value (float64: exact for counts < 2**53);
    totals = (P, N, R) of the class; cut_values: ascending score boundaries, a score v
    exceeding a threshold cut iff v >= its boundary (see
    `metrics.boundaries.normalised_cut_boundaries`).
    """
    if n_values == 0:
        return
    tp = np.int64(start[0])
    fp = np.int64(start[1])
    w = start[2]
    n_pos = np.int64(totals[0])
    inv_neg = 1.0 / max(totals[1], 1.0)
    inv_regions = 1.0 / max(totals[2], 1.0)
    x_prev = fp * inv_neg
    y_prev = w * inv_regions
    auc2 = np.int64(0)
    ap = 0.0
    f1 = floats[1]
    pro = 0.0
    k_cut = _count_at_or_below(cut_values, values[0])
    k_edge = _count_at_or_below(edges, values[0])
    for i in range(n_values):
        v = values[i]
        nv = neg[i]
        pv = pos[i]
        auc2 += nv * (2 * tp + pv)
        tp += pv
        fp += nv
        w += weight[i]
        if pv > 0:
            ap += pv * (tp / (tp + fp))
            f1_here = 2.0 * tp / (tp + fp + n_pos)
            if f1_here > f1:
                f1 = f1_here
        if x_prev < FPR_LIMIT:
            x = fp * inv_neg
            y = w * inv_regions
            if x <= FPR_LIMIT:
                pro += (x - x_prev) * (y + y_prev) * 0.5
            else:
                y_at = y_prev + (y - y_prev) * (FPR_LIMIT - x_prev) / (x - x_prev)
                pro += (FPR_LIMIT - x_prev) * (y_at + y_prev) * 0.5
            x_prev = x
            y_prev = y
        while k_cut > 0 and cut_values[k_cut - 1] > v:
            k_cut -= 1
        cut_counts[0, k_cut] += nv
        cut_counts[1, k_cut] += pv
        while k_edge > 0 and edges[k_edge - 1] > v:
            k_edge -= 1
        edge_counts[0, k_edge] += nv
        edge_counts[1, k_edge] += pv
        edge_weights[k_edge] += weight[i]
    ints[0] += auc2
    floats[0] += ap
    floats[1] = f1
    floats[2] += pro
