"""Generated anomaly maps for a built COCO-AD fold: a stand-in detector for reports and tests.

`write_fold_maps(meta, preds)` writes, for every test entry of a cocoad meta file, a
float32 map at the image's own size as `preds/<map_rel>.npy` (the layout `adbench score
--meta` reads). The maps imitate a detector of uneven skill: smooth background noise
everywhere, false-positive blobs on some normal images, and over each anomalous mask a
raised, blurred region whose strength depends on the image's COCO categories (each
category gets its own skill from the seed; an image's is the mean of its categories'),
so per-category breakdowns differ. Categories come from the fold's manifest beside the
meta file (none: one skill for all).
Deterministic from the seed.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from cocoad.layout import manifest_beside
from cocoad.manifest import read_manifest
from cocoad.meta import MetaEntry, map_rel, read_meta


def _size(entry: MetaEntry, base: Path) -> tuple[int, int]:
    """(height, width) of the entry's image, from its mask or its photo's header."""
    path = base / (entry.mask_path or entry.img_path)
    with Image.open(os.path.normpath(path)) as image:
        return image.height, image.width


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int
                  ) -> np.ndarray:
    coarse = Image.fromarray(rng.random((cells, cells)).astype(np.float32), mode="F")
    return np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def _blurred(mask: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, dtype=np.float32) / 255.0


def category_skill(category_id: int, seed: int) -> float:
    """How strongly the stand-in detector responds to a category, in [0, 0.9]."""
    rng = np.random.default_rng([seed, category_id])
    return float(rng.uniform(0.0, 0.9))


def _categories(meta: Path) -> dict[str, tuple[int, ...]]:
    path = manifest_beside(meta)
    if path is None or not path.is_file():
        return {}
    return {e["img_path"]: tuple(e["category_ids"])
            for e in read_manifest(path)["anomalous_test_images"]}


def write_fold_maps(meta: Path, preds: Path, seed: int = 0) -> Path:
    """Write a map for every test entry of `meta` under `preds`; returns `preds`."""
    meta, preds = Path(meta), Path(preds)
    base = meta.parent
    categories = _categories(meta)
    for entry in read_meta(meta, splits=("test",))["test"]:
        rng = np.random.default_rng([seed, zlib.crc32(entry.img_path.encode())])
        height, width = _size(entry, base)
        amap = 0.35 * _smooth_noise(rng, height, width, 6)
        amap += 0.04 * rng.standard_normal((height, width)).astype(np.float32)
        if entry.anomalous:
            with Image.open(os.path.normpath(base / entry.mask_path)) as image:
                mask = np.asarray(image) > 0
            ids = categories.get(entry.img_path, ())
            skill = float(np.mean([category_skill(cid, seed) for cid in ids])) if ids else 0.5
            strength = skill * (0.2 + 1.2 * _smooth_noise(rng, height, width, 5))
            amap += strength * _blurred(mask, max(2.0, min(height, width) / 60))
        elif rng.random() < 0.45:
            blob = np.zeros((height, width), dtype=bool)
            cy, cx = rng.integers(0, height), rng.integers(0, width)
            yy, xx = np.mgrid[:height, :width]
            blob[(yy - cy) ** 2 + (xx - cx) ** 2 <= (min(height, width) / 9) ** 2] = True
            amap += rng.uniform(0.2, 0.7) * _blurred(blob, min(height, width) / 30)
        out = preds / f"{map_rel(entry)}.npy"
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out, amap.astype(np.float32))
    return preds
