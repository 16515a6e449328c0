"""`--compat ader` and `--compat ader-paper`: ADer's evaluators, from the walk's counts.

Both keep the image metrics, image labels and scores exact; their `f1max_p` is ADer's
mF1_max_px (`formulas.ader_f1max_p`). Formulas (docs/metrics.md "Compat modes"):

`ader`: adeval's EvalAccumulatorCuda (nstrips=50) as it runs on the GPU. With lo, hi the
class's extremes, a pixel falls in bin b = trunc(((v - lo) * 50) / (hi - lo)) (the maps'
float type; 50 -> 49) AND, when v >= hi, also in an overflow bin: pixels at the maximum
count twice. From the 52 bins [under, 0..49, over] (normal, anomalous, anomalous weighted
by 1/region area): cumulative sums give 51 operating points, AUROC = trapezoid of TPR
over FPR, AP = trapezoid of precision (1 where nothing is predicted) over recall, AUPRO =
adeval's split trapezoid of the weighted TPR up to FPR 0.3, / 0.3.

`ader-paper`: ADer's April 2024 Evaluator: pixel AUROC and AP exact; AUPRO from its
100-step threshold sweep (`boundaries.ader_paper_thresholds`): PRO = mean over regions of
the predicted share, FPR = predicted normal / normal pixels; the points with FPR < 0.3,
their FPRs rescaled to [0, 1] by their own min and max, and sklearn.metrics.auc's area.
"""

from __future__ import annotations

import numpy as np

from metrics.boundaries import (
    ader_bin_boundaries,
    ader_paper_thresholds,
    strictly_above_boundaries,
)
from metrics.engine import PixelWalk
from metrics.fixedpoint import WEIGHT_BITS, int_to_float
from metrics.keys import Metrics

ADEVAL_LIMIT = 0.3


def class_dtype(walk_kind: int) -> type[np.floating]:
    """The float type of a class's maps: float32 unless some map is float64."""
    return np.float32 if walk_kind == 32 else np.float64


def bounds_for(compat: str | None, lo: float, hi: float, kind: int) -> list[float]:
    """The score boundaries a compat mode's counts need (none for the exact definitions)."""
    dtype = class_dtype(kind)
    if compat == "ader" and lo < hi:
        return [*ader_bin_boundaries(lo, hi, dtype).tolist(), hi]
    if compat == "ader-paper" and lo < hi:
        return strictly_above_boundaries(ader_paper_thresholds(lo, hi, dtype), dtype).tolist()
    return []


def trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """numpy.trapz(y, x) (removed in NumPy 2.4), the same arithmetic:
    sum of diff(x) * (y[1:] + y[:-1]) / 2.0."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    return float(np.add.reduce(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def _adeval_interpolated(interp: float, area: float, y1: float, y2: float) -> float:
    """adeval's area of the first `interp` share of a trapezoid of `area` from y1 to y2;
    0.0 where its arithmetic is 0/0 (y1 = y2 = 0)."""
    if y1 + 0.5 * (y2 - y1) == 0:
        return 0.0
    rect_ratio = y1 / (y1 + 0.5 * (y2 - y1))
    return area * rect_ratio * interp + area * (1 - rect_ratio) * interp * interp


def _ader_bins(walk: PixelWalk, starts: list[float]) -> tuple[np.ndarray, ...]:
    """The 52 bins [under, 0..49, over] of normal, anomalous and weighted anomalous pixels."""
    at = [walk.at_or_above(b) for b in starts]  # bins 1..49, then v >= hi
    above = [(walk.n_neg, walk.n_pos, sum(walk.iv_w)), *at[:-1]]
    counts = np.zeros((3, 52), dtype=object)
    for k in range(50):
        upper = above[k + 1] if k + 1 < 50 else (0, 0, 0)
        counts[:, k + 1] = [above[k][c] - upper[c] for c in range(3)]
    counts[:, 51] = at[-1]
    neg = counts[0].astype(np.float64)
    pos = counts[1].astype(np.float64)
    weighted = np.array([int_to_float(int(w), WEIGHT_BITS) for w in counts[2]])
    return neg, pos, weighted


def _cumulative(stat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """adeval's (TP-like, FN-like) counts at the 51 operating points from 52 bins."""
    cum = np.cumsum(stat)
    below = cum[:-1]
    return cum[-1] - below, below


def ader_pixel_metrics(walk: PixelWalk) -> Metrics:
    """auroc_p, ap_p, aupro_p of `--compat ader` (None for constant maps: adeval asserts
    min < max, and without normal or anomalous pixels)."""
    if not walk.lo < walk.hi or walk.n_pos == 0 or walk.n_neg == 0:
        return {"auroc_p": None, "ap_p": None, "aupro_p": None}
    starts = bounds_for("ader", walk.lo, walk.hi, walk.kind)
    neg, pos, weighted = _ader_bins(walk, starts)
    tp, fn = _cumulative(pos)
    fp, tn = _cumulative(neg)
    wtp, wfn = _cumulative(weighted)
    tpr, fpr, pro = tp / (tp + fn), fp / (fp + tn), wtp / (wtp + wfn)
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    low = fpr <= ADEVAL_LIMIT
    lo_pro, lo_fpr = pro[low][::-1], fpr[low][::-1]
    hi_pro, hi_fpr = pro[~low][::-1], fpr[~low][::-1]
    if not low.any():  # adeval fails (no operating point at FPR <= 0.3): no area there
        aupro = 0.0
    else:
        lo_area = trapezoid(lo_pro, lo_fpr)
        gap = trapezoid(pro[::-1], fpr[::-1]) - (lo_area + trapezoid(hi_pro, hi_fpr))
        interp = (ADEVAL_LIMIT - lo_fpr[-1]) / (hi_fpr[0] - lo_fpr[-1])
        aupro = (lo_area + _adeval_interpolated(interp, gap, lo_pro[-1], hi_pro[0])
                 ) / ADEVAL_LIMIT
    return {"auroc_p": trapezoid(tpr[::-1], fpr[::-1]),
            "ap_p": trapezoid(precision[::-1], tpr[::-1]),
            "aupro_p": aupro}


def sklearn_auc(x: np.ndarray, y: np.ndarray) -> float:
    """sklearn.metrics.auc: the trapezoid area, x monotone either way (else ValueError)."""
    if x.shape[0] < 2:
        raise ValueError("at least 2 points are needed")
    dx = np.diff(x)
    direction = 1.0
    if np.any(dx < 0):
        if not np.all(dx <= 0):
            raise ValueError("x is neither increasing nor decreasing")
        direction = -1.0
    return direction * trapezoid(y, x)


def ader_paper_aupro(walk: PixelWalk) -> float | None:
    """aupro_p of `--compat ader-paper`; None where ADer's evaluator gives NaN or fails
    (fewer than two thresholds with FPR < 0.3, or all their FPRs equal)."""
    if not walk.lo < walk.hi or walk.n_pos == 0 or walk.n_neg == 0:
        return None
    fprs, pros = [], []
    for bound in bounds_for("ader-paper", walk.lo, walk.hi, walk.kind):
        neg, _, weight = walk.at_or_above(bound)
        fprs.append(neg / walk.n_neg)
        pros.append(int_to_float(weight, WEIGHT_BITS) / walk.n_regions)
    fpr, pro = np.array(fprs), np.array(pros)
    keep = fpr < ADEVAL_LIMIT
    fpr, pro = fpr[keep], pro[keep]
    if fpr.shape[0] < 2 or fpr.max() == fpr.min():
        return None
    return sklearn_auc((fpr - fpr.min()) / (fpr.max() - fpr.min()), pro)
