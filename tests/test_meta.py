"""The shared meta-file reader (cocoad.meta): validation, one-line errors through
`adbench score --meta` and `run-baseline`'s loader, and the one map-placement rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from adbench.cli import main
from cocoad.meta import MetaEntry, MetaError, map_rel, read_meta
from metrics import ScoreInputError, score_folders

ENTRY = {"img_path": "val2017/x.jpg", "mask_path": "", "cls_name": "coco",
         "specie_name": "", "anomaly": 0}


def _score_error(preds: Path, meta: Path) -> str:
    """`adbench score --meta` must fail with exactly one 'Error: ' line, no traceback."""
    res = CliRunner().invoke(main, ["score", str(preds), str(preds), "--meta", str(meta)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "Traceback" not in res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    return lines[0]


@pytest.mark.parametrize("content, problem", [
    ({"test": {"coco": [{k: v for k, v in ENTRY.items() if k != "cls_name"}]}},
     "test entry without cls_name"),
    ({"test": {"coco": [{k: v for k, v in ENTRY.items() if k != "img_path"}]}},
     "test entry without img_path"),
    ({"test": [1, 2]}, "'test' must map class names to lists of entries"),
    ({"test": {"coco": [1, 2]}}, "test entry is not an object"),
    ({"test": {"coco": {"img_path": "x.jpg"}}}, "'test' must map class names to lists"),
    ({"test": {"coco": [{**ENTRY, "anomaly": "yes"}]}}, "anomaly other than 0 or 1"),
    ({"test": {"coco": [{**ENTRY, "img_path": ".."}]}}, "img_path that names no file"),
    ({"train": {}}, "'test' must map class names"),
    ([ENTRY], "top level is not an object"),
])
def test_malformed_meta_is_one_line_error(tmp_path: Path, content, problem):
    preds = tmp_path / "preds"
    preds.mkdir()
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(content))
    line = _score_error(preds, meta)
    assert str(meta) in line and problem in line


def test_unreadable_meta_says_cannot_read(tmp_path: Path):
    preds = tmp_path / "preds"
    preds.mkdir()
    missing = tmp_path / "nowhere.json"
    assert _score_error(preds, missing) == (f"Error: cannot read {missing}: "
                                            "No such file or directory")
    (tmp_path / "bad.json").write_text("{oops")
    line = _score_error(preds, tmp_path / "bad.json")
    assert "bad.json: not a cocoad/ADer meta file (invalid JSON" in line


def test_read_meta_entries_and_splits(tmp_path: Path):
    meta = tmp_path / "meta.json"
    anomalous = {**ENTRY, "img_path": "val2017/y.jpg", "mask_path": "m/y.png", "anomaly": 1}
    meta.write_text(json.dumps({"train": {"coco": [ENTRY]},
                                "test": {"coco": [ENTRY, anomalous]}}))
    read = read_meta(meta)
    assert read["train"] == [MetaEntry("val2017/x.jpg", "", "coco", False)]
    assert read["test"][1] == MetaEntry("val2017/y.jpg", "m/y.png", "coco", True)
    meta.write_text(json.dumps({"test": {"coco": [ENTRY]}}))
    assert len(read_meta(meta, splits=("test",))["test"]) == 1
    with pytest.raises(MetaError, match="'train' must map"):
        read_meta(meta)


@pytest.mark.parametrize("img_path, cls_name, rel", [
    ("val2017/000000000139.jpg", "coco", "coco/val2017/000000000139"),
    ("../coco/val2017/000000000139.jpg", "coco", "coco/val2017/000000000139"),
    ("../../data/COCO/val2017/000000000139.jpg", "coco", "coco/val2017/000000000139"),
    ("/abs/images/val2017/7.png", "coco", "coco/val2017/7"),
    ("bottle/test/crack/000.png", "bottle", "bottle/test/crack/000"),
    ("./bottle/test/good/001.png", "bottle", "bottle/test/good/001"),
    ("x.png", "a", "a/x"),
])
def test_map_rel_stays_inside_the_maps_folder(img_path, cls_name, rel):
    assert map_rel(MetaEntry(img_path, "", cls_name, False)) == rel


def test_score_meta_finds_maps_of_climbing_paths_and_flat_maps(tmp_path: Path):
    """Maps at map_rel (what run-baseline writes) and at <cls>/<stem> both score the same
    as the plain folder layout; two images falling on one map is an error."""
    rng = np.random.default_rng(0)
    preds, flat, gts = tmp_path / "preds", tmp_path / "flat", tmp_path / "gts"
    entries = []
    for i in range(6):
        anomalous = i % 2 == 0
        amap = rng.random((8, 8)).astype(np.float32)
        mask = np.zeros((8, 8), np.uint8)
        mask[i:i + 2, 2:5] = 255 * anomalous
        for folder, rel in ((preds, f"coco/val2017/{i:03d}"), (flat, f"coco/{i:03d}")):
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{rel}.npy", amap)
        if anomalous:
            (gts / "coco").mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask).save(gts / "coco" / f"{i:03d}.png")
        entries.append({**ENTRY, "img_path": f"../toycoco/val2017/{i:03d}.jpg",
                        "mask_path": f"masks/{i:03d}.png" if anomalous else "",
                        "anomaly": int(anomalous)})
    meta = tmp_path / "out" / "meta_20_0.json"
    meta.parent.mkdir()
    meta.write_text(json.dumps({"train": {}, "test": {"coco": entries}}))
    # masks found through mask_path, relative to the meta file
    (meta.parent / "masks").mkdir()
    for png in (gts / "coco").iterdir():
        (meta.parent / "masks" / png.name).write_bytes(png.read_bytes())
    reference = score_folders(flat, gts)
    assert score_folders(preds, tmp_path / "nothing", meta=meta) == reference
    assert score_folders(flat, gts, meta=meta) == reference
    entries.append({**ENTRY, "img_path": "../elsewhere/000.jpg"})
    meta.write_text(json.dumps({"train": {}, "test": {"coco": entries}}))
    with pytest.raises(ScoreInputError, match=r"would share the map coco/000"):
        score_folders(flat, gts, meta=meta)
