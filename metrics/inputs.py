"""User inputs to numpy: maps, masks and image scores from arrays, tensors or DLPack.

Maps and masks may be a (B, H, W) array (or (B, 1, H, W)) or a sequence of 2-D arrays
(or (1, H, W)) of possibly different sizes: numpy arrays, anything with `__array__` or
`__dlpack__`, or torch tensors on any device and of any float type, moved to the CPU by
duck typing (`.detach().cpu()`), so `metrics` never imports torch. Maps keep their values
exactly: float32 where that is exact (float32, float16, bfloat16, 8/16-bit integers,
bools), float64 otherwise. Masks: nonzero = anomalous.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from metrics.errors import ScoreInputError
from metrics.fixedpoint import MAX_AREA


def map_dtype(dtype: np.dtype) -> type[np.floating]:
    """The float type a map is scored in: float32 where that is exact (float32/16,
    8/16-bit ints, bools), float64 otherwise."""
    exact32 = (dtype.kind == "f" and dtype.itemsize <= 4) or (
        dtype.kind in "iub" and dtype.itemsize <= 2)
    return np.float32 if exact32 else np.float64


def to_numpy(value: Any) -> np.ndarray:
    """A CPU numpy array of `value` (numpy, torch on any device, DLPack, __array__)."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16; exact in float32
            tensor = tensor.float()
        return tensor.numpy()
    if hasattr(value, "__dlpack__"):
        try:
            return np.from_dlpack(value)
        except (BufferError, RuntimeError, TypeError, ValueError):
            try:
                return np.from_dlpack(value, device="cpu", copy=True)
            except (BufferError, RuntimeError, TypeError, ValueError):
                pass
    return np.asarray(value)


def _items(values: Any, what: str) -> list[np.ndarray]:
    """The 2-D items of a batch: rows of a 3-D / (B, 1, H, W) array, else the sequence."""
    is_array = hasattr(values, "shape") and hasattr(values, "dtype")
    if is_array:
        array = to_numpy(values)
        if array.ndim == 4 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 3:
            raise ScoreInputError(f"{what} must be a (B, H, W) array or a sequence of 2-D "
                                  f"arrays, got an array of shape {array.shape}")
        return list(array)
    if not isinstance(values, Sequence):
        raise ScoreInputError(f"{what} must be a (B, H, W) array or a sequence of 2-D arrays")
    items = []
    for i, item in enumerate(values):
        array = to_numpy(item)
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 2:
            raise ScoreInputError(f"{what[:-1]} {i} must be 2-D, got shape {array.shape}")
        items.append(array)
    return items


def as_map(array: np.ndarray, index: int) -> np.ndarray:
    """A 2-D map as a C-contiguous float32 (where exact) or float64 array."""
    if array.dtype.kind not in "fiub":
        raise ScoreInputError(f"map {index} has non-numeric dtype {array.dtype}")
    if array.size == 0:
        raise ScoreInputError(f"map {index} is empty (shape {array.shape})")
    if array.size > MAX_AREA:
        raise ScoreInputError(f"map {index} has {array.size} pixels (at most 2**31)")
    return np.ascontiguousarray(array, dtype=map_dtype(array.dtype))


def as_mask(array: np.ndarray) -> np.ndarray:
    """A 2-D mask as C-contiguous bool (nonzero = anomalous)."""
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array)
    return np.ascontiguousarray(array != 0)


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape as error messages write it: 640x480."""
    return "x".join(map(str, shape))


def as_pairs(maps: Any, masks: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batch's (map, mask) pairs, each mask the size of its map."""
    map_items = _items(maps, "maps")
    mask_items = _items(masks, "masks")
    if len(map_items) != len(mask_items):
        raise ScoreInputError(f"{len(map_items)} maps but {len(mask_items)} masks")
    pairs = []
    for i, (amap, mask) in enumerate(zip(map_items, mask_items, strict=True)):
        if amap.shape != mask.shape:
            raise ScoreInputError(f"map {i} is {shape_text(amap.shape)} but its mask is "
                                  f"{shape_text(mask.shape)}")
        pairs.append((as_map(amap, i), as_mask(mask)))
    return pairs


def as_image_scores(scores: Any, count: int) -> np.ndarray | None:
    """User image scores as float64 (one per image, finite), or None."""
    if scores is None:
        return None
    values = np.asarray(to_numpy(scores) if hasattr(scores, "shape") else scores,
                        dtype=np.float64).reshape(-1)
    if values.shape[0] != count:
        raise ScoreInputError(f"{values.shape[0]} image scores for {count} maps")
    if not np.isfinite(values).all():
        raise ScoreInputError("image scores hold NaN or infinite values")
    return values
