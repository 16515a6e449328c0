"""The toy COCO generator: layout, determinism, coverage of cases, pixels matching annotations."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from scipy.ndimage import binary_erosion

from adbench.toydata.coco import write_toy_coco
from cocoad.categories import COCO_CATEGORIES

SPLITS = ("train", "val")


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_coco(tmp_path_factory.mktemp("toy"), seed=7)


def _load(root: Path, split: str) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(root / "annotations" / f"instances_{split}2017.json"))


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path):
    a, b, c = (write_toy_coco(tmp_path / name, seed=seed) for name, seed in
               (("a", 5), ("b", 5), ("c", 6)))
    for split in SPLITS:
        name = f"annotations/instances_{split}2017.json"
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (c / name).read_bytes()


def test_layout_categories_and_image_sizes(toy: Path):
    for split, count in (("train", 48), ("val", 24)):
        coco = _load(toy, split)
        cats = [(c["id"], c["name"], c["supercategory"]) for c in coco.loadCats(coco.getCatIds())]
        assert cats == list(COCO_CATEGORIES)
        assert len(coco.imgs) == count
        sizes = set()
        for info in coco.imgs.values():
            with Image.open(toy / f"{split}2017" / info["file_name"]) as image:
                assert image.format == "JPEG"
                assert image.size == (info["width"], info["height"])
            assert info["width"] != info["height"]
            assert min(image.size) >= 48 and max(image.size) <= 96
            sizes.add((info["width"], info["height"]))
        assert len(sizes) > count // 2


def test_every_case_appears_in_both_splits(toy: Path):
    for split in SPLITS:
        coco = _load(toy, split)
        anns = list(coco.anns.values())
        polygons = [a["segmentation"] for a in anns if isinstance(a["segmentation"], list)]
        rles = [a for a in anns if isinstance(a["segmentation"], dict)]
        assert any(len(p) == 1 for p in polygons) and any(len(p) > 1 for p in polygons)
        assert any(isinstance(a["segmentation"]["counts"], list) for a in rles)
        assert any(isinstance(a["segmentation"]["counts"], str) for a in rles)
        assert all(a["iscrowd"] == 1 for a in rles)
        per_image = [len(coco.getAnnIds(imgIds=[i], iscrowd=None)) for i in coco.imgs]
        assert 0 in per_image and max(per_image) >= 3
        assert len(set(coco.anns)) == len(anns)


def test_every_fold_of_four_has_normal_and_anomalous_images(toy: Path):
    for split in SPLITS:
        coco = _load(toy, split)
        image_cats = [{a["category_id"] for a in coco.imgToAnns[i]} for i in coco.imgs]
        image_cats = [cats for cats in image_cats if cats]
        for fold in range(4):
            anomalous = {c[0] for c in COCO_CATEGORIES[fold * 20:fold * 20 + 20]}
            assert any(cats & anomalous for cats in image_cats), (split, fold)
            assert any(not cats & anomalous for cats in image_cats), (split, fold)


def test_painted_pixels_match_annotations(toy: Path):
    """Inside each object's visible area (eroded against JPEG ringing) the colour is uniform
    and differs from the background's just outside the object."""
    for split in SPLITS:
        coco = _load(toy, split)
        checked = 0
        for image_id, info in coco.imgs.items():
            pixels = np.asarray(Image.open(toy / f"{split}2017" / info["file_name"]), dtype=float)
            owner = np.full((info["height"], info["width"]), -1)
            for ann in coco.imgToAnns[image_id]:
                owner[coco.annToMask(ann).astype(bool)] = ann["id"]
            for ann in coco.imgToAnns[image_id]:
                inner = binary_erosion(owner == ann["id"], np.ones((5, 5), bool))
                if inner.sum() < 4:
                    continue
                colours = pixels[inner]
                assert colours.std(axis=0).max() < 12
                checked += 1
        assert checked > 10
