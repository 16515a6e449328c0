"""`score` and `class_curves`: one class's metrics (or curves) from arrays in one call,
a thin wrapper of `metrics.Scorer` (one code path)."""

from __future__ import annotations

from typing import Any

from metrics.curves import ClassCurves
from metrics.formulas import FPR_LIMIT
from metrics.keys import ClassMetrics
from metrics.scorer import Scorer

__all__ = ["class_curves", "score"]


def score(maps: Any, masks: Any, image_scores: Any = None, compat: str | None = None,
          ) -> ClassMetrics:
    """Every metric of docs/metrics.md for one class (keys METRIC_KEYS, None if undefined).

    maps: n anomaly maps (an (n, H, W) array or a sequence of 2-D arrays whose sizes may
    differ; numpy, torch, DLPack), finite values; masks: the same sizes, nonzero =
    anomalous; image_scores: n scores used instead of the maps' maxima; compat: None
    (exact definitions), "ader" or "ader-paper" (ADer's evaluators, `metrics.compat`).
    """
    with Scorer(compat=compat) as scorer:
        scorer.update(maps, masks, image_scores)
        return scorer.compute()


def class_curves(maps: Any, masks: Any, image_scores: Any = None,
                 resolution: int | None = 1000, fpr_limit: float = FPR_LIMIT,
                 bins: int = 50) -> ClassCurves:
    """One class's exact curves and histograms (`Scorer.curves`) from arrays."""
    with Scorer() as scorer:
        scorer.update(maps, masks, image_scores)
        return scorer.curves(resolution, fpr_limit, bins)
