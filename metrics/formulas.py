"""From the walk's counts to the metric values of docs/metrics.md (ranking, threshold, means).

Notation: P anomalous and N normal samples (pixels or images); TP(v), FP(v) = samples
with score >= v; the sums run over the distinct scores v.
"""

from __future__ import annotations

import numpy as np

from metrics.compat import ader_pixel_metrics
from metrics.curve import FPR_LIMIT

THRESHOLDS_20_80 = np.arange(0.2, 0.8 + 1e-3, 0.1)
THRESHOLDS_MAX = np.arange(0.0, 1.0 + 1e-3, 0.05)
CUTS = np.unique(np.concatenate([THRESHOLDS_20_80, THRESHOLDS_MAX]))
EPS = 1e-8

Metrics = dict[str, float | None]


def ranking_metrics(acc: dict, n_pos: int, n_neg: int, suffix: str) -> Metrics:
    """AUROC, AP and F1-max from one walk (keys `auroc_<suffix>`, `ap_...`, `f1max_...`).

    - AUROC  = sum_v neg(v) * (TP_above(v) + pos(v)/2) / (P*N)   (ties count one half)
    - AP     = sum_v pos(v)/P * TP(v)/(TP(v)+FP(v))               (step-wise, sklearn's)
    - F1-max = max_v 2*TP(v) / (TP(v) + FP(v) + P)                 (= max 2PR/(P+R))
    Undefined (None): AUROC without both labels, AP and F1-max without anomalous samples.
    """
    has_both = n_pos > 0 and n_neg > 0
    return {
        f"auroc_{suffix}": acc["auc2"] / (2.0 * n_pos * n_neg) if has_both else None,
        f"ap_{suffix}": acc["ap_sum"] / n_pos if n_pos > 0 else None,
        f"f1max_{suffix}": acc["f1max"] if n_pos > 0 else None,
    }


def aupro(acc: dict, n_pos: int, n_neg: int) -> float | None:
    """AUPRO = (1/0.3) * integral_0^0.3 PRO d FPR (trapezoid over every distinct score
    plus the origin, linear interpolation at FPR 0.3), PRO(t) = mean over regions of the
    share of the region's pixels with score >= t."""
    return acc["pro_area"] / FPR_LIMIT if n_pos > 0 and n_neg > 0 else None


def _at_cuts(cut_counts: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|pred| and |pred AND gt| at each threshold t (pred iff normalised score > t)."""
    above_pos = np.cumsum(cut_counts[1][::-1])[::-1]
    above_all = np.cumsum((cut_counts[0] + cut_counts[1])[::-1])[::-1]
    index = np.searchsorted(CUTS, thresholds) + 1
    return above_all[index].astype(np.float64), above_pos[index].astype(np.float64)


def threshold_curves(cut_counts: np.ndarray, thresholds: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F1_t, Acc_t, IoU_t of the InvAD paper at each threshold t, totals over the class:

    P = I/(|pred|+eps), R = I/(|gt|+eps), F1 = 2PR/(P+R+eps), Acc = I/(|gt|+eps),
    IoU = I/(|pred OR gt|+eps), with I = |pred AND gt| and eps = 1e-8.
    """
    n_pred, inter = _at_cuts(cut_counts, thresholds)
    n_gt = float(cut_counts[1].sum())
    precision = inter / (n_pred + EPS)
    recall = inter / (n_gt + EPS)
    f1 = 2 * precision * recall / (precision + recall + EPS)
    union = n_pred + n_gt - inter
    return f1, recall, inter / (union + EPS)


def threshold_metrics(cut_counts: np.ndarray) -> Metrics:
    """Means of F1_t, Acc_t, IoU_t over t = .2, .3, ..., .8 and the max of IoU_t over
    t = 0, .05, ..., 1 (numpy.arange as docs/metrics.md writes them)."""
    f1, acc, iou = threshold_curves(cut_counts, THRESHOLDS_20_80)
    iou_all = threshold_curves(cut_counts, THRESHOLDS_MAX)[2]
    return {
        "f1_p_20_80": float(np.mean(f1)),
        "acc_p_20_80": float(np.mean(acc)),
        "iou_p_20_80": float(np.mean(iou)),
        "iou_max_p": float(np.max(iou_all)),
    }


def ader_f1max_p(cut_counts: np.ndarray) -> float:
    """ADer's mF1_max_px: max of F1_t over the 21 thresholds t = 0, .05, ..., 1."""
    return float(np.max(threshold_curves(cut_counts, THRESHOLDS_MAX)[0]))


def pixel_metrics(acc: dict, n_pos: int, n_neg: int, constant: bool, compat: str | None,
                  ) -> Metrics:
    """All pixel-level metrics of a class (None when the class has no anomalous pixel)."""
    keys = ("auroc_p", "ap_p", "f1max_p", "aupro_p", "f1_p_20_80", "acc_p_20_80",
            "iou_p_20_80", "iou_max_p")
    if n_pos == 0:
        return dict.fromkeys(keys)
    out: Metrics = ranking_metrics(acc, n_pos, n_neg, "p")
    out["aupro_p"] = aupro(acc, n_pos, n_neg)
    out.update(threshold_metrics(acc["cut_counts"]))
    if compat == "ader":
        if constant:
            out.update(auroc_p=None, ap_p=None, aupro_p=None)
        else:
            out.update(ader_pixel_metrics(acc["edge_counts"], acc["edge_weights"]))
        out["f1max_p"] = ader_f1max_p(acc["cut_counts"])
    return out
