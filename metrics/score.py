"""`score`: the whole metric suite for one class, from arrays."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from metrics.aggregates import with_aggregates
from metrics.errors import ScoreInputError
from metrics.formulas import CUTS, Metrics, pixel_metrics, ranking_metrics
from metrics.keys import COMPAT_DEFINITIONS, METRIC_KEYS
from metrics.pixels import pixel_weights, walk_float32, walk_generic

COMPAT_CHOICES = tuple(COMPAT_DEFINITIONS)


class NonFiniteMapError(ScoreInputError):
    """A map holds NaN or inf; `index` is the image's position in the class."""

    def __init__(self, index: int) -> None:
        super().__init__(f"map {index} holds NaN or infinite values")
        self.index = index


def map_dtype(dtype: np.dtype) -> type[np.floating]:
    """The float type a map is scored in: float32 where that is exact (float32/16,
    8/16-bit ints, bools), float64 otherwise."""
    exact32 = (dtype.kind == "f" and dtype.itemsize <= 4) or (
        dtype.kind in "iub" and dtype.itemsize <= 2)
    return np.float32 if exact32 else np.float64


def as_map_stack(maps: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack maps into (n, H, W): float32 where that is exact (float32/16, 8/16-bit ints),
    float64 otherwise. Never copies a float32 C-contiguous (n, H, W) array."""
    if isinstance(maps, np.ndarray) and maps.ndim == 3:
        stack = maps
    else:
        if len(maps) == 0:
            raise ScoreInputError("no maps to score")
        shapes = {np.shape(m) for m in maps}
        if len(shapes) != 1:
            raise ScoreInputError(f"maps of one class must share one size, got {sorted(shapes)}")
        stack = np.stack([np.asarray(m) for m in maps])
    if stack.ndim != 3 or stack.shape[1] * stack.shape[2] == 0:
        raise ScoreInputError(f"maps must be non-empty 2-D arrays, got shape {stack.shape[1:]}")
    return np.ascontiguousarray(stack, dtype=map_dtype(stack.dtype))


def as_mask_stack(masks: Sequence[np.ndarray] | np.ndarray, shape: tuple[int, ...],
                  ) -> np.ndarray:
    """Masks as uint8 0/1 (n, H, W); nonzero = anomalous. Shape must equal the maps'."""
    if (isinstance(masks, np.ndarray) and masks.dtype == np.uint8 and masks.shape == shape
            and masks.max(initial=0) <= 1):
        return np.ascontiguousarray(masks)
    shapes = {np.shape(m) for m in masks}
    stack = np.stack([np.asarray(m) != 0 for m in masks]) if len(shapes) == 1 else None
    if stack is None or stack.shape != shape:
        got = None if stack is None else stack.shape
        raise ScoreInputError(f"masks of shape {got} do not match maps of shape {shape}")
    return stack.view(np.uint8)


def score(maps: Sequence[np.ndarray] | np.ndarray, masks: Sequence[np.ndarray] | np.ndarray,
          image_scores: Sequence[float] | np.ndarray | None = None,
          compat: str | None = None) -> Metrics:
    """Every metric of docs/metrics.md for one class (keys `METRIC_KEYS`, None if undefined).

    maps: n anomaly maps H x W (a sequence or an (n, H, W) array, finite values);
    masks: n masks of the same size, nonzero = anomalous; image_scores: n scores used
    instead of the maps' maxima; compat: None (exact definitions) or "ader" (ADer's
    binned pixel AUROC / AP / AUPRO and 21-threshold F1-max, see `metrics.compat`).
    Image label y_i = any(mask_i), image score s_i = max(map_i); pixel metrics pool all
    pixels of the class. Formulas: `metrics.formulas`.
    """
    if compat not in COMPAT_CHOICES:
        raise ScoreInputError(f"unknown compat mode {compat!r} (choose 'ader')")
    stack = as_map_stack(maps)
    mask_stack = as_mask_stack(masks, stack.shape)
    return score_stacks(stack, mask_stack, image_scores, compat)


def score_stacks(maps: np.ndarray, masks: np.ndarray, image_scores: np.ndarray | None,
                 compat: str | None) -> Metrics:
    """`score` on already validated stacks (float32/float64 maps, uint8 0/1 masks)."""
    if maps.dtype == np.float32:
        walked = walk_float32(maps, masks, CUTS)
        if isinstance(walked, int):
            raise NonFiniteMapError(walked)
        acc, image_max, (n_pos, n_neg, _) = walked
    else:
        finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
        if not finite.all():
            raise NonFiniteMapError(int(np.argmin(finite)))
        weights, regions = pixel_weights(masks)
        acc, (n_pos, n_neg, _) = walk_generic(maps, masks, weights, regions, CUTS)
        del weights
        image_max = maps.reshape(len(maps), -1).max(axis=1).astype(np.float64)
    labels = masks.reshape(len(masks), -1).any(axis=1)
    scores = image_max if image_scores is None else np.asarray(image_scores, np.float64)
    if scores.shape != labels.shape:
        raise ScoreInputError(f"{scores.shape[0]} image scores for {labels.shape[0]} maps")
    if not np.isfinite(scores).all():
        raise ScoreInputError("image scores hold NaN or infinite values")
    image_acc, (img_pos, img_neg, _) = walk_generic(scores, labels, np.zeros(len(labels)),
                                                    0, CUTS)
    out = ranking_metrics(image_acc, img_pos, img_neg, "i")
    out.update(pixel_metrics(acc, n_pos, n_neg, acc["span"] == 0, compat))
    if img_pos == 0 or img_neg == 0 or n_neg == 0:
        warnings.warn("class has no anomalous or no normal image: some metrics are null",
                      stacklevel=2)
    out = with_aggregates(out)
    return {key: out[key] for key in METRIC_KEYS}
