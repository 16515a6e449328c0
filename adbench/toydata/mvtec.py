"""An MVTec-AD-style toy dataset: textured normal images and synthetic defects with masks.

Layout (MVTec AD naming, so every MVTec reader accepts it):
    <class>/train/good/000.png
    <class>/test/good/000.png
    <class>/test/<defect>/000.png
    <class>/ground_truth/<defect>/000_mask.png   (uint8, 0 or 255)

Each class has its own texture (a tiled checkerboard for "tile", a line grid for
"grid", stripes for anything else) in muted colours with small per-image jitter.
Defects are flat patches of another hue, without the texture: "blob" (a filled
ellipse) and "scratch" (a thick line); the mask is exactly the painted pixels. Their
colour has the texture's root-mean-square magnitude after ImageNet normalisation, so a
model that has not learned the texture (an untrained autoencoder, whose error is about
|x|^2) ranks them near chance, while a trained one finds them: the learning test needs
that contrast.
Everything is drawn with numpy from one seed, so the output is byte-for-byte
reproducible; the defaults write ~100 PNGs of 64 x 64 in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from baselines.normalisation import IMAGENET_MEAN, IMAGENET_STD

DEFECTS = ("blob", "scratch")
# ImageNet statistics (what the baselines normalise with) and the hue directions of defects.
_MEAN = np.array(IMAGENET_MEAN) * 255
_STD = np.array(IMAGENET_STD) * 255
_HUES = np.array([[1, -1, 0], [0, 1, -1], [-1, 0, 1], [-1, 1, 0], [0, -1, 1], [1, 0, -1]],
                 dtype=np.float64) / np.sqrt(2)


def _defect_colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A colour of another hue whose normalised magnitude |(c - mean) / std| equals the
    texture's root-mean-square one: a model that has not learned the texture (an
    untrained autoencoder's error is about |x|^2) cannot tell the defect from it."""
    radius = np.sqrt((((image - _MEAN) / _STD) ** 2).sum(axis=2).mean())
    texture_dir = ((image.mean(axis=(0, 1)) - _MEAN) / _STD)
    texture_dir /= np.linalg.norm(texture_dir) + 1e-12
    for index in rng.permutation(len(_HUES)):
        direction = _HUES[index] + 0.3 * rng.normal(size=3)
        direction -= 0.8 * direction.dot(texture_dir) * texture_dir
        direction /= np.linalg.norm(direction)
        colour = _MEAN + _STD * radius * direction
        if colour.min() >= 10 and colour.max() <= 245:
            return colour
    return _MEAN + _STD * radius * _HUES[0]


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
                colour = _defect_colour(image, rng)
                image[mask] = colour + rng.normal(0.0, 4.0, size=(int(mask.sum()), 3))
                _save_png(image, class_dir / "test" / kind / f"{i:03d}.png")
                _save_png(mask * 255.0, class_dir / "ground_truth" / kind / f"{i:03d}_mask.png")
    return root
