"""95% bootstrap intervals of the image-level metrics (AUROC, AP, F1-max), resampling images.

Resample b draws n images with replacement: `rng.integers(0, n, n)` with
`rng = numpy.random.default_rng(seed)`, one draw per resample in order. Drawing image i
c_i times is the same as weighting it by c_i, so every resample's metrics come from
weighted counts at the distinct scores (sorted once), all resamples at once:

- TP(v), FP(v) = weight of anomalous / normal images with score >= v; P, N the totals
- AUROC = sum_v neg(v) * (2 TP_above(v) + pos(v)) / (2 P N)     (ties count one half)
- AP    = sum_v pos(v) * TP(v) / (TP(v) + FP(v)) / P            (step-wise, sklearn's)
- F1-max = max_v 2 TP(v) / (TP(v) + FP(v) + P)

exactly the formulas of docs/metrics.md. A resample without an anomalous image (or, for
AUROC, without a normal one) has that metric undefined and is left out. The interval is
the 2.5th and 97.5th percentile (numpy's linear interpolation) of the defined values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from metrics.keys import RANKING_IMAGE_KEYS

IMAGE_KEYS = RANKING_IMAGE_KEYS
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LEVEL = 0.95
CHUNK = 64  # resamples weighted at once: memory CHUNK x n images


@dataclass(frozen=True)
class Interval:
    """A percentile interval and how many resamples had the metric defined."""

    low: float
    high: float
    resamples: int


def resample_counts(n: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The (n_resamples, n) multiplicities, CHUNK rows at a time: row b counts the images
    resample b drew. One rng draws the resamples in order, so the rows are the same
    whatever the chunking; only one chunk is held at a time."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, CHUNK):
        counts = np.empty((min(CHUNK, n_resamples - start), n), dtype=np.int64)
        for row in counts:
            row[:] = np.bincount(rng.integers(0, n, n), minlength=n)
        yield counts


def weighted_image_metrics(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray,
                           keys: Collection[str] = IMAGE_KEYS) -> dict[str, np.ndarray]:
    """AUROC, AP and F1-max (those of IMAGE_KEYS in `keys`, only those computed) of each
    weighting (rows of `weights`, one weight per image); NaN where undefined (formulas
    in the module docstring)."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    w = weights[:, order].astype(np.float64)
    is_pos = labels[order].astype(bool)
    pos = np.add.reduceat(np.where(is_pos, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(is_pos, 0.0, w), starts, axis=1)
    tp = np.cumsum(pos, axis=1)
    fp = np.cumsum(neg, axis=1)
    n_pos, n_neg = tp[:, -1], fp[:, -1]
    has_pos = n_pos > 0
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        if "auroc_i" in keys:
            auroc = (neg * (2.0 * (tp - pos) + pos)).sum(axis=1) / (2.0 * n_pos * n_neg)
            out["auroc_i"] = np.where(has_pos & (n_neg > 0), auroc, np.nan)
        if "ap_i" in keys:
            precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            ap = (pos * precision).sum(axis=1) / n_pos
            out["ap_i"] = np.where(has_pos, ap, np.nan)
        if "f1max_i" in keys:
            f1 = np.where(tp + fp > 0, 2.0 * tp / (tp + fp + n_pos[:, None]),
                          -np.inf).max(axis=1)
            out["f1max_i"] = np.where(has_pos, f1, np.nan)
    return out


def resampled_image_metrics(scores: Sequence[float] | np.ndarray,
                            labels: Sequence[bool] | np.ndarray,
                            n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                            keys: Collection[str] = IMAGE_KEYS) -> dict[str, np.ndarray]:
    """Each image metric (of those in `keys`) on each bootstrap resample (NaN where
    undefined)."""
    keys = [key for key in IMAGE_KEYS if key in keys]
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    n = scores.shape[0]
    if n == 0:
        return {key: np.full(n_resamples, np.nan) for key in keys}
    parts = [weighted_image_metrics(scores, labels, counts, keys)
             for counts in resample_counts(n, n_resamples, seed)]
    return {key: np.concatenate([part[key] for part in parts]) for key in keys}


def interval(values: np.ndarray, level: float = LEVEL) -> Interval | None:
    """The central `level` percentile interval of the defined (non-NaN) values."""
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return None
    tail = 100.0 * (1.0 - level) / 2.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return Interval(float(low), float(high), int(defined.size))


def intervals(resampled: Mapping[str, np.ndarray], level: float = LEVEL,
              ) -> dict[str, Interval | None]:
    """`interval` of each metric's resampled values."""
    return {key: interval(values, level) for key, values in resampled.items()}


def mean_intervals(points: Sequence[Mapping[str, float | None]],
                   resampled: Sequence[Mapping[str, np.ndarray]], level: float = LEVEL,
                   ) -> dict[str, Interval | None]:
    """Intervals of the mean over classes (the `mean` row): per resample, the mean of the
    values of the classes whose point value is defined (classes resampled independently);
    a resample where one of those classes has the metric undefined is left out."""
    out: dict[str, Interval | None] = {}
    for key in IMAGE_KEYS:
        rows = [values[key] for point, values in zip(points, resampled, strict=True)
                if point[key] is not None]
        out[key] = interval(np.mean(rows, axis=0), level) if rows else None
    return out
