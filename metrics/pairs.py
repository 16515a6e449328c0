"""One image of a class as the scorer needs it: its map and its boolean mask, one size.

`load_pair` is the single per-image call of the folder scorer: it reads the map and the
mask, applies the mask rule (nonzero, or > `mask_threshold`) and the evaluation-size
switch `resize` ("none": the sizes must match; "masks": the mask is brought to the
map's size; "maps": the map to the mask's). See docs/metrics.md, "Inputs and bad input".
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import NamedTuple

import numpy as np

from metrics.errors import ScoreInputError
from metrics.inputs import map_dtype, shape_text
from metrics.keys import RESIZE_CHOICES
from metrics.readers import holds_more_than_two_values, mask_from_values, read_map, read_mask_values
from metrics.resize import resize_map, resize_mask


class Pair(NamedTuple):
    """A map (float32, or float64 where needed), its mask (bool, same shape), and whether
    the mask file held more than two distinct values with no threshold given (then
    whether nonzero means anomalous is the user's call: `multi_valued_message`)."""

    map: np.ndarray
    mask: np.ndarray
    multi_valued: bool


def check_pair_options(resize: str, mask_threshold: float | None) -> None:
    """ScoreInputError for an unknown resize mode or a threshold that is not a number."""
    if resize not in RESIZE_CHOICES:
        raise ScoreInputError(f"unknown resize mode {resize!r} (choose "
                              f"{', '.join(RESIZE_CHOICES)})")
    if mask_threshold is not None and not (isinstance(mask_threshold, numbers.Real)
                                           and math.isfinite(mask_threshold)):
        raise ScoreInputError(f"mask threshold must be a finite number, got {mask_threshold!r}")


def load_pair(map_path: Path, mask_path: Path | None, resize: str = "none",
              mask_threshold: float | None = None) -> Pair:
    """Read one image's map and mask (None: a normal image, all False) at one size.

    ScoreInputError naming the file for anything unreadable, and for a map and mask of
    different sizes under resize="none".
    """
    amap = read_map(map_path)
    amap = np.asarray(amap, dtype=map_dtype(amap.dtype))
    if mask_path is None:
        return Pair(amap, np.zeros(amap.shape, dtype=bool), False)
    values = read_mask_values(mask_path)
    mask = mask_from_values(values, mask_threshold)
    if mask.shape != amap.shape:
        if resize == "masks":
            mask = resize_mask(mask, amap.shape)
        elif resize == "maps":
            amap = resize_map(amap, mask.shape)
        else:
            raise ScoreInputError(f"{map_path}: map is {shape_text(amap.shape)} but its mask "
                                  f"{mask_path} is {shape_text(mask.shape)} (choose an evaluation "
                                  "size: --resize masks or --resize maps)")
    return Pair(amap, mask,
                mask_threshold is None and holds_more_than_two_values(values))


def multi_valued_message(class_name: str, mask_path: Path) -> str:
    """The one warning of a class whose masks hold more than two distinct values."""
    return (f"class {class_name}: mask {mask_path} holds more than two distinct values "
            "(anti-aliased or soft?); every nonzero value counts as anomalous: pass "
            "--mask-threshold T (mask_threshold=T; ADEval uses 127) to count only values > T")
