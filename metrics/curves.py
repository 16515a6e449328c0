"""Exact curves of a class for reports: ROC, PR, PRO, F1-max thresholds, histograms.

Every point kept is a point of the exact curve (the same arithmetic as scikit-learn's
roc_curve / precision_recall_curve: FPR = FP/N, TPR = recall = TP/P, precision =
TP/(TP+FP), PRO = W/R). The walk keeps a point when it lands in another cell of a
resolution x resolution raster than the point before (`metrics.walk`), plus the first
and last points and the F1-max point, so a curve has about 2 x resolution points
however many distinct scores there are. Points run from the highest threshold down.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.boundaries import histogram_edges
from metrics.engine import PixelWalk, ScoreWalk


@dataclass(frozen=True)
class Curve:
    """Points (x[i], y[i]) of a curve at threshold[i] (scores >= threshold count as
    anomalous), thresholds descending; the first point is the curve's start at +inf."""

    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray


@dataclass(frozen=True)
class Histogram:
    """Counts of normal and anomalous scores in bins edges[k] <= s < edges[k+1] (the last
    bin also holds s = edges[-1])."""

    edges: np.ndarray
    normal: np.ndarray
    anomalous: np.ndarray


@dataclass(frozen=True)
class ClassCurves:
    """One class's curves (`Scorer.curves`, `metrics.curves_of`). Curves of an undefined
    kind (no normal or no anomalous sample) are empty; thresholds then None."""

    pixel_roc: Curve  # x = FPR, y = TPR
    pixel_pr: Curve  # x = recall, y = precision
    pixel_pro: Curve  # x = FPR (up to the first point past the FPR limit), y = PRO
    image_roc: Curve
    image_pr: Curve
    pixel_f1_threshold: float | None  # the score where F1 is max (the highest of ties)
    image_f1_threshold: float | None
    pixel_histogram: Histogram
    image_histogram: Histogram


EMPTY = Curve(np.empty(0), np.empty(0), np.empty(0))


F1_CURVES = 3.0  # the F1-max point belongs to the ROC and PR curves


def _with_point(points: np.ndarray, row: np.ndarray) -> np.ndarray:
    """`points` (values descending) with `row` inserted where its value belongs (or its
    curve flags added to the row already there)."""
    same = np.flatnonzero(points[:, 0] == row[0])
    if same.size:
        points = points.copy()
        points[same[0], 4] = int(points[same[0], 4]) | int(row[4])
        return points
    at = int(np.searchsorted(-points[:, 0], -row[0]))
    return np.insert(points, at, row, axis=0)


def _for(points: np.ndarray, curve: int) -> tuple[np.ndarray, ...]:
    """Columns value, TP, FP, W of the points kept for one curve (flag bit `curve`)."""
    rows = points[(points[:, 4].astype(np.int64) & curve) != 0]
    return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]


def _curves(points: np.ndarray, n_pos: int, n_neg: int, n_regions: int, fpr_limit: float,
            ) -> tuple[Curve, Curve, Curve]:
    top = np.array([np.inf])
    if n_pos == 0 or n_neg == 0:
        roc = EMPTY
    else:
        values, tp, fp, _ = _for(points, 1)
        roc = Curve(np.concatenate(([0.0], fp / n_neg)), np.concatenate(([0.0], tp / n_pos)),
                    np.concatenate((top, values)))
    if n_pos == 0:
        pr = EMPTY
    else:
        values, tp, fp, _ = _for(points, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        pr = Curve(np.concatenate(([0.0], tp / n_pos)), np.concatenate(([1.0], precision)),
                   np.concatenate((top, values)))
    if n_pos == 0 or n_neg == 0:
        pro = EMPTY
    else:
        values, _, fp, weight = _for(points, 4)
        fpr = fp / n_neg
        keep = np.concatenate(([True], fpr[:-1] <= fpr_limit))  # through the first point past
        pro = Curve(np.concatenate(([0.0], fpr[keep])),
                    np.concatenate(([0.0], weight[keep] / n_regions)),
                    np.concatenate((top, values[keep])))
    return roc, pr, pro


def _pixel_histogram(walk: PixelWalk, edges: np.ndarray) -> Histogram:
    bins = edges.shape[0] - 1
    neg = np.zeros(bins, dtype=np.int64)
    pos = np.zeros(bins, dtype=np.int64)
    if walk.hi <= walk.lo:
        neg[0], pos[0] = walk.n_neg, walk.n_pos
        return Histogram(edges, neg, pos)
    above = [(walk.n_neg, walk.n_pos)] + [walk.at_or_above(e)[:2] for e in edges[1:-1]]
    above.append((0, 0))
    for k in range(bins):
        neg[k] = above[k][0] - above[k + 1][0]
        pos[k] = above[k][1] - above[k + 1][1]
    return Histogram(edges, neg, pos)


def _image_histogram(scores: np.ndarray, labels: np.ndarray, bins: int) -> Histogram:
    lo, hi = float(scores.min()), float(scores.max())
    edges = histogram_edges(lo, hi, bins)
    index = np.searchsorted(edges[1:-1], scores, side="right") if hi > lo else np.zeros(
        scores.shape[0], dtype=np.int64)
    return Histogram(edges, np.bincount(index[~labels], minlength=bins),
                     np.bincount(index[labels], minlength=bins))


def assemble_curves(walk: PixelWalk, edges: np.ndarray, scores: np.ndarray,
                    labels: np.ndarray, image: ScoreWalk, bins: int, fpr_limit: float,
                    ) -> ClassCurves:
    """ClassCurves from a pixel walk and an image-level walk, both with points."""
    assert walk.points is not None and image.points is not None
    points = walk.points
    if walk.n_pos > 0:
        points = _with_point(points, np.array([walk.f1_value, walk.f1_tp, walk.f1_fp,
                                               walk.f1_w, F1_CURVES]))
    pixel = _curves(points, walk.n_pos, walk.n_neg, walk.n_regions, fpr_limit)
    img_pos = int(labels.sum())
    img_neg = labels.shape[0] - img_pos
    image_points = image.points
    if img_pos > 0:
        image_points = _with_point(image_points, np.array([image.f1_value, image.f1_tp,
                                                           image.f1_fp, 0.0, F1_CURVES]))
    image_roc, image_pr, _ = _curves(image_points, img_pos, img_neg, 1, fpr_limit)
    return ClassCurves(
        pixel_roc=pixel[0], pixel_pr=pixel[1], pixel_pro=pixel[2], image_roc=image_roc,
        image_pr=image_pr,
        pixel_f1_threshold=walk.f1_value if walk.n_pos > 0 else None,
        image_f1_threshold=image.f1_value if img_pos > 0 else None,
        pixel_histogram=_pixel_histogram(walk, edges),
        image_histogram=_image_histogram(scores, labels, bins))
