"""`--compat ader`: ADer's benchmark Evaluator (adeval, nstrips=50) from the walk's counts.

adeval histograms the class's pixel scores into 50 equal bins over [min, max] (edges
computed in float32, as adeval does) plus an under- and an overflow bin; the 51 edges e_j
are the operating points, a pixel counting as predicted anomalous at e_j iff score >= e_j:

- AUROC = trapezoid of TPR_j over FPR_j (the 51 points, no origin)
- AP    = trapezoid of precision_j over recall_j, precision = 1 where nothing is predicted
- AUPRO = trapezoid of wTPR_j (anomalous pixels weighted 1/area of their region) over
          FPR_j up to FPR 0.3, linearly interpolated at 0.3, divided by 0.3
- F1-max (mF1_max_px) = max over the 21 thresholds of `iou_max_p` of the threshold
  metrics' F1_t (see `metrics.formulas.threshold_metrics`).
"""

from __future__ import annotations

import numpy as np

from metrics.curve import FPR_LIMIT

N_STRIPS = 50


def ader_edges(lo: float, hi: float) -> np.ndarray:
    """The 51 bin edges adeval uses for scores in [lo, hi] (float32 arithmetic), as float64."""
    unit = np.linspace(0.0, 1.0, num=N_STRIPS + 1, endpoint=True, dtype=np.float32)
    return (unit * (float(hi) - float(lo)) + float(lo)).astype(np.float64)


def trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """sum_i (x[i+1] - x[i]) * (y[i+1] + y[i]) / 2 (numpy.trapz, removed in NumPy 2.4)."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) * 0.5))


def area_to_limit(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under y(x) for x in [x[0], limit], interpolating linearly at limit.

    `x` must be non-decreasing.
    """
    area = 0.0
    for i in range(len(x) - 1):
        x1, x2, y1, y2 = x[i], x[i + 1], y[i], y[i + 1]
        if x1 >= limit:
            break
        if x2 <= limit:
            area += (x2 - x1) * (y1 + y2) * 0.5
        else:
            y_at = y1 + (y2 - y1) * (limit - x1) / (x2 - x1)
            area += (limit - x1) * (y1 + y_at) * 0.5
    return float(area)


def ader_pixel_metrics(edge_counts: np.ndarray, edge_weights: np.ndarray,
                       ) -> dict[str, float | None]:
    """auroc_p, ap_p, aupro_p of ADer's binned accumulator.

    `edge_counts[0|1, k]`: normal | anomalous pixels at or above exactly k edges;
    `edge_weights[k]`: the same anomalous pixels' summed 1/area weights.
    """
    def at_or_above(hist: np.ndarray) -> np.ndarray:
        # pixels with score >= e_j are those above more than j edges
        return np.cumsum(hist[::-1])[::-1][1:]

    tp = at_or_above(edge_counts[1]).astype(np.float64)
    fp = at_or_above(edge_counts[0]).astype(np.float64)
    wtp = at_or_above(edge_weights)
    n_pos, n_neg, w_total = edge_counts[1].sum(), edge_counts[0].sum(), edge_weights.sum()
    if n_pos == 0 or n_neg == 0:
        return {"auroc_p": None, "ap_p": None, "aupro_p": None}
    tpr, fpr, pro = tp / n_pos, fp / n_neg, wtp / w_total
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    return {
        "auroc_p": trapezoid(tpr[::-1], fpr[::-1]),
        "ap_p": trapezoid(precision[::-1], tpr[::-1]),
        "aupro_p": area_to_limit(fpr[::-1], pro[::-1], FPR_LIMIT) / FPR_LIMIT,
    }
