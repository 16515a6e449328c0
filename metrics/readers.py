"""Reading anomaly maps (.npy/.npz/.tif/.tiff/.png) and masks (.png) into arrays.

Maps keep their values exactly: float32/float16 and 8/16-bit PNGs become float32, float64
stays float64; nothing is clipped or resized. `.npy` float32 files are read straight
into the caller's buffer (no intermediate array).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from metrics.errors import ScoreInputError

MAP_SUFFIXES = (".npy", ".npz", ".tif", ".tiff", ".png")

# NumPy parses .npy headers with ast.literal_eval, and CPython 3.11's AST construction is
# not thread-safe (seen here as "SystemError: AST constructor recursion depth mismatch"
# when maps were read by several threads). Header parsing is cheap: do it under a lock,
# read the array data outside it.
_NPY_HEADER_LOCK = threading.Lock()


def _squeeze_map(array: np.ndarray, path: Path) -> np.ndarray:
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ScoreInputError(f"{path}: a map must be 2-D or (1, H, W), got shape {array.shape}")
    if array.dtype.kind not in "fiub":
        raise ScoreInputError(f"{path}: map has non-numeric dtype {array.dtype}")
    return array


def _read_npz(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        names = archive.files
        if "anomaly_map" in names:
            return archive["anomaly_map"]
        if len(names) == 1:
            return archive[names[0]]
    raise ScoreInputError(f"{path}: .npz needs the key 'anomaly_map' or a single array, "
                          f"found {names}")


def _read_image(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        return np.asarray(image)


def read_map(path: Path) -> np.ndarray:
    """One anomaly map as a 2-D array of its own dtype."""
    try:
        suffix = path.suffix.lower()
        if suffix in (".npy", ".npz"):
            with _NPY_HEADER_LOCK:  # rare here: float32 .npy maps take read_npy_into
                array = np.load(path, allow_pickle=False) if suffix == ".npy" else (
                    _read_npz(path))
        elif suffix in (".tif", ".tiff", ".png"):
            array = _read_image(path)
        else:
            raise ScoreInputError(f"{path}: not a map file ({', '.join(MAP_SUFFIXES)})")
    except ScoreInputError:
        raise
    except (OSError, ValueError, EOFError, SyntaxError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScoreInputError(f"{path}: cannot read map ({reason})") from None
    return _squeeze_map(array, path)


def read_npy_into(path: Path, out: np.ndarray) -> bool:
    """Read a float32 little-endian C-order .npy of out's shape (or (1,)+shape) directly
    into `out`; False (nothing read) when the file is anything else."""
    try:
        with open(path, "rb") as handle:
            with _NPY_HEADER_LOCK:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    return False
            if fortran or dtype != np.dtype("<f4") or shape not in (out.shape,
                                                                    (1, *out.shape)):
                return False
            view = memoryview(out.reshape(-1)).cast("B")
            return handle.readinto(view) == view.nbytes
    except (OSError, ValueError):
        return False


def read_mask(path: Path) -> np.ndarray:
    """A mask PNG as a boolean array (nonzero = anomalous; any colour channel for colour
    PNGs, the alpha channel of LA/RGBA PNGs ignored). baselines.data reads masks here too."""
    try:
        array = _read_image(path)
    except (OSError, ValueError, SyntaxError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ScoreInputError(f"{path}: cannot read mask ({reason})") from None
    if array.ndim == 3:
        colour = array[..., :1] if array.shape[2] == 2 else array[..., :3]
        return (colour != 0).any(axis=2)
    if array.ndim != 2:
        raise ScoreInputError(f"{path}: a mask must be a 2-D image, got shape {array.shape}")
    return array != 0
