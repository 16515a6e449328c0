"""`score_folders`: score a PREDS tree against a GTS tree, class by class, plus the means."""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import cast

import numpy as np

from metrics.errors import ScoreInputError, UndefinedMetricWarning
from metrics.folders import ClassItems, pairs_from_folders, pairs_from_meta
from metrics.keys import (
    COMPAT_DEFINITIONS,
    METRIC_KEYS,
    ClassCounts,
    ClassMetrics,
    ScoreResult,
    check_compat,
)
from metrics.loading import feed_class
from metrics.pairs import check_pair_options
from metrics.scorer import Scorer


def read_image_scores(path: Path) -> dict[str, float]:
    """A CSV with columns `path` (map path relative to PREDS, extension optional) and
    `score`."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if not {"path", "score"} <= set(reader.fieldnames or ()):
                raise ScoreInputError(f"{path}: image scores need the header path,score "
                                      f"(found {','.join(reader.fieldnames or ()) or 'none'})")
            rows = list(reader)
    except OSError as error:
        raise ScoreInputError(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise ScoreInputError(f"{path}: not a CSV file ({error})") from None
    try:
        scores = {str(Path(row["path"]).with_suffix("")): float(row["score"]) for row in rows}
    except (ValueError, TypeError) as error:
        raise ScoreInputError(f"{path}: image scores need columns path,score "
                              f"({error})") from None
    if not all(np.isfinite(list(scores.values()))):
        raise ScoreInputError(f"{path}: image scores hold NaN or infinite values")
    return scores


def _class_image_scores(items: ClassItems, scores: Mapping[str, float] | None,
                        source: str) -> np.ndarray | None:
    if scores is None:
        return None
    missing = [key for key in items.keys if key not in scores]
    if missing:
        raise ScoreInputError(f"{source}: no score for {missing[0]} "
                              f"({len(missing)} maps of class {items.name} missing)")
    return np.array([scores[key] for key in items.keys], dtype=np.float64)


def mean_over_classes(classes: Mapping[str, Mapping[str, object]],
                      ) -> dict[str, float | None]:
    """Unweighted mean over classes per metric, undefined (None) values left out
    (None if every class's value is undefined)."""
    mean: dict[str, float | None] = {}
    left_out = set()
    for key in METRIC_KEYS:
        values = [cast(float, m[key]) for m in classes.values() if m[key] is not None]
        mean[key] = float(np.mean(values)) if values else None
        left_out |= {name for name, m in classes.items() if m[key] is None}
    if left_out:
        warnings.warn(f"undefined values of class(es) {', '.join(sorted(left_out))} left out "
                      "of the mean", UndefinedMetricWarning, stacklevel=2)
    return mean


def score_folders(preds: Path | str, gts: Path | str, meta: Path | str | None = None,
                  image_scores: Path | str | Mapping[str, float] | None = None,
                  compat: str | None = None, workers: int | None = None,
                  progress: bool = False, resize: str = "none",
                  mask_threshold: float | None = None, max_memory: float | None = 4.0,
                  tmp: Path | str | None = None) -> ScoreResult:
    """Score every class of PREDS against GTS (the layout `adbench score --json` writes).

    Returns {"classes": {cls: {metric: value}}, "mean": {metric: value},
    "counts": {cls: {"normal": n, "anomalous": n}}, "definition": "adbench-1" | "ader" |
    "ader-paper", "resize": resize}, values in [0, 1] or None. Per class: a
    `metrics.Scorer` fed file by file (formulas in `metrics.formulas`, `metrics.compat`);
    mean: the unweighted mean over classes of the defined values. image_scores: a CSV
    path (columns path,score) or a mapping from the map's path relative to PREDS without
    extension to its score. resize ("none", "masks", "maps") and mask_threshold (None:
    nonzero is anomalous; T: values > T): `metrics.pairs`. max_memory: GiB the scoring
    may hold (None: no bound), spilling to `tmp` beyond (docs/metrics.md, "The engine").
    """
    return score_folders_by_definition(
        preds, gts, (compat,), meta=meta, image_scores=image_scores, workers=workers,
        progress=progress, resize=resize, mask_threshold=mask_threshold,
        max_memory=max_memory, tmp=tmp)[0]


def score_folders_by_definition(
        preds: Path | str, gts: Path | str, compats: Sequence[str | None],
        meta: Path | str | None = None,
        image_scores: Path | str | Mapping[str, float] | None = None,
        workers: int | None = None, progress: bool = False, resize: str = "none",
        mask_threshold: float | None = None, max_memory: float | None = 4.0,
        tmp: Path | str | None = None) -> list[ScoreResult]:
    """`score_folders` once per definition in `compats`, reading every file once: each
    class's pairs feed one Scorer per definition, which share `max_memory`. The results
    are those of separate `score_folders` calls (a Scorer's result does not depend on
    its memory bound)."""
    for compat in compats:
        check_compat(compat)
    check_pair_options(resize, mask_threshold)
    preds, gts = Path(preds), Path(gts)
    groups = (pairs_from_meta(preds, gts, Path(meta)) if meta is not None
              else pairs_from_folders(preds, gts))
    source = "image scores"
    if isinstance(image_scores, (str, Path)):
        source = str(image_scores)
        image_scores = read_image_scores(Path(image_scores))
    workers = workers or default_workers()
    share = None if max_memory is None else max_memory / len(compats)
    classes: list[dict[str, ClassMetrics]] = [{} for _ in compats]
    counts: dict[str, ClassCounts] = {}
    for items in sorted(groups, key=lambda g: g.name):
        scores = _class_image_scores(items, image_scores, source)
        with ExitStack() as stack:
            scorers = [stack.enter_context(Scorer(compat=compat, max_memory=share, tmp=tmp))
                       for compat in compats]
            feed_class(scorers, items, scores, workers, progress, resize, mask_threshold)
            for found, scorer in zip(classes, scorers, strict=True):
                found[items.name], counts[items.name] = compute_class(scorer, items.name)
    return [{"classes": found, "mean": mean_over_classes(found), "counts": counts,
             "definition": COMPAT_DEFINITIONS[compat], "resize": resize}
            for found, compat in zip(classes, compats, strict=True)]


def default_workers() -> int:
    """Threads reading files: twice the cores (reads wait on the disk), at most 8."""
    return min(8, (os.cpu_count() or 1) * 2)


def compute_class(scorer: Scorer, name: str) -> tuple[ClassMetrics, ClassCounts]:
    """A class's metrics (`Scorer.compute`, its warnings re-issued naming the class) and
    its counts {"normal": n, "anomalous": n}."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = scorer.compute()
    for warning in caught:
        warnings.warn(f"class {name}: {warning.message}", warning.category, stacklevel=3)
    return result, {"normal": scorer.n_images - scorer.n_anomalous,
                    "anomalous": scorer.n_anomalous}
