"""The MVTec-style toy generator: layout, determinism, masks that match the defects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from adbench.toydata.mvtec import DEFECTS


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.png"))}


def test_layout_and_counts(make_toy_mvtec):
    root = make_toy_mvtec(classes=("tile", "grid"), n_train=5, n_test_good=2, n_test_defect=3)
    for cls_name in ("tile", "grid"):
        assert len(list((root / cls_name / "train" / "good").glob("*.png"))) == 5
        assert len(list((root / cls_name / "test" / "good").glob("*.png"))) == 2
        for defect in DEFECTS:
            images = sorted((root / cls_name / "test" / defect).glob("*.png"))
            assert len(images) == 3
            for image in images:  # MVTec naming: ground_truth/<defect>/<stem>_mask.png
                assert (root / cls_name / "ground_truth" / defect / f"{image.stem}_mask.png"
                        ).is_file()
    assert not (root / "tile" / "ground_truth" / "good").exists()


def test_deterministic_from_seed(make_toy_mvtec):
    first, again = make_toy_mvtec(seed=3), make_toy_mvtec(seed=3)
    other = make_toy_mvtec(seed=4)
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


def test_masks_cover_exactly_the_defect_pixels(toy_mvtec_root):
    """Inside a mask the pixels have a strong hue (defects are chroma-shifted); outside,
    the near-grey texture. Chroma = max - min over RGB, measured independently here."""
    for mask_path in sorted(toy_mvtec_root.rglob("*_mask.png")):
        defect_dir = mask_path.parent.name
        image_path = (mask_path.parents[2] / "test" / defect_dir /
                      mask_path.name.replace("_mask", ""))
        image = np.asarray(Image.open(image_path).convert("RGB")).astype(float)
        mask = np.asarray(Image.open(mask_path))
        assert mask.shape == image.shape[:2] == (64, 64)
        assert set(np.unique(mask)) == {0, 255}
        inside = mask > 0
        chroma = image.max(axis=2) - image.min(axis=2)
        assert 4 <= inside.sum() <= 64 * 64 // 4
        assert chroma[inside].mean() > chroma[~inside].mean() + 30


def test_normal_images_are_textured_per_class(toy_mvtec_root):
    """Normal images vary (a texture, not a flat colour) and the two classes differ."""
    tile = np.asarray(Image.open(toy_mvtec_root / "tile/train/good/000.png")).astype(float)
    grid = np.asarray(Image.open(toy_mvtec_root / "grid/train/good/000.png")).astype(float)
    assert tile.std() > 15 and grid.std() > 15
    assert np.abs(tile.mean(axis=(0, 1)) - grid.mean(axis=(0, 1))).max() > 10


def test_defects_have_the_texture_normalised_magnitude(toy_mvtec_root):
    """The defect colour's |(c - mean) / std| (ImageNet statistics) is the texture's RMS one,
    so an untrained model's |x|^2-like error cannot find it (see the module docstring)."""
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    for mask_path in sorted(toy_mvtec_root.rglob("*_mask.png")):
        image_path = (mask_path.parents[2] / "test" / mask_path.parent.name /
                      mask_path.name.replace("_mask", ""))
        image = np.asarray(Image.open(image_path).convert("RGB")).astype(float)
        inside = np.asarray(Image.open(mask_path)) > 0
        squared = (((image - mean) / std) ** 2).sum(axis=2)
        ratio = np.sqrt(squared[inside].mean() / squared[~inside].mean())
        assert 0.85 < ratio < 1.15
