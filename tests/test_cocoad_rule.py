"""The fold lists and masks cocoad writes, against a plain pycocotools reimplementation."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools.coco import COCO

from adbench.toydata.coco import write_toy_coco
from adcommon.checksums import sha256_file
from cocoad.annotations import load_annotations
from cocoad.build import build_fold
from cocoad.categories import COCO_CATEGORIES, coco_category_dicts
from cocoad.folds import split_fold


def _coco(path: Path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def reference_fold(root: Path, fold: int, num_folds: int) -> dict:
    """The rule written out plainly with pycocotools: lists, anomalous ids, union masks."""
    train, val = (_coco(root / "annotations" / f"instances_{s}2017.json") for s in ("train", "val"))
    cat_ids = sorted(train.getCatIds())
    per_fold = 80 // num_folds
    anomalous = set(cat_ids[fold * per_fold:(fold + 1) * per_fold])
    train_names = []
    for image_id in train.getImgIds():
        anns = train.loadAnns(train.getAnnIds(imgIds=[image_id], iscrowd=None))
        if anns and not any(a["category_id"] in anomalous for a in anns):
            train_names.append(train.imgs[image_id]["file_name"])
    test = []
    for image_id in val.getImgIds():
        anns = val.loadAnns(val.getAnnIds(imgIds=[image_id], iscrowd=None))
        if not anns:
            continue
        bad = [a for a in anns if a["category_id"] in anomalous]
        info = val.imgs[image_id]
        mask = np.zeros((info["height"], info["width"]), dtype=np.uint8)
        for ann in bad:
            mask |= val.annToMask(ann)
        test.append((info["file_name"], sorted({a["category_id"] for a in bad}),
                     mask * 255 if bad else None))
    return {"train": train_names, "test": test, "anomalous": sorted(anomalous)}


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_coco(tmp_path_factory.mktemp("toy"), seed=3)


@pytest.mark.parametrize(("fold", "num_folds"), [(0, 4), (1, 4), (2, 4), (3, 4), (5, 8), (1, 2)])
def test_build_matches_reference(toy_root: Path, tmp_path: Path, fold: int, num_folds: int):
    result = build_fold(toy_root, tmp_path, fold, num_folds, workers=1)
    ref = reference_fold(toy_root, fold, num_folds)
    meta = json.loads(result.meta_path.read_text())
    train_dir = Path(os.path.relpath(toy_root / "train2017", tmp_path)).as_posix()
    assert [e["img_path"] for e in meta["train"]["coco"]] == [
        f"{train_dir}/{name}" for name in ref["train"]]
    assert all(e["anomaly"] == 0 and e["mask_path"] == "" for e in meta["train"]["coco"])
    assert all((tmp_path / e["img_path"]).is_file() for e in meta["train"]["coco"])
    assert [Path(e["img_path"]).name for e in meta["test"]["coco"]] == [t[0] for t in ref["test"]]
    manifest = json.loads(result.manifest_path.read_text())
    assert [c["id"] for c in manifest["anomalous_categories"]] == ref["anomalous"]
    per_image = {Path(e["img_path"]).name: e for e in manifest["anomalous_test_images"]}
    for entry, (name, cat_ids, mask) in zip(meta["test"]["coco"], ref["test"], strict=True):
        assert entry["cls_name"] == "coco" and entry["specie_name"] == ""
        if mask is None:
            assert entry["anomaly"] == 0 and entry["mask_path"] == ""
            assert name not in per_image
            continue
        assert entry["anomaly"] == 1
        png = Image.open(tmp_path / entry["mask_path"])
        assert png.mode == "L"
        np.testing.assert_array_equal(np.asarray(png), mask)
        assert per_image[name]["category_ids"] == cat_ids
        assert per_image[name]["mask_sha256"] == sha256_file(tmp_path / entry["mask_path"])
    written = sorted(p.name for p in result.mask_dir.iterdir())
    assert written == sorted(Path(e["mask_path"]).name for e in per_image.values())
    assert manifest["counts"] == {
        "train": len(ref["train"]), "train_dropped": manifest["counts"]["train_dropped"],
        "test_normal": sum(t[2] is None for t in ref["test"]),
        "test_anomalous": sum(t[2] is not None for t in ref["test"])}


def test_toy_data_exercises_the_rule(toy_root: Path):
    """The fixture really has unions of several anomalous instances and crowd masks."""
    ref = reference_fold(toy_root, 0, 4)
    val = json.loads((toy_root / "annotations" / "instances_val2017.json").read_text())
    assert any(a["iscrowd"] for a in val["annotations"])
    assert ref["train"] and any(t[2] is None for t in ref["test"])
    counts: dict[int, int] = {}
    for ann in val["annotations"]:
        if ann["category_id"] in ref["anomalous"]:
            counts[ann["image_id"]] = counts.get(ann["image_id"], 0) + 1
    assert max(counts.values()) >= 2


def test_mask_folder_uses_image_size_and_paths_relative_to_meta(toy_root: Path):
    result = build_fold(toy_root, None, 2, 4, workers=2)
    meta = json.loads(result.meta_path.read_text())
    val = json.loads((toy_root / "annotations" / "instances_val2017.json").read_text())
    sizes = {img["file_name"]: (img["width"], img["height"]) for img in val["images"]}
    assert len({sizes[Path(e["img_path"]).name] for e in meta["test"]["coco"]}) > 3
    for entry in meta["test"]["coco"]:
        assert entry["img_path"].startswith("val2017/")
        if entry["mask_path"]:
            assert entry["mask_path"].startswith("val2017_mask_ad_20_2/")
            assert Image.open(toy_root / entry["mask_path"]).size == \
                sizes[Path(entry["img_path"]).name]


def _write_doc(path: Path, images: list[dict], annotations: list[dict], categories: list[dict]):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": categories}))


def test_label_order_follows_category_id_not_file_order(tmp_path: Path):
    """Categories listed shuffled in the file: labels still follow sorted category ids."""
    categories = coco_category_dicts()
    random.Random(0).shuffle(categories)
    # one image per category; image i carries category COCO_CATEGORIES[i]
    images = [{"id": i + 1, "file_name": f"{i:03d}.jpg", "height": 8, "width": 10}
              for i in range(80)]
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": cat_id, "iscrowd": 0,
             "segmentation": [[1, 1, 8, 1, 8, 6, 1, 6]]}
            for i, (cat_id, _, _) in enumerate(COCO_CATEGORIES)]
    for split in ("train", "val"):
        _write_doc(tmp_path / "annotations" / f"instances_{split}2017.json", images, anns,
                   categories)
    for fold in range(4):
        result = build_fold(tmp_path, tmp_path / "out", fold, 4, workers=1)
        meta = json.loads(result.meta_path.read_text())
        anomalous_images = [Path(e["img_path"]).name for e in meta["test"]["coco"] if e["anomaly"]]
        assert anomalous_images == [f"{i:03d}.jpg" for i in range(fold * 20, fold * 20 + 20)]
        assert len(meta["train"]["coco"]) == 60


@st.composite
def annotation_docs(draw):
    """Random small annotation files: image -> set of category ids (possibly empty)."""
    cat_ids = [c[0] for c in COCO_CATEGORIES]
    n_images = draw(st.integers(1, 12))
    images, anns = [], []
    for image_id in range(1, n_images + 1):
        images.append({"id": image_id * 3, "file_name": f"{image_id}.jpg",
                       "height": 5, "width": 4})
        for cat in draw(st.lists(st.sampled_from(cat_ids), max_size=4)):
            anns.append({"id": len(anns) + 1, "image_id": image_id * 3, "category_id": cat,
                         "iscrowd": draw(st.integers(0, 1)),
                         "segmentation": [[0, 0, 3, 0, 3, 4]]})
    return images, anns


@settings(max_examples=40, deadline=None)
@given(train=annotation_docs(), val=annotation_docs(),
       num_folds=st.sampled_from([1, 2, 4, 5, 8, 80]), data=st.data())
def test_fold_split_matches_plain_rule(tmp_path_factory, train, val, num_folds, data):
    fold = data.draw(st.integers(0, num_folds - 1))
    root = tmp_path_factory.mktemp("prop")
    for split, (images, anns) in (("train", train), ("val", val)):
        _write_doc(root / f"{split}.json", images, anns, coco_category_dicts())
    split = split_fold(load_annotations(root / "train.json", False),
                       load_annotations(root / "val.json", True), fold, num_folds)
    per_fold = 80 // num_folds
    anomalous = {c[0] for c in COCO_CATEGORIES[fold * per_fold:(fold + 1) * per_fold]}

    def cats(doc, image_id):
        return {a["category_id"] for a in doc[1] if a["image_id"] == image_id}

    expected_train = [img["id"] for img in train[0]
                      if cats(train, img["id"]) and not cats(train, img["id"]) & anomalous]
    expected_test = [(img["id"], tuple(sorted(cats(val, img["id"]) & anomalous)))
                     for img in val[0] if cats(val, img["id"])]
    assert [img.id for img in split.train] == expected_train
    assert [(t.image.id, t.anomalous_ids) for t in split.test] == expected_test


def test_empty_polygon_list_adds_nothing(tmp_path: Path):
    """pycocotools cannot rasterise `[]`; cocoad lets it add nothing to the union."""
    images = [{"id": 1, "file_name": "1.jpg", "height": 7, "width": 9}]
    polygon = [[1, 1, 7, 1, 7, 5, 1, 5]]
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "segmentation": []},
            {"id": 2, "image_id": 1, "category_id": 2, "iscrowd": 0, "segmentation": polygon}]
    for split in ("train", "val"):
        _write_doc(tmp_path / "annotations" / f"instances_{split}2017.json", images, anns,
                   coco_category_dicts())
    result = build_fold(tmp_path, None, 0, 4, workers=1)
    val = _coco(tmp_path / "annotations" / "instances_val2017.json")
    np.testing.assert_array_equal(np.asarray(Image.open(result.mask_dir / "1.png")),
                                  val.annToMask(val.anns[2]) * 255)
