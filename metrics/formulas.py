"""From the walk's sums to the metric values of docs/metrics.md (ranking, threshold).

Notation: P anomalous and N normal samples (pixels or images); TP(v), FP(v) = samples
with score >= v; the sums run over the distinct scores v (`metrics.walk`).
"""

from __future__ import annotations

import numpy as np

from metrics.boundaries import normalised_cut_boundaries
from metrics.engine import PixelWalk
from metrics.keys import Metrics

FPR_LIMIT = 0.3
THRESHOLDS_20_80 = np.arange(0.2, 0.8 + 1e-3, 0.1)
THRESHOLDS_MAX = np.arange(0.0, 1.0 + 1e-3, 0.05)
CUTS = np.unique(np.concatenate([THRESHOLDS_20_80, THRESHOLDS_MAX]))
EPS = 1e-8


def ranking_metrics(auc2: int, ap_sum: float, f1: float, n_pos: int, n_neg: int,
                    suffix: str) -> Metrics:
    """AUROC, AP and F1-max from one walk (keys `auroc_<suffix>`, `ap_...`, `f1max_...`).

    - AUROC  = sum_v neg(v) * (TP_above(v) + pos(v)/2) / (P*N)   (ties count one half;
               the numerator is an exact integer, divided once with correct rounding)
    - AP     = sum_v pos(v)/P * TP(v)/(TP(v)+FP(v))               (step-wise, sklearn's)
    - F1-max = max_v 2*TP(v) / (TP(v) + FP(v) + P)                 (= max 2PR/(P+R))
    Undefined (None): AUROC without both labels, AP and F1-max without anomalous samples.
    """
    has_both = n_pos > 0 and n_neg > 0
    return {
        f"auroc_{suffix}": auc2 / (2 * n_pos * n_neg) if has_both else None,
        f"ap_{suffix}": ap_sum / n_pos if n_pos > 0 else None,
        f"f1max_{suffix}": f1 if n_pos > 0 else None,
    }


def cut_boundaries(walk: PixelWalk) -> np.ndarray:
    """Score-space boundaries of the threshold metrics' cuts (`CUTS`)."""
    return normalised_cut_boundaries(CUTS, walk.lo, walk.hi)


def threshold_curves(walk: PixelWalk, thresholds: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F1_t, Acc_t, IoU_t of the InvAD paper at each threshold t, totals over the class:

    pred = N > t with N = (v - min)/(max - min) (float64; N = 0 if max = min);
    P = I/(|pred|+eps), R = I/(|gt|+eps), F1 = 2PR/(P+R+eps), Acc = I/(|gt|+eps),
    IoU = I/(|pred OR gt|+eps), with I = |pred AND gt| and eps = 1e-8.
    """
    bounds = cut_boundaries(walk)[np.searchsorted(CUTS, thresholds)]
    above = [walk.at_or_above(b) for b in bounds]
    n_pred = np.array([neg + pos for neg, pos, _ in above], dtype=np.float64)
    inter = np.array([pos for _, pos, _ in above], dtype=np.float64)
    n_gt = float(walk.n_pos)
    precision = inter / (n_pred + EPS)
    recall = inter / (n_gt + EPS)
    f1 = 2 * precision * recall / (precision + recall + EPS)
    union = n_pred + n_gt - inter
    return f1, recall, inter / (union + EPS)


def threshold_metrics(walk: PixelWalk) -> Metrics:
    """Means of F1_t, Acc_t, IoU_t over t = .2, .3, ..., .8 and the max of IoU_t over
    t = 0, .05, ..., 1 (numpy.arange as docs/metrics.md writes them)."""
    f1, acc, iou = threshold_curves(walk, THRESHOLDS_20_80)
    iou_all = threshold_curves(walk, THRESHOLDS_MAX)[2]
    return {
        "f1_p_20_80": float(np.mean(f1)),
        "acc_p_20_80": float(np.mean(acc)),
        "iou_p_20_80": float(np.mean(iou)),
        "iou_max_p": float(np.max(iou_all)),
    }


def ader_f1max_p(walk: PixelWalk) -> float:
    """ADer's mF1_max_px: max of F1_t over the 21 thresholds t = 0, .05, ..., 1."""
    return float(np.max(threshold_curves(walk, THRESHOLDS_MAX)[0]))


def exact_pixel_metrics(walk: PixelWalk) -> Metrics:
    """Every pixel metric by the exact definitions (None where undefined)."""
    out = ranking_metrics(walk.auc2, walk.ap_sum, walk.f1, walk.n_pos, walk.n_neg, "p")
    out["aupro_p"] = (walk.pro_area / FPR_LIMIT if walk.n_pos > 0 and walk.n_neg > 0
                      else None)
    out.update(threshold_metrics(walk))
    return out
