"""Independent references for the metric tests: scikit-learn, brute-force loops, and a
plain transcription of ADer's adeval formulas (written here, not imported)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

EIGHT = np.ones((3, 3), dtype=int)


def sklearn_ranking(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """AUROC, AP, F1-max (max finite 2PR/(P+R) over precision_recall_curve)."""
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    return (roc_auc_score(labels, scores), average_precision_score(labels, scores),
            float(np.max(f1[np.isfinite(f1)])))


def brute_aupro(maps: np.ndarray, masks: np.ndarray, limit: float = 0.3) -> float:
    """A threshold loop: FPR and PRO recomputed from scratch at every distinct score."""
    regions = []
    for amap, mask in zip(maps, masks, strict=True):
        labels, n = ndimage.label(mask != 0, structure=EIGHT)
        regions += [amap[labels == r] for r in range(1, n + 1)]
    normal = maps[masks == 0]
    xs, ys = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
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


def adeval_transcription(maps: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """adeval's EvalAccumulator with nstrips=50 as METRICS.md describes it: np.histogram
    over float32 edges [-inf, min..max (51), inf], per-region 1/area weights, np.trapz
    (written out), AUPRO by the lo / hi / total-area split with linear interpolation."""
    lo, hi = float(maps.min()), float(maps.max())
    edges = np.linspace(0.0, 1.0, 51, dtype=np.float32) * (hi - lo) + lo
    bins = np.concatenate([[-np.inf], edges, [np.inf]]).astype(np.float32)
    weights = np.zeros(maps.shape)
    for i, mask in enumerate(masks):
        labels, n = ndimage.label(mask != 0, structure=EIGHT)
        for r in range(1, n + 1):
            weights[i][labels == r] = 1.0 / np.count_nonzero(labels == r)
    gt = masks != 0
    pos = np.histogram(maps[gt], bins)[0].astype(float)
    neg = np.histogram(maps[~gt], bins)[0].astype(float)
    wpos = np.histogram(maps[gt], bins, weights=weights[gt])[0]

    def curve(h: np.ndarray) -> np.ndarray:
        c = np.cumsum(h)
        return c[-1] - c[:-1]

    tp, fp, wtp = curve(pos), curve(neg), curve(wpos)
    tpr, fpr, pro = tp / pos.sum(), fp / neg.sum(), wtp / wpos.sum()
    prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)

    def trapz(y: np.ndarray, x: np.ndarray) -> float:
        return float(sum((x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2 for i in range(len(x) - 1)))

    low = fpr <= 0.3
    lo_pro, lo_fpr = pro[low][::-1], fpr[low][::-1]
    hi_pro, hi_fpr = pro[~low][::-1], fpr[~low][::-1]
    out = {"auroc_p": trapz(tpr[::-1], fpr[::-1]), "ap_p": trapz(prec[::-1], tpr[::-1])}
    if not low.any() or low.all():  # adeval fails here (no point on one side of .3)
        return {**out, "aupro_p": float("nan")}
    gap = trapz(pro[::-1], fpr[::-1]) - trapz(lo_pro, lo_fpr) - trapz(hi_pro, hi_fpr)
    frac = (0.3 - lo_fpr[-1]) / (hi_fpr[0] - lo_fpr[-1])
    y1, y2 = lo_pro[-1], hi_pro[0]
    rect = y1 / (y1 + 0.5 * (y2 - y1)) if y1 + y2 > 0 else 0.0  # adeval: 0/0 there
    partial = gap * rect * frac + gap * (1 - rect) * frac**2
    return {**out, "aupro_p": (trapz(lo_pro, lo_fpr) + partial) / 0.3}
