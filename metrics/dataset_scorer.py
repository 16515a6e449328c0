"""`DatasetScorer`: every class of a dataset from streamed batches, without any file.

A run scores its model in memory (`adbench run-baseline --eval-every`) with the same
engine and the same result layout as `score_folders` (classes, their unweighted mean,
counts, the definition): feeding it the maps and masks that a run writes gives exactly
what `adbench score` gives on the written files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from metrics.errors import ScoreInputError
from metrics.folder_scoring import mean_over_classes
from metrics.keys import COMPAT_DEFINITIONS
from metrics.score import score


class DatasetScorer:
    """Images of any classes, batch by batch; `compute` scores each class and averages.

    compat: as `metrics.score`. Images are held per class until `compute`.
    """

    def __init__(self, compat: str | None = None) -> None:
        if compat not in COMPAT_DEFINITIONS:
            raise ScoreInputError(f"unknown compat mode {compat!r}")
        self.compat = compat
        self._maps: dict[str, list[np.ndarray]] = {}
        self._masks: dict[str, list[np.ndarray]] = {}
        self._scores: dict[str, list[float]] = {}

    def update(self, classes: Sequence[str], maps: Any, masks: Sequence[Any],
               image_scores: Sequence[float] | None = None) -> None:
        """Add one batch: image i of class `classes[i]` with its map and mask (and
        optionally its image score instead of the map's maximum)."""
        if image_scores is not None and len(image_scores) != len(classes):
            raise ScoreInputError(f"{len(image_scores)} image scores for {len(classes)} maps")
        for i, name in enumerate(classes):
            self._maps.setdefault(name, []).append(np.asarray(maps[i]))
            self._masks.setdefault(name, []).append(np.asarray(masks[i]))
            if image_scores is not None:
                self._scores.setdefault(name, []).append(float(image_scores[i]))

    def compute(self) -> dict[str, Any]:
        """The `score_folders` layout: {"classes", "mean", "counts", "definition",
        "resize": "none"}, classes in name order."""
        if not self._maps:
            raise ScoreInputError("no images to score")
        classes: dict[str, Any] = {}
        counts: dict[str, dict[str, int]] = {}
        for name in sorted(self._maps):
            scores = self._scores.get(name)
            classes[name] = score(self._maps[name], self._masks[name], scores, self.compat)
            anomalous = sum(bool(np.any(mask)) for mask in self._masks[name])
            counts[name] = {"normal": len(self._maps[name]) - anomalous, "anomalous": anomalous}
        return {"classes": classes, "mean": mean_over_classes(classes), "counts": counts,
                "definition": COMPAT_DEFINITIONS[self.compat], "resize": "none"}
