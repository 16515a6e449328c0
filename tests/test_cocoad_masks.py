"""The mask rasterisers: `--masks ader` against a plain transcription of ADer's procedure
(OpenCV), and the compressed-RLE decoder against pycocotools' encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from adbench.toydata.coco import write_toy_coco
from cocoad.build import build_fold
from cocoad.categories import COCO_CATEGORIES, coco_category_dicts
from cocoad.masks import rasterise_ader
from cocoad.rle_string import decode_counts
from cocoad.segmentations import first_segmentation_problem

cv2 = pytest.importorskip("cv2")


def ader_reference(segmentations: list[Any], height: int, width: int) -> np.ndarray:
    """ADer's data/gen_benchmark/coco.py, step by step: a 3-channel black image of the image's
    shape; each polygon of a list segmentation filled with fillPoly in white after
    np.array(...).astype(np.int64) (truncation); an RLE decoded by pycocotools (frPyObjects
    first when the counts are a list) and its pixels > 0.5 set to 255 on all channels."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for segm in segmentations:
        if type(segm) is list:
            for polygon in segm:
                corners = np.array(polygon).astype(np.int64).reshape((len(polygon) // 2, 2))
                canvas = cv2.fillPoly(canvas, [corners], (255, 255, 255))
        else:
            if type(segm["counts"]) is list:
                rles = mask_utils.frPyObjects([segm], height, width)
            else:
                rles = [segm]
            decoded = mask_utils.decode(rles)  # (height, width, 1)
            canvas[decoded.repeat(3, axis=2) > 0.5] = 255
    return canvas


def assert_same_as_ader(ours01: np.ndarray, ader: np.ndarray) -> None:
    for channel in range(3):
        np.testing.assert_array_equal(ours01 * 255, ader[..., channel])


EDGE_CASES = [
    [[0, 0, 20, 0, 20, 10, 0, 10]],                         # on the top-left edges
    [[10.5, 3.999, 31, 3.999, 31, 17.5]],                   # fractional: truncated
    [[-0.7, -0.7, 5.9, -0.7, 5.9, 5.9]],                    # -0.7 truncates to 0
    [[25, 12, 32, 12, 32, 18, 25, 18], [27, 14, 40, 14, 40, 20]],  # overlapping parts
    [[0, 17, 31.99, 17, 31.99, 18]],                        # the bottom-right edge
    [[-20, -5, 60, 3, 10, 35]],                             # mostly off the image
    [[12, 9, 12, 9, 12, 9]],                                # a point: one pixel
    [[1, 1, 30, 1, 15, 1]],                                 # collinear: a line
    [[3, 3, 28, 3, 28, 15, 3, 15, 15, 9]],                  # self-touching
]


@pytest.mark.parametrize("polygons", EDGE_CASES)
def test_polygons_as_ader_draws_them(polygons: list[list[float]]):
    height, width = 18, 32
    assert first_segmentation_problem([polygons], [(height, width)]) is None
    assert_same_as_ader(rasterise_ader([polygons], height, width),
                        ader_reference([polygons], height, width))


def _rle_of(mask01: np.ndarray, compressed: bool) -> dict[str, Any]:
    rle = mask_utils.encode(np.asfortranarray(mask01))
    if compressed:
        return {"size": list(rle["size"]), "counts": rle["counts"].decode()}
    flat = mask01.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    runs = np.diff(bounds).tolist()
    return {"size": list(rle["size"]), "counts": [0, *runs] if flat[0] else runs}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), height=st.integers(1, 40), width=st.integers(1, 40))
def test_random_segmentations_as_ader_draws_them(data: st.DataObject, height: int, width: int):
    """Polygons with fractional, negative and off-image vertices (within the margin) mixed
    with uncompressed and compressed RLE: the same pixels as ADer's procedure."""
    coordinate = st.floats(-0.9, 1.9, allow_nan=False).map(lambda f: round(f, 2))
    polygon = st.integers(3, 7).flatmap(lambda n: st.lists(
        st.tuples(coordinate.map(lambda f: f * width), coordinate.map(lambda f: f * height)),
        min_size=n, max_size=n)).map(lambda points: [v for xy in points for v in xy])
    segmentations: list[Any] = []
    for kind in data.draw(st.lists(st.sampled_from(["polygons", "rle", "compressed"]),
                                   min_size=1, max_size=4)):
        if kind == "polygons":
            segmentations.append(data.draw(st.lists(polygon, min_size=1, max_size=3)))
        else:
            pixels = data.draw(st.lists(st.booleans(), min_size=height * width,
                                        max_size=height * width))
            mask01 = np.array(pixels, dtype=np.uint8).reshape(height, width)
            segmentations.append(_rle_of(mask01, kind == "compressed"))
    assert first_segmentation_problem(segmentations, [(height, width)] * len(segmentations)) \
        is None
    assert_same_as_ader(rasterise_ader(segmentations, height, width),
                        ader_reference(segmentations, height, width))


def test_build_with_masks_ader_writes_aders_masks_and_records_it(tmp_path: Path):
    root = write_toy_coco(tmp_path / "coco", seed=5, n_train=12, n_val=40)
    val = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    kinds = {type(a["segmentation"]).__name__ + (
        type(a["segmentation"]["counts"]).__name__ if isinstance(a["segmentation"], dict)
        else str(len(a["segmentation"]) > 1)) for a in val["annotations"]}
    assert kinds == {"listFalse", "listTrue", "dictlist", "dictstr"}  # every kind is there
    anomalous = {cat_id for cat_id, _, _ in COCO_CATEGORIES[20:40]}
    result = build_fold(root, tmp_path / "ader", 1, 4, workers=2, masks="ader")
    meta = json.loads(result.meta_path.read_text())
    by_name = {image["file_name"]: image for image in val["images"]}
    checked = 0
    for entry in meta["test"]["coco"]:
        if not entry["anomaly"]:
            continue
        image = by_name[Path(entry["img_path"]).name]
        segms = [a["segmentation"] for a in val["annotations"]
                 if a["image_id"] == image["id"] and a["category_id"] in anomalous]
        png = np.asarray(Image.open(tmp_path / "ader" / entry["mask_path"]))
        assert png.ndim == 2
        assert_same_as_ader(png // 255, ader_reference(segms, image["height"], image["width"]))
        checked += 1
    assert checked >= 5
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["inputs"]["masks"] == "ader"
    assert build_fold(root, tmp_path / "ader", 1, 4, workers=1, masks="ader").up_to_date
    other = build_fold(root, tmp_path / "ader", 1, 4, workers=1)
    assert not other.up_to_date
    assert json.loads(other.manifest_path.read_text())["inputs"]["masks"] == "pycocotools"


def test_ader_differs_from_pycocotools_by_a_border(tmp_path: Path):
    """The two rasterisers really differ (so the ader test above tests something)."""
    images = [{"id": 1, "file_name": "a.jpg", "height": 30, "width": 40}]
    anns = [{"id": 1, "image_id": 1, "category_id": 1,
             "segmentation": [[5.5, 5.5, 30.2, 6.1, 20.7, 25.9]]}]
    (tmp_path / "annotations").mkdir()
    for split in ("train", "val"):
        (tmp_path / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": anns, "categories": coco_category_dicts()}))
    ours = build_fold(tmp_path, tmp_path / "p", 0, 4, workers=1)
    ader = build_fold(tmp_path, tmp_path / "a", 0, 4, workers=1, masks="ader")
    p = np.asarray(Image.open(ours.mask_dir / "a.png")) > 0
    a = np.asarray(Image.open(ader.mask_dir / "a.png")) > 0
    assert (a & ~p).sum() > 10 and not (p & ~a).any()


@settings(max_examples=200, deadline=None)
@given(height=st.integers(1, 30), width=st.integers(1, 30), density=st.floats(0, 1),
       seed=st.integers(0, 2**32 - 1))
def test_compressed_counts_decode_to_pycocotools_runs(height: int, width: int, density: float,
                                                      seed: int):
    rng = np.random.default_rng(seed)
    mask01 = (rng.random((height, width)) < density).astype(np.uint8)
    text = mask_utils.encode(np.asfortranarray(mask01))["counts"].decode()
    runs = decode_counts(text)
    assert sum(runs) == height * width
    expanded = np.repeat(np.arange(len(runs)) % 2, runs).astype(np.uint8)
    np.testing.assert_array_equal(expanded.reshape(width, height).T, mask01)


@pytest.mark.parametrize(("text", "problem"), [
    ("1", None),                    # a single run of 1
    ("Q", "ends inside a count"),   # 0x21: the continuation bit on the last character
    ("0 1", "character ' ' at position 1"),
    ("0p", "character 'p' at position 1"),
    ("0O", "count 1 decodes to -1"),  # 0x1F: 31 with the sign bit: -1
    ("oooooooo0", "too long"),
])
def test_malformed_compressed_counts(text: str, problem: str | None):
    if problem is None:
        assert decode_counts(text) == [1]
    else:
        with pytest.raises(ValueError, match=problem):
            decode_counts(text)


def test_deltas_from_the_fourth_count_on():
    """The fourth count on is written as the difference to the count two places before."""
    mask01 = np.zeros((1, 40), dtype=np.uint8)
    mask01[0, [3, 4, 5, 10, 11, 30]] = 1
    text = mask_utils.encode(np.asfortranarray(mask01))["counts"].decode()
    assert decode_counts(text) == [3, 3, 4, 2, 18, 1, 9]
