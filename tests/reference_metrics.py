"""Independent references for the metric tests: scikit-learn, brute-force loops, and
plain transcriptions of ADer's two evaluators (written here, not imported)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)

EIGHT = np.ones((3, 3), dtype=int)


def sklearn_ranking(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """AUROC, AP, F1-max (max finite 2PR/(P+R) over precision_recall_curve)."""
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    return (roc_auc_score(labels, scores), average_precision_score(labels, scores),
            float(np.max(f1[np.isfinite(f1)])))


def brute_aupro(maps, masks, limit: float = 0.3) -> float:
    """A threshold loop: FPR and PRO recomputed from scratch at every distinct score.
    maps / masks: (n, H, W) arrays or sequences of 2-D arrays (sizes may differ)."""
    regions, normal_parts = [], []
    for amap, mask in zip(maps, masks, strict=True):
        labels, n = ndimage.label(np.asarray(mask) != 0, structure=EIGHT)
        regions += [amap[labels == r] for r in range(1, n + 1)]
        normal_parts.append(amap[np.asarray(mask) == 0])
    normal = np.concatenate(normal_parts)
    xs, ys = [0.0], [0.0]
    for t in np.unique(np.concatenate([np.ravel(m) for m in maps]))[::-1]:
        xs.append(np.count_nonzero(normal >= t) / normal.size)
        ys.append(np.mean([np.count_nonzero(r >= t) / r.size for r in regions]))
    area = 0.0
    for i in range(len(xs) - 1):
        if xs[i] >= limit:
            break
        x2 = min(xs[i + 1], limit)
        y2 = ys[i] + (ys[i + 1] - ys[i]) * (x2 - xs[i]) / (xs[i + 1] - xs[i]) \
            if xs[i + 1] > limit else ys[i + 1]
        area += (x2 - xs[i]) * (ys[i] + y2) / 2
    return area / limit


def loop_threshold_metrics(maps: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """The InvAD paper's F1/Acc/IoU, one threshold at a time, plain numpy."""
    a = maps.astype(np.float64)
    lo, hi = a.min(), a.max()
    norm = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    gt = masks != 0
    eps = 1e-8

    def at(t: float) -> tuple[float, float, float]:
        pred = norm > t
        inter = np.logical_and(pred, gt).sum()
        union = np.logical_or(pred, gt).sum()
        p = inter / (pred.sum() + eps)
        r = inter / (gt.sum() + eps)
        return 2 * p * r / (p + r + eps), inter / (gt.sum() + eps), inter / (union + eps)

    mid = np.array([at(t) for t in np.arange(0.2, 0.8 + 1e-3, 0.1)])
    full = np.array([at(t) for t in np.arange(0.0, 1.0 + 1e-3, 0.05)])
    return {"f1_p_20_80": mid[:, 0].mean(), "acc_p_20_80": mid[:, 1].mean(),
            "iou_p_20_80": mid[:, 2].mean(), "iou_max_p": full[:, 2].max(),
            "ader_f1max_p": full[:, 0].max()}


def _region_weights(masks: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per pixel 1/area of its 8-connected region (0 for normal pixels), and the regions
    as boolean masks of the flattened class, image by image (scipy's labelling)."""
    weights = np.zeros(masks.shape)
    regions = []
    for i, mask in enumerate(masks):
        labels, n = ndimage.label(mask != 0, structure=EIGHT)
        for r in range(1, n + 1):
            inside = labels == r
            weights[i][inside] = 1.0 / np.count_nonzero(inside)
            region = np.zeros(masks.shape, dtype=bool)
            region[i] = inside
            regions.append(region.ravel())
    return weights, regions


def _trapz(y: np.ndarray, x: np.ndarray) -> float:
    """numpy.trapz as NumPy 1.x wrote it."""
    return float(np.add.reduce(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def adeval_transcription(maps: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """adeval's EvalAccumulatorCuda with nstrips=50 as METRICS.md describes it, pixel by
    pixel: torch.histc's bin trunc(((x - lo) * 50) / (hi - lo)) in the maps' own float
    type (50 -> 49), an underflow bin (x < lo) and an overflow bin (x >= hi) that counts
    the maximum a second time; 1/area weights; cumulative sums from the top; written-out
    trapz; AUPRO by adeval's lo / hi / total split with its interpolation (0/0 -> 0, and
    0 when no operating point has FPR <= 0.3)."""
    dtype = maps.dtype.type
    flat = maps.ravel()
    lo, hi = flat.min(), flat.max()
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = ((flat - lo) * dtype(50)) / (hi - lo)  # array arithmetic in the maps' type
    bins = np.where(np.isfinite(scaled), np.minimum(np.trunc(scaled), 50), 50).astype(int)
    bins[bins == 50] = 49
    weights, _ = _region_weights(masks)
    weights = weights.ravel()
    gt = masks.ravel() != 0
    stats = []
    for select, weight in ((~gt, None), (gt, None), (gt, weights)):
        w = np.ones(flat.shape) if weight is None else weight
        stat = np.zeros(52)
        np.add.at(stat, 1 + bins[select], w[select])
        stat[0] = w[select & (flat < lo)].sum()
        stat[51] = w[select & (flat >= hi)].sum()
        stats.append(stat)

    def from_top(stat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cum = np.cumsum(stat)
        return cum[-1] - cum[:-1], cum[:-1]

    fp, tn = from_top(stats[0])
    tp, fn = from_top(stats[1])
    wtp, wfn = from_top(stats[2])
    tpr, fpr, pro = tp / (tp + fn), fp / (fp + tn), wtp / (wtp + wfn)
    prec = np.ones_like(tp)
    prec[tp + fp > 0] = tp[tp + fp > 0] / (tp + fp)[tp + fp > 0]
    out = {"auroc_p": _trapz(tpr[::-1], fpr[::-1]), "ap_p": _trapz(prec[::-1], tpr[::-1])}
    low = fpr <= 0.3
    if not low.any():
        return {**out, "aupro_p": 0.0}
    lo_pro, lo_fpr = pro[low][::-1], fpr[low][::-1]
    hi_pro, hi_fpr = pro[~low][::-1], fpr[~low][::-1]
    lo_area, hi_area = _trapz(lo_pro, lo_fpr), _trapz(hi_pro, hi_fpr)
    gap = _trapz(pro[::-1], fpr[::-1]) - (lo_area + hi_area)
    frac = (0.3 - lo_fpr[-1]) / (hi_fpr[0] - lo_fpr[-1])
    y1, y2 = lo_pro[-1], hi_pro[0]
    if y1 + 0.5 * (y2 - y1) == 0:  # adeval: 0/0 there
        return {**out, "aupro_p": lo_area / 0.3}
    rect = y1 / (y1 + 0.5 * (y2 - y1))
    partial = gap * rect * frac + gap * (1 - rect) * frac * frac
    return {**out, "aupro_p": (lo_area + partial) / 0.3}


def ader_paper_transcription(maps: np.ndarray, masks: np.ndarray) -> float:
    """ADer's April 2024 AUPRO as NumPy 1.x ran it: thresholds numpy.arange(min, max,
    step) with step = (max - min) / 100 (difference in the maps' type, division in
    float64), map > th compared in the maps' type, PRO = mean over 8-connected regions of
    the predicted share, FPR over normal pixels, points with FPR < 0.3 rescaled to [0, 1],
    sklearn.metrics.auc. NaN where ADer gives NaN or fails."""
    from sklearn.metrics import auc

    dtype = maps.dtype.type
    lo, hi = maps.min(), maps.max()
    thresholds = np.arange(lo, hi, np.float64(hi - lo) / 100)
    _, regions = _region_weights(masks)
    normal = masks.ravel() == 0
    flat = maps.ravel()
    pros, fprs = [], []
    for th in thresholds:
        predicted = flat > dtype(th)
        pros.append(np.mean([predicted[r].sum() / r.sum() for r in regions]))
        fprs.append(np.logical_and(normal, predicted).sum() / normal.sum())
    pro, fpr = np.array(pros), np.array(fprs)
    keep = fpr < 0.3
    fpr, pro = fpr[keep], pro[keep]
    if len(fpr) < 2 or fpr.max() == fpr.min():
        return float("nan")
    return float(auc((fpr - fpr.min()) / (fpr.max() - fpr.min()), pro))
