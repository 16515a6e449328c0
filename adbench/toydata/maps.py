"""Toy PREDS / GTS folders for `adbench score`: tests and `adbench demo`.

Each class gets `n_per_class` maps: the even-numbered images are anomalous (one or two
blobs in the mask, their maps raised there), the rest normal (no mask file). Classes use
different formats so every reader is used: the 1st class .npy, the 2nd a mix of .npz and
32-bit .tif, the 3rd 16-bit .png (then round again). Deterministic from the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _blob_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(rng.integers(1, 3)):
        cy, cx = rng.integers(size // 8, size - size // 8, 2)
        ry, rx = rng.integers(max(2, size // 16), max(3, size // 5), 2)
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    return mask


def _write_map(path_stem: Path, amap: np.ndarray, fmt: str) -> None:
    if fmt == "npy":
        np.save(path_stem.with_suffix(".npy"), amap)
    elif fmt == "npz":
        np.savez(path_stem.with_suffix(".npz"), anomaly_map=amap)
    elif fmt == "tif":
        Image.fromarray(amap).save(path_stem.with_suffix(".tif"))
    else:
        Image.fromarray(np.round(amap * 60000).astype(np.uint16)).save(
            path_stem.with_suffix(".png"))


def write_toy_score_folders(root: Path, seed: int = 0,
                            classes: tuple[str, ...] = ("bottle", "cable"),
                            n_per_class: int = 8, size: int = 64) -> tuple[Path, Path]:
    """Write PREDS (root/preds/<class>/<stem>.<ext>) and GTS (root/gts/<class>/<stem>.png,
    0/255 masks for anomalous images only); returns (preds, gts)."""
    rng = np.random.default_rng(seed)
    preds, gts = Path(root) / "preds", Path(root) / "gts"
    for c, name in enumerate(classes):
        (preds / name).mkdir(parents=True, exist_ok=True)
        (gts / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            anomalous = i % 2 == 0
            mask = _blob_mask(rng, size) if anomalous else np.zeros((size, size), bool)
            amap = 0.25 * rng.random((size, size)) + 0.5 * mask * rng.uniform(0.3, 1.0)
            amap = np.clip(amap + 0.05 * rng.standard_normal((size, size)), 0, 1)
            stem = f"{i:03d}"
            fmt = ("npy", ("npz", "tif")[i % 2], "png")[c % 3]
            _write_map(preds / name / stem, amap.astype(np.float32), fmt)
            if anomalous:
                Image.fromarray(mask.astype(np.uint8) * 255).save(gts / name / f"{stem}.png")
    return preds, gts
