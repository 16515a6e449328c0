"""Reading anomaly maps (.npy/.npz/.tif/.tiff/.png) and masks (.png) into arrays.

Maps keep their values exactly: nothing is clipped or resized here (float32/float16 and
8/16-bit PNGs are scored as float32, float64 as float64: `metrics.inputs.map_dtype`).
Masks become booleans by one rule (`mask_from_values`). Every file is checked before
its pixels are allocated (`metrics.npyfiles`, `metrics.images`). See docs/metrics.md.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from metrics.errors import ScoreInputError
from metrics.images import decode_image
from metrics.npyfiles import read_npy, read_npz

MAP_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".png")


def _squeeze_map(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ScoreInputError(f"{path}: a map must be 2-D or (1, H, W), got shape {array.shape}")
    if array.size == 0:
        raise ScoreInputError(f"{path}: the map is empty (shape {array.shape})")
    if array.dtype.kind not in "fiub":
        raise ScoreInputError(f"{path}: map has non-numeric dtype {array.dtype}")
    return array


def read_map(path: Path) -> np.ndarray:
    """One anomaly map as a 2-D array of its own dtype (ScoreInputError naming the file
    if it cannot be read, is not 2-D, or its header declares more data than it holds)."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff", ".png"):
        return _squeeze_map(decode_image(path, "map", as_colours=False), path)
    if suffix not in (".npy", ".npz"):
        raise ScoreInputError(f"{path}: not a map file ({', '.join(MAP_SUFFIXES)})")
    try:
        array = read_npy(path) if suffix == ".npy" else read_npz(path)
    except ScoreInputError:
        raise
    # zipfile reports damaged archives as BadZipFile, unsupported ones as
    # NotImplementedError / RuntimeError (encrypted); np.lib.format as ValueError.
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError,
            RuntimeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScoreInputError(f"{path}: cannot read map ({reason})") from None
    return _squeeze_map(array, path)


def read_mask_values(path: Path) -> np.ndarray:
    """A mask PNG's values: (H, W) for grayscale, (H, W, 3) colours for colour PNGs
    (palette PNGs through their palette); alpha dropped."""
    values = decode_image(path, "mask", as_colours=True)
    if values.ndim == 3:
        values = values[..., :1] if values.shape[2] == 2 else values[..., :3]
        if values.shape[2] == 1:
            values = values[..., 0]
    if values.ndim not in (2, 3):
        raise ScoreInputError(f"{path}: a mask must be a 2-D image, got shape {values.shape}")
    return values


def mask_from_values(values: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Anomalous pixels, (H, W) bool: any colour channel nonzero, or > threshold if given."""
    anomalous = np.asarray(values != 0 if threshold is None else values > threshold)
    return np.asarray(anomalous.any(axis=2)) if anomalous.ndim == 3 else anomalous


def holds_more_than_two_values(values: np.ndarray) -> bool:
    """True if the mask holds more than two distinct values (colours for colour masks):
    anti-aliased or soft masks, for which the threshold matters."""
    if values.ndim == 3:  # (H, W, 3) uint8 colours -> one 24-bit integer per pixel
        wide = values.astype(np.uint32)
        values = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    low, high = values.min(), values.max()
    return bool(np.any((values != low) & (values != high)))


def read_mask(path: Path, threshold: float | None = None) -> np.ndarray:
    """A mask PNG as a boolean array: nonzero = anomalous in any colour channel (alpha
    ignored, palette PNGs read through their palette), or > threshold if one is given.
    The run pipeline reads the masks it evaluates against here too."""
    return mask_from_values(read_mask_values(path), threshold)
