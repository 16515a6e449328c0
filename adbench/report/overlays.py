"""The example images of the report: photo, anomaly map over the photo, mask and prediction.

For one test image, three panels of the same size (the photo's aspect, or the map's
when there is no photo, fitted into a square box):
- the photo as it is;
- the anomaly map in matplotlib's `turbo` colours over the greyed photo, scaled by the
  class's lowest and highest map values (so colours compare across a class's images),
  more opaque where the score is higher;
- the ground-truth mask (green fill and outline) and the predicted region, the pixels
  whose score is >= the class's pixel F1-max threshold (red outline), over the photo.
The heat panel enlarges the map bilinearly; masks and the predicted region (decided at
the map's own pixels) are enlarged by nearest neighbour. Without a photo the first
panel is left out and the others lie on a dark ground. Panels
are JPEG data URIs, so the page stays one self-contained file.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BOX = 320
MASK_COLOUR = np.array([47, 191, 113], dtype=np.float64)
PREDICTION_COLOUR = np.array([255, 48, 48], dtype=np.float64)


@dataclass(frozen=True)
class Panels:
    """An example's panels as data URIs; `image` None when no photo was found."""

    image: str | None
    heat: str
    masks: str


def panel_size(width: int, height: int, box: int = BOX) -> tuple[int, int]:
    """(width, height) of `width` x `height` fitted into box x box, aspect kept."""
    scale = box / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _photo(path: Path | None) -> Image.Image | None:
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError:
        return None


def _resize_map(amap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(amap, dtype=np.float32), mode="F")
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    return np.asarray(image.resize(size, Image.Resampling.NEAREST)) > 0


def outline(region: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels of `region` within `width` pixels of its border (4-neighbourhood)."""
    inner = region.copy()
    for _ in range(width):
        shrunk = inner.copy()
        shrunk[1:, :] &= inner[:-1, :]
        shrunk[:-1, :] &= inner[1:, :]
        shrunk[:, 1:] &= inner[:, :-1]
        shrunk[:, :-1] &= inner[:, 1:]
        inner = shrunk
    return region & ~inner


def _data_uri(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG",
                                                                   quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def render_panels(amap: np.ndarray, mask: np.ndarray, photo_path: Path | None,
                  value_range: tuple[float, float], threshold: float | None) -> Panels:
    """The three panels of one example (see the module docstring)."""
    from matplotlib import colormaps

    photo = _photo(photo_path)
    height, width = amap.shape if photo is None else (photo.height, photo.width)
    size = panel_size(width, height)
    if photo is None:
        base = np.full((size[1], size[0], 3), 40.0)
    else:
        base = np.asarray(photo.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    grey = base.mean(axis=2, keepdims=True) * np.ones(3)
    scores = _resize_map(amap, size)
    low, high = value_range
    scaled = (scores - low) / (high - low) if high > low else np.zeros_like(scores)
    scaled = np.clip(scaled, 0.0, 1.0)[..., None]
    colours = colormaps["turbo"](scaled[..., 0])[..., :3] * 255.0
    opacity = 0.3 + 0.6 * scaled  # high scores stand out, low ones let the photo show
    heat = (1.0 - opacity) * grey + opacity * colours
    gt = _resize_mask(mask, size)
    marked = 0.55 * grey + 0.45 * base
    marked[gt] = 0.55 * marked[gt] + 0.45 * MASK_COLOUR
    marked[outline(gt)] = MASK_COLOUR
    if threshold is not None:
        predicted = _resize_mask(amap >= threshold, size)
        marked[outline(predicted)] = PREDICTION_COLOUR
    return Panels(None if photo is None else _data_uri(base), _data_uri(heat),
                  _data_uri(marked))
