"""An MVTec-AD-style toy dataset: textured normal images and synthetic defects with masks.

Layout (MVTec AD naming, so every MVTec reader accepts it):
    <class>/train/good/000.png
    <class>/test/good/000.png
    <class>/test/<defect>/000.png
    <class>/ground_truth/<defect>/000_mask.png   (uint8, 0 or 255)

Each class has its own texture (a tiled checkerboard for "tile", a line grid for
"grid", stripes for anything else) in muted colours with small per-image jitter.
Defects are flat patches of the image's mean brightness in a shifted hue, without the
texture: "blob" (a filled ellipse) and "scratch" (a thick line); the mask is exactly
the painted pixels. A model that outputs a constant does not find them (their
brightness is the texture's average), one that learned the texture does.
Everything is drawn with numpy from one seed, so the output is byte-for-byte
reproducible; the defaults write ~100 PNGs of 64 x 64 in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

DEFECTS = ("blob", "scratch")
# Chroma shifts (orthogonal to grey): defects keep the texture's brightness but change its
# hue and lose its pattern, so they only stand out to a model that learned the texture.
_DEFECT_SHIFTS = np.array([[2, -1, -1], [-1, 2, -1], [-1, -1, 2]], dtype=np.float64) * 30


def _texture(cls_name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size, 3) float image in [0, 255] with the class's texture, jittered."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    period = 8.0 + rng.uniform(-0.5, 0.5)
    dy, dx = rng.uniform(0, period, size=2)
    if cls_name == "tile":
        pattern = ((np.floor((yy + dy) / period) + np.floor((xx + dx) / period)) % 2)
        light, dark = np.array([175.0, 160.0, 140.0]), np.array([120.0, 110.0, 100.0])
    elif cls_name == "grid":
        on_line = (((yy + dy) % period) < 2) | (((xx + dx) % period) < 2)
        pattern = on_line.astype(np.float64)
        light, dark = np.array([90.0, 110.0, 100.0]), np.array([150.0, 160.0, 150.0])
    else:
        pattern = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + dx) / period)
        light, dark = np.array([170.0, 170.0, 170.0]), np.array([110.0, 110.0, 110.0])
    image = dark + pattern[..., None] * (light - dark)
    image += rng.normal(0.0, 4.0, size=image.shape)
    return image


def _defect_mask(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (size, size) mask of one defect: an ellipse or a thick line segment."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    margin = size / 5
    cy, cx = rng.uniform(margin, size - margin, size=2)
    if kind == "blob":
        ry, rx = rng.uniform(size / 14, size / 7, size=2)
        return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    angle = rng.uniform(0, np.pi)
    half_length = rng.uniform(size / 6, size / 3)
    direction = np.array([np.sin(angle), np.cos(angle)])
    rel_y, rel_x = yy - cy, xx - cx
    along = rel_y * direction[0] + rel_x * direction[1]
    across = np.abs(-rel_y * direction[1] + rel_x * direction[0])
    return (np.abs(along) <= half_length) & (across <= max(1.0, size / 40))


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8)).save(path)


def write_toy_mvtec(
    root: Path,
    seed: int = 0,
    classes: Sequence[str] = ("tile", "grid"),
    size: int = 64,
    n_train: int = 16,
    n_test_good: int = 4,
    n_test_defect: int = 4,
) -> Path:
    """Write the toy dataset under `root` (created if needed) and return `root`.

    n_test_defect images are written per defect type ("blob", "scratch") and class.
    Deterministic: the same arguments always give the same bytes.
    """
    root = Path(root)
    for class_index, cls_name in enumerate(classes):
        rng = np.random.default_rng([seed, class_index])
        class_dir = root / cls_name
        for i in range(n_train):
            _save_png(_texture(cls_name, size, rng), class_dir / "train" / "good" / f"{i:03d}.png")
        for i in range(n_test_good):
            _save_png(_texture(cls_name, size, rng), class_dir / "test" / "good" / f"{i:03d}.png")
        for kind in DEFECTS:
            for i in range(n_test_defect):
                image = _texture(cls_name, size, rng)
                mask = _defect_mask(kind, size, rng)
                colour = image.mean(axis=(0, 1)) + _DEFECT_SHIFTS[rng.integers(len(_DEFECT_SHIFTS))]
                image[mask] = colour + rng.normal(0.0, 6.0, size=(int(mask.sum()), 3))
                _save_png(image, class_dir / "test" / kind / f"{i:03d}.png")
                _save_png(mask * 255.0, class_dir / "ground_truth" / kind / f"{i:03d}_mask.png")
    return root
