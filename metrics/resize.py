"""The two evaluation-size rules: a mask brought to its map's size, or a map to its mask's.

- `resize_mask`: ADer's data pipeline: the mask as an 8-bit image (anomalous = 255),
  Pillow's bilinear resize, anomalous where the result is >= 128 (ADer: ToTensor, then
  > 0.5). `adbench run-baseline` evaluates its masks with this function too.
- `resize_map`: bilinear with half-pixel centres and no antialiasing, the arithmetic of
  `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)` written in
  NumPy and numba (no torch): float32 (float64 for maps scored in float64).

See docs/metrics.md, "Inputs and bad input".
"""

from __future__ import annotations

import numpy as np
from numba import njit
from PIL import Image

from metrics.inputs import map_dtype


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D boolean mask brought to shape (H, W) as ADer's pipeline does (module doc)."""
    image = Image.fromarray(np.where(mask, np.uint8(255), np.uint8(0)))
    resized = image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized) >= 128


def _axis_taps(size_in: int, size_out: int, dtype: type[np.floating],
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each output index along one axis: the two source indices and their weights,
    as torch computes them: the source coordinate scale * (i + 0.5) - 0.5 (scale =
    size_in / size_out in `dtype`) rounded once, as the fused multiply-add of torch's
    compiled kernels rounds it (exactly so for float32 maps: the float64 arithmetic below
    rounds nothing before the cast; within an ulp for float64 maps), a coordinate below 0
    taken as 0, floored through float32 (torch's floorf); an axis of unchanged size is
    copied."""
    out = np.arange(size_out)
    if size_in == size_out:
        return out, out, np.ones(size_out, dtype), np.zeros(size_out, dtype)
    scale = np.float64(dtype(size_in) / dtype(size_out))
    source = np.maximum(scale * (out + 0.5) - 0.5, 0.0).astype(dtype)
    first = np.minimum(np.floor(source.astype(np.float32)).astype(np.int64), size_in - 1)
    weight_second = np.clip(source - first.astype(dtype), dtype(0), dtype(1))
    second = first + (first < size_in - 1)
    return first, second, dtype(1) - weight_second, weight_second


@njit(cache=True, nogil=True)
def _bilinear(source: np.ndarray, rows: tuple, columns: tuple, out: np.ndarray) -> None:
    """out[i, j] = (s[a, c] wc + s[a, d] wd) wa + (s[b, c] wc + s[b, d] wd) wb, in the
    arrays' float type, in this order (torch's: along columns, then along rows)."""
    row_a, row_b, weight_ra, weight_rb = rows
    col_a, col_b, weight_ca, weight_cb = columns
    for i in range(out.shape[0]):
        a, b, wa, wb = row_a[i], row_b[i], weight_ra[i], weight_rb[i]
        for j in range(out.shape[1]):
            c, d, wc, wd = col_a[j], col_b[j], weight_ca[j], weight_cb[j]
            top = source[a, c] * wc + source[a, d] * wd
            bottom = source[b, c] * wc + source[b, d] * wd
            out[i, j] = top * wa + bottom * wb


def resize_map(amap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D map brought to shape (H, W) by bilinear interpolation (module doc), in the
    float type it is scored in (`metrics.inputs.map_dtype`)."""
    dtype = map_dtype(amap.dtype)
    source = np.ascontiguousarray(amap, dtype=dtype)
    out = np.empty(shape, dtype=dtype)
    _bilinear(source, _axis_taps(source.shape[0], shape[0], dtype),
              _axis_taps(source.shape[1], shape[1], dtype), out)
    return out
