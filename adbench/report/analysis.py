"""Everything the page shows about one class, from one read of its maps and masks.

Each (map, mask) pair is read once, a few images ahead on a thread pool, and fed to a
`metrics.Scorer` (the class's metrics and exact curves: `compute()`, `curves()`) and, in
a COCO-AD fold, to the per-category scorers (`adbench.report.categories`). The image
scores and labels are kept (one float and one bool per image) for the bootstrap
intervals and to pick the worst false positives and negatives at the image F1-max
threshold. Only the images of a category are read a second time, for the pixel recall
at the pixel F1-max threshold, which is known once the class is scored.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
from tqdm import tqdm

from adbench.report.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    intervals,
    resampled_image_metrics,
)
from adbench.report.categories import CategoryBreakdown, CategoryResult
from adbench.report.sources import FoldCategories, ReportClass, ReportImage
from metrics import ClassCurves, ScoreInputError, Scorer
from metrics import load_pair
from metrics.pairs import multi_valued_message

CURVE_RESOLUTION = 600  # curves keep a point per cell of a 600 x 600 raster (metrics.curves)
HISTOGRAM_BINS = 60


@dataclass(frozen=True)
class Reading:
    """How the files are read: threads, and the scorer's own evaluation-size (`resize`)
    and mask (`mask_threshold`) rules, as `adbench score` takes them (`metrics.load_pair`)."""

    workers: int = 4
    resize: str = "none"
    mask_threshold: float | None = None

    def load(self, image: ReportImage) -> tuple[np.ndarray, np.ndarray, bool]:
        """The image's map and boolean mask at one size, and whether its mask file held
        more than two values."""
        pair = load_pair(image.map_path, image.mask_path, self.resize, self.mask_threshold)
        return pair.map, pair.mask, pair.multi_valued


@dataclass(frozen=True)
class ClassAnalysis:
    """One class's metrics, curves, per-image scores and labels, intervals, worst
    examples and, in a COCO-AD fold, its per-category breakdown."""

    name: str
    images: list[ReportImage]
    metrics: dict[str, float | None]
    curves: ClassCurves
    scores: np.ndarray
    labels: np.ndarray
    resampled: dict[str, np.ndarray]
    intervals: dict[str, Interval | None]
    value_range: tuple[float, float]
    false_positives: list[int]
    false_negatives: list[int]
    categories: list[CategoryResult] | None
    notes: list[str] = field(default_factory=list)


def read_pairs(images: Sequence[ReportImage], reading: Reading, progress: bool, label: str,
               ) -> Iterator[tuple[int, np.ndarray, np.ndarray, bool]]:
    """(index, map, mask, multi-valued mask) of each image in order, read `2 x workers`
    images ahead."""
    workers = reading.workers
    pending: deque[tuple[int, Future]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
            total=len(images), desc=label, unit="map", disable=not progress,
            leave=False) as bar:
        try:
            submitted = 0
            while submitted < len(images) or pending:
                while submitted < len(images) and len(pending) < 2 * workers:
                    image = images[submitted]
                    pending.append((submitted, pool.submit(reading.load, image)))
                    submitted += 1
                index, future = pending.popleft()
                amap, mask, multi_valued = future.result()
                bar.update()
                yield index, amap, mask, multi_valued
        finally:
            for _, future in pending:
                future.cancel()


def worst_examples(scores: np.ndarray, labels: np.ndarray, threshold: float | None,
                   count: int) -> tuple[list[int], list[int]]:
    """The `count` worst false positives (normal images scoring >= threshold, highest
    first) and false negatives (anomalous images scoring below it, lowest first); ties
    in image order. None threshold (no anomalous image): none of either."""
    if threshold is None:
        return [], []
    index = np.arange(scores.shape[0])
    fp = index[~labels & (scores >= threshold)]
    fn = index[labels & (scores < threshold)]
    fp = fp[np.argsort(-scores[fp], kind="stable")][:count]
    fn = fn[np.argsort(scores[fn], kind="stable")][:count]
    return fp.tolist(), fn.tolist()


def _feed(scorer: Scorer, image: ReportImage, amap: np.ndarray, mask: np.ndarray,
          score: float | None) -> None:
    try:
        scorer.add_image(amap, mask, score)
    except ScoreInputError as error:
        raise ScoreInputError(f"{image.map_path}: {error}") from None


def analyse_class(cls: ReportClass, categories: FoldCategories | None,
                  reading: Reading | None = None, max_memory: float | None = 2.0,
                  examples: int = 6,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                  progress: bool = False) -> ClassAnalysis:
    """Score one class for the report (see the module docstring)."""
    reading = reading or Reading()
    n = len(cls.images)
    multi_valued: list[str] = []
    scores = np.empty(n, dtype=np.float64)
    labels = np.zeros(n, dtype=bool)
    low, high = np.inf, -np.inf
    breakdown = CategoryBreakdown(categories, max_memory) if categories else None
    with Scorer(max_memory=max_memory) as scorer:
        try:
            for i, amap, mask, multi in read_pairs(cls.images, reading, progress, cls.name):
                if multi and not multi_valued:
                    multi_valued.append(multi_valued_message(cls.name,
                                                             cls.images[i].mask_path or Path()))
                given = None if cls.image_scores is None else float(cls.image_scores[i])
                _feed(scorer, cls.images[i], amap, mask, given)
                scores[i] = float(amap.max()) if given is None else given
                labels[i] = bool(mask.any())
                low, high = min(low, float(amap.min())), max(high, float(amap.max()))
                if breakdown is not None:
                    breakdown.add(i, amap, mask, given, cls.images[i].category_ids)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                metrics = cast("dict[str, float | None]", dict(scorer.compute()))
                curves = scorer.curves(CURVE_RESOLUTION, bins=HISTOGRAM_BINS)
            per_category = None
            if breakdown is not None:
                threshold = curves.pixel_f1_threshold
                if threshold is not None:
                    chosen = [image for i, image in enumerate(cls.images)
                              if image.category_ids and labels[i]]
                    for i, amap, mask, _ in read_pairs(chosen, reading, progress,
                                                       f"{cls.name} (categories)"):
                        breakdown.add_recall(amap, mask, chosen[i].category_ids, threshold)
                per_category = breakdown.results(scores, labels, n_resamples, seed)
        finally:
            if breakdown is not None:
                breakdown.close()
    resampled = resampled_image_metrics(scores, labels, n_resamples, seed)
    fp, fn = worst_examples(scores, labels, curves.image_f1_threshold, examples)
    notes = multi_valued + sorted({f"class {cls.name}: {w.message}" for w in caught})
    return ClassAnalysis(cls.name, cls.images, metrics, curves, scores, labels, resampled,
                         intervals(resampled), (low, high), fp, fn, per_category, notes)
