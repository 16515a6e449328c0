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
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from adbench.report.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    intervals,
    resampled_image_metrics,
)
from adbench.report.categories import CategoryBreakdown, CategoryResult
from adbench.report.memory import Memory
from adbench.report.sources import FoldCategories, ReportClass, ReportImage
from metrics import ClassCurves, ScoreInputError, Scorer, load_pair, read_ahead
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
               ) -> Generator[tuple[int, np.ndarray, np.ndarray, bool], None, None]:
    """(index, map, mask, multi-valued mask) of each image in order, read ahead on
    `reading.workers` threads (`metrics.read_ahead`, as `adbench score` reads)."""
    pairs = read_ahead(lambda i: reading.load(images[i]), len(images), reading.workers,
                       progress, label)
    with closing(pairs):
        for index, (amap, mask, multi_valued) in pairs:
            yield index, amap, mask, multi_valued


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


@dataclass
class _FirstRead:
    """What one read of a class leaves besides the scorers' data: the image scores and
    labels (`Scorer.image_scores`), the map values' range, the first multi-valued mask."""

    scores: np.ndarray
    labels: np.ndarray
    low: float
    high: float
    multi_valued: list[str]


def _read_class(cls: ReportClass, reading: Reading, scorer: Scorer,
                breakdown: CategoryBreakdown | None, progress: bool) -> _FirstRead:
    """Feed every image of the class to the scorers."""
    multi_valued: list[str] = []
    with closing(read_pairs(cls.images, reading, progress, cls.name)) as pairs:
        for i, amap, mask, multi in pairs:
            image = cls.images[i]
            if multi and not multi_valued:
                multi_valued.append(multi_valued_message(cls.name, image.mask_path or Path()))
            given = None if cls.image_scores is None else float(cls.image_scores[i])
            try:
                scorer.add_image(amap, mask, given)
            except ScoreInputError as error:
                raise ScoreInputError(f"{image.map_path}: {error}") from None
            if breakdown is not None:
                breakdown.add(i, amap, mask, given, image.category_ids)
    scores, labels = scorer.image_scores()
    return _FirstRead(scores, labels, *scorer.value_range, multi_valued)


def _category_results(cls: ReportClass, breakdown: CategoryBreakdown, seen: _FirstRead,
                      threshold: float | None, reading: Reading, n_resamples: int,
                      seed: int, progress: bool) -> list[CategoryResult]:
    """Read the images that have categories and anomalous pixels again (pixel recall at
    `threshold`, the class's pixel F1-max threshold), then score every category."""
    if threshold is not None:
        chosen = [image for i, image in enumerate(cls.images)
                  if image.category_ids and seen.labels[i]]
        with closing(read_pairs(chosen, reading, progress,
                                f"{cls.name} (categories)")) as pairs:
            for i, amap, mask, _ in pairs:
                breakdown.add_recall(amap, mask, chosen[i].category_ids, threshold)
    return breakdown.results(seen.scores, seen.labels, n_resamples, seed)


def analyse_class(cls: ReportClass, categories: FoldCategories | None,
                  reading: Reading | None = None, memory: Memory | None = None,
                  examples: int = 6, n_resamples: int = DEFAULT_RESAMPLES,
                  seed: int = DEFAULT_SEED, progress: bool = False) -> ClassAnalysis:
    """Score one class for the report (see the module docstring). `memory` bounds all
    its scorers together: half for the class, half for the per-category ones (all of it
    for the class when there are none)."""
    reading = reading or Reading()
    memory = memory or Memory()
    breakdown = CategoryBreakdown(categories, memory.share(0.5)) if categories else None
    per_category = None
    try:
        with memory.share(0.5 if breakdown else 1.0).scorer() as scorer:
            seen = _read_class(cls, reading, scorer, breakdown, progress)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                metrics = cast("dict[str, float | None]", dict(scorer.compute()))
                curves = scorer.curves(CURVE_RESOLUTION, bins=HISTOGRAM_BINS)
        if breakdown is not None:
            per_category = _category_results(cls, breakdown, seen, curves.pixel_f1_threshold,
                                             reading, n_resamples, seed, progress)
    finally:
        if breakdown is not None:
            breakdown.close()
    resampled = resampled_image_metrics(seen.scores, seen.labels, n_resamples, seed)
    fp, fn = worst_examples(seen.scores, seen.labels, curves.image_f1_threshold, examples)
    notes = seen.multi_valued + sorted({f"class {cls.name}: {w.message}" for w in caught})
    return ClassAnalysis(cls.name, cls.images, metrics, curves, seen.scores, seen.labels,
                         resampled, intervals(resampled), (seen.low, seen.high), fp, fn,
                         per_category, notes)
