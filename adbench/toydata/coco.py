"""A tiny COCO 2017 look-alike: both annotation files and small JPEGs whose objects match.

`write_toy_coco` writes annotations/instances_{train,val}2017.json (all 80 real COCO
categories), train2017/*.jpg and val2017/*.jpg. The annotations exercise every case the
COCO-AD builder must handle: single and multi-part polygons, crowd annotations as
uncompressed RLE (counts list) and as compressed RLE (counts string), several instances
per image, images without any annotation, non-square images of varying sizes. Each
object is painted on its image over exactly the pixels pycocotools rasterises for its
annotation. Every fold of 4 gets anomalous and normal images in both splits: the first
instance of image i belongs to fold i % 4. Same seed -> byte-identical annotation files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from cocoad.categories import COCO_CATEGORIES, coco_category_dicts
from cocoad.masks import segmentation_to_rle

FOLDS = 4
SEGMENT_KINDS = ("polygon", "multi_polygon", "crowd_rle", "crowd_compressed_rle")
EMPTY_EVERY = 6  # image i carries no annotation when i % EMPTY_EVERY == EMPTY_EVERY - 1


def _star_polygon(rng: np.random.Generator, height: int, width: int) -> list[float]:
    """A star-shaped polygon (5-8 vertices) inside the image, as COCO's flat x,y list."""
    radius = rng.uniform(6, min(height, width) / 3)
    cx = rng.uniform(radius / 2, width - radius / 2)
    cy = rng.uniform(radius / 2, height - radius / 2)
    angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 9)))
    radii = radius * rng.uniform(0.5, 1.0, angles.size)
    xs = np.clip(cx + radii * np.cos(angles), 0, width)
    ys = np.clip(cy + radii * np.sin(angles), 0, height)
    return [round(float(v), 2) for xy in zip(xs, ys, strict=True) for v in xy]


def _ellipse(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A filled axis-aligned ellipse as a 0/1 uint8 mask."""
    a, b = rng.uniform(5, width / 3), rng.uniform(5, height / 3)
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    yy, xx = np.mgrid[:height, :width]
    return (((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1).astype(np.uint8)


def _run_lengths(mask01: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE counts: column-major runs, starting with a run of zeros."""
    flat = mask01.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs


def _segmentation(kind: str, rng: np.random.Generator, height: int, width: int) -> Any:
    if kind == "polygon":
        return [_star_polygon(rng, height, width)]
    if kind == "multi_polygon":
        return [_star_polygon(rng, height, width) for _ in range(2)]
    counts = _run_lengths(_ellipse(rng, height, width))
    if kind == "crowd_rle":
        return {"counts": counts, "size": [height, width]}
    compressed = mask_utils.frPyObjects({"counts": counts, "size": [height, width]}, height, width)
    return {"counts": compressed["counts"].decode("ascii"), "size": [height, width]}


def _category_color(category_id: int) -> np.ndarray:
    return np.array([(category_id * 53) % 256, (category_id * 97 + 80) % 256,
                     (category_id * 29 + 160) % 256], dtype=np.uint8)


def _make_split(rng: np.random.Generator, split: str, count: int, first_image_id: int,
                first_ann_id: int, image_dir: Path) -> tuple[dict[str, Any], int]:
    """Write one split's images; return its annotation document and the next annotation id."""
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    ann_id = first_ann_id
    per_fold = len(COCO_CATEGORIES) // FOLDS
    for index in range(count):
        image_id = first_image_id + 7 * index
        height, width = (int(v) for v in rng.integers(48, 97, size=2))
        width = width - 1 if width == height else width
        file_name = f"{image_id:012d}.jpg"
        images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        yy, xx = np.mgrid[:height, :width]
        pixels = np.stack([(xx * 255 // width), (yy * 255 // height),
                           rng.integers(0, 60, (height, width))], axis=-1).astype(np.uint8)
        n_instances = 0 if index % EMPTY_EVERY == EMPTY_EVERY - 1 else int(rng.integers(1, 4))
        for instance in range(n_instances):
            if instance == 0 or rng.random() < 0.5:
                label = (index % FOLDS) * per_fold + int(rng.integers(per_fold))
            else:
                label = int(rng.integers(len(COCO_CATEGORIES)))
            category_id = COCO_CATEGORIES[label][0]
            kind = SEGMENT_KINDS[ann_id % len(SEGMENT_KINDS)]
            segm = _segmentation(kind, rng, height, width)
            rle = segmentation_to_rle(segm, height, width)
            pixels[mask_utils.decode(rle).astype(bool)] = _category_color(category_id)
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": category_id,
                "segmentation": segm, "area": float(mask_utils.area(rle)),
                "bbox": [round(float(v), 2) for v in mask_utils.toBbox(rle)],
                "iscrowd": int(kind.startswith("crowd")),
            })
            ann_id += 1
        Image.fromarray(pixels).save(image_dir / file_name, quality=90)
    doc = {"info": {"description": f"adbench toy COCO ({split}2017)", "version": "1.0"},
           "licenses": [], "images": images, "annotations": annotations,
           "categories": coco_category_dicts()}
    return doc, ann_id


def write_toy_coco(root: Path, seed: int = 0, n_train: int = 48, n_val: int = 24) -> Path:
    """Write a toy COCO 2017 dataset under `root` (see the module docstring); return `root`."""
    rng = np.random.default_rng(seed)
    annotation_dir = root / "annotations"
    annotation_dir.mkdir(parents=True, exist_ok=True)
    next_ann_id = 1
    for split, count, first_image_id in (("train", n_train, 1000), ("val", n_val, 900000)):
        doc, next_ann_id = _make_split(rng, split, count, first_image_id, next_ann_id,
                                       root / f"{split}2017")
        (annotation_dir / f"instances_{split}2017.json").write_text(json.dumps(doc))
    return root
