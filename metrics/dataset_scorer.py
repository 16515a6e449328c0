"""`DatasetScorer`: every class of a dataset from streamed batches, without any file.

A run scores its model in memory (`adbench run-baseline --eval-every`) with the same
engine and the same result layout as `score_folders` (classes, their unweighted mean,
counts, the definition): feeding it the maps and masks that a run writes gives exactly
what `adbench score` gives on the written files. Each class streams into its own
`metrics.Scorer`, so only the sorted pixel data is held (docs/metrics.md, "Streaming").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from metrics.errors import ScoreInputError
from metrics.folder_scoring import compute_class, mean_over_classes
from metrics.inputs import to_numpy
from metrics.keys import COMPAT_DEFINITIONS, ClassCounts, ClassMetrics, ScoreResult, check_compat
from metrics.scorer import Scorer


class DatasetScorer:
    """Images of any classes, batch by batch; `compute` scores each class and averages.

    compat: as `metrics.score`; max_memory (GiB, per class) and tmp: as `metrics.Scorer`.
    """

    def __init__(self, compat: str | None = None, max_memory: float | None = None,
                 tmp: str | Path | None = None) -> None:
        check_compat(compat)
        self.compat = compat
        self.max_memory = max_memory
        self.tmp = tmp
        self._scorers: dict[str, Scorer] = {}

    def update(self, classes: Sequence[str], maps: Any, masks: Any,
               image_scores: Sequence[float] | np.ndarray | None = None) -> None:
        """Add one batch: image i of class `classes[i]` with its map and mask (and
        optionally its image score instead of the map's maximum); maps and masks as
        `Scorer.update` takes them (a batch array or tensor, or a sequence)."""
        if image_scores is not None and len(image_scores) != len(classes):
            raise ScoreInputError(f"{len(image_scores)} image scores for {len(classes)} maps")
        if hasattr(maps, "shape"):
            maps = to_numpy(maps)  # one transfer for the batch
        if hasattr(masks, "shape"):
            masks = to_numpy(masks)
        members: dict[str, list[int]] = {}
        for i, name in enumerate(classes):
            members.setdefault(name, []).append(i)
        for name, index in members.items():
            if name not in self._scorers:
                self._scorers[name] = Scorer(self.compat, self.max_memory, self.tmp)
            self._scorers[name].update(
                [maps[i] for i in index], [masks[i] for i in index],
                None if image_scores is None else [image_scores[i] for i in index])

    def compute(self) -> ScoreResult:
        """The `score_folders` layout: {"classes", "mean", "counts", "definition",
        "resize": "none"}, classes in name order."""
        if not self._scorers:
            raise ScoreInputError("no images to score")
        classes: dict[str, ClassMetrics] = {}
        counts: dict[str, ClassCounts] = {}
        for name in sorted(self._scorers):
            classes[name], counts[name] = compute_class(self._scorers[name], name)
        return {"classes": classes, "mean": mean_over_classes(classes), "counts": counts,
                "definition": COMPAT_DEFINITIONS[self.compat], "resize": "none"}
