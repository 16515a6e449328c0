"""The cocoad CLI: errors, up-to-date runs, interrupted builds, verify, stats, check-images.

Fault injection (malformed annotations, signals, full disks) is in test_cocoad_faults.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cocoad_helpers import run, snapshot

from adbench.toydata.coco import write_toy_coco
from cocoad.build import build_fold
from cocoad.categories import coco_category_dicts
from cocoad.cli import main
from cocoad.errors import CocoadError


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    return write_toy_coco(tmp_path / "coco", seed=1, n_train=16, n_val=12)


def _write_annotations(root: Path, train: object, val: object | None = None) -> None:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split, doc in (("train", train), ("val", train if val is None else val)):
        text = doc if isinstance(doc, str) else json.dumps(doc)
        (root / "annotations" / f"instances_{split}2017.json").write_text(text)


def _doc(**changes: object) -> dict:
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 6}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                            "segmentation": [[0, 0, 5, 0, 5, 3]]}],
           "categories": coco_category_dicts()}
    doc.update(changes)
    return doc


BAD_INPUTS = {
    "invalid JSON": ("{not json", "not valid JSON"),
    "no images list": (_doc(images=None), 'no "images" list'),
    "79 categories": (_doc(categories=coco_category_dicts()[:-1]), "not COCO's 80 categories"),
    "renamed category": (_doc(categories=[{**c, "name": "x"} if c["id"] == 5 else c
                                          for c in coco_category_dicts()]), "other names [5]"),
    "unknown image": (_doc(annotations=[{"id": 9, "image_id": 2, "category_id": 1,
                                         "segmentation": []}]), "unknown image 2"),
    "unknown category": (_doc(annotations=[{"id": 9, "image_id": 1, "category_id": 12,
                                            "segmentation": []}]), "unknown category 12"),
    "annotation without category": (_doc(annotations=[{"id": 9, "image_id": 1}]),
                                    "annotation 9 has no image_id/category_id"),
    "list as image id": (_doc(annotations=[{"id": 9, "image_id": [1], "category_id": 1}]),
                         "annotation 9 refers to image id [1], which is not an integer"),
    "bad segmentation": (_doc(annotations=[{"id": 9, "image_id": 1, "category_id": 1,
                                            "segmentation": 5}]),
                         "annotation 9 (image 1): segmentation is neither polygons nor RLE"),
    "not an object": ("[1, 2]", 'no "categories" list'),
    "bad image size": (_doc(images=[{"id": 1, "file_name": "a.jpg", "height": 0, "width": 6}]),
                       "image 1: height 0 is not a positive integer"),
    "RLE of wrong size": (_doc(annotations=[{"id": 9, "image_id": 1, "category_id": 1,
                                             "segmentation": {"counts": [24], "size": [4, 5]}}]),
                          "RLE size [4, 5]"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_annotation_file_is_a_one_line_error_and_writes_nothing(tmp_path: Path, case: str):
    doc, message = BAD_INPUTS[case]
    _write_annotations(tmp_path, _doc(), doc)
    before = snapshot(tmp_path)
    code, output = run("build", "--fold", "0", "--coco-root", str(tmp_path))
    assert code == 1
    assert output.count("\n") == 1 and message in output
    assert "instances_val2017.json" in output
    assert snapshot(tmp_path) == before


def test_missing_annotation_file(tmp_path: Path):
    code, output = run("build", "--fold", "0", "--coco-root", str(tmp_path),
                       "--out", str(tmp_path / "out"))
    assert code == 1 and "instances_val2017.json: annotation file not found" in output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--fold", "4"], "--fold 4 is out of range"),
    (["--fold", "-1"], "--fold -1 is out of range"),
    (["--fold", "0", "--num-folds", "3"], "--num-folds 3 does not divide 80"),
    (["--all-folds", "--num-folds", "0"], "--num-folds 0 does not divide 80"),
    (["--fold", "0", "--all-folds"], "exactly one of --fold K and --all-folds"),
])
def test_bad_arguments(toy: Path, args: list[str], message: str):
    before = snapshot(toy)
    code, output = run("build", "--coco-root", str(toy), *args)
    assert code != 0 and message in output
    assert snapshot(toy) == before


def test_unwritable_output_folder(toy: Path):
    blocker = toy / "a_file"
    blocker.write_text("x")
    before = snapshot(toy)
    code, output = run("build", "--fold", "0", "--coco-root", str(toy), "--out", str(blocker))
    assert code == 2 and "is a file" in output  # click's own check of the option
    code, output = run("build", "--fold", "0", "--coco-root", str(toy),
                       "--out", str(blocker / "sub"))
    assert code == 1 and output.count("\n") == 1 and "a_file is not a folder" in output
    with pytest.raises(CocoadError, match="is not a folder"):
        build_fold(toy, blocker, 0)
    assert snapshot(toy) == before


def test_rerun_is_up_to_date_and_force_rebuilds(toy: Path):
    code, output = run("build", "--fold", "1", "--coco-root", str(toy), "--workers", "2")
    assert code == 0 and "fold 1:" in output
    before = snapshot(toy)
    code, output = run("build", "--fold", "1", "--coco-root", str(toy))
    assert code == 0 and "up to date" in output
    assert snapshot(toy) == before
    code, output = run("build", "--fold", "1", "--coco-root", str(toy), "--force")
    assert code == 0 and "up to date" not in output
    after = snapshot(toy)
    assert after.keys() == before.keys()
    assert after["manifest_20_1.json"][1] > before["manifest_20_1.json"][1]
    assert run("verify", "--fold", "1", "--coco-root", str(toy))[0] == 0


def test_changed_annotations_trigger_a_rebuild(toy: Path):
    build_fold(toy, None, 0, 4, workers=1)
    ann = toy / "annotations" / "instances_train2017.json"
    doc = json.loads(ann.read_text())
    doc["annotations"] = [a for a in doc["annotations"] if a["category_id"] > 22]
    ann.write_text(json.dumps(doc))
    result = build_fold(toy, None, 0, 4, workers=1)
    assert not result.up_to_date
    assert result.counts["train_dropped"] == 0


def test_rebuild_removes_masks_no_longer_anomalous_and_keeps_other_files(toy: Path):
    first = build_fold(toy, None, 0, 4, workers=1)
    (first.mask_dir / "notes.txt").write_text("mine")
    ann = toy / "annotations" / "instances_val2017.json"
    doc = json.loads(ann.read_text())
    manifest = json.loads(first.manifest_path.read_text())
    gone = Path(manifest["anomalous_test_images"][0]["img_path"]).name
    gone_id = next(image["id"] for image in doc["images"] if image["file_name"] == gone)
    doc["annotations"] = [a for a in doc["annotations"]
                          if a["image_id"] != gone_id or a["category_id"] > 21]
    ann.write_text(json.dumps(doc))
    second = build_fold(toy, None, 0, 4, workers=2)
    kept = sorted(p.name for p in second.mask_dir.glob("*.png"))
    expected = sorted(Path(e["mask_path"]).name for e in
                      json.loads(second.manifest_path.read_text())["anomalous_test_images"])
    assert kept == expected and Path(gone).stem + ".png" not in kept
    assert len(kept) == len(manifest["anomalous_test_images"]) - 1
    assert (second.mask_dir / "notes.txt").read_text() == "mine"
    assert run("verify", "--fold", "0", "--coco-root", str(toy))[0] == 0


def test_workers_do_not_change_the_outputs(toy: Path, tmp_path: Path):
    one = build_fold(toy, tmp_path / "one", 0, 4, workers=1)
    two = build_fold(toy, tmp_path / "two", 0, 4, workers=2)
    assert one.manifest_path.read_bytes() == two.manifest_path.read_bytes()
    assert snapshot(one.mask_dir).keys() == snapshot(two.mask_dir).keys()


def test_interrupted_rebuild_leaves_the_previous_fold_intact(
        toy: Path, monkeypatch: pytest.MonkeyPatch):
    build_fold(toy, None, 0, 4, workers=1)
    ann = toy / "annotations" / "instances_train2017.json"
    ann.write_text(json.dumps({**json.loads(ann.read_text()), "info": {"changed": True}}))
    before = snapshot(toy)
    real_write = Path.write_bytes
    calls = []

    def interrupted_write(self: Path, data: bytes) -> int:
        calls.append(self)
        if len(calls) == 3:
            real_write(self, data[:5])  # a file caught mid-write, as Ctrl-C would leave it
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        build_fold(toy, None, 0, 4, workers=1)
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert len(calls) == 3 and all(".cocoad-staging-" in str(path) for path in calls)
    assert snapshot(toy) == before  # the old fold untouched, the staging folder gone
    assert run("verify", "--fold", "0", "--coco-root", str(toy))[0] == 0
    result = build_fold(toy, None, 0, 4, workers=1)
    assert not result.up_to_date
    assert not list(toy.glob(".cocoad-staging-*"))
    assert run("verify", "--fold", "0", "--coco-root", str(toy))[0] == 0


def test_verify_detects_changed_and_missing_masks(toy: Path):
    result = build_fold(toy, None, 2, 4, workers=1)
    code, output = run("verify", "--fold", "2", "--coco-root", str(toy))
    assert code == 0 and "match the manifest" in output
    masks = sorted(result.mask_dir.glob("*.png"))
    assert len(masks) >= 2
    masks[0].write_bytes(masks[0].read_bytes() + b"\0")
    masks[1].unlink()
    code, output = run("verify", "--fold", "2", "--coco-root", str(toy))
    assert code == 1 and output.count("\n") == 1
    assert f"changed: val2017_mask_ad_20_2/{masks[0].name}" in output
    assert f"missing: val2017_mask_ad_20_2/{masks[1].name}" in output
    assert not build_fold(toy, None, 2, 4, workers=1).up_to_date  # a missing mask is rebuilt
    assert run("verify", "--fold", "2", "--coco-root", str(toy))[0] == 0


def test_verify_without_build(toy: Path):
    code, output = run("verify", "--fold", "0", "--coco-root", str(toy))
    assert code == 1 and "no manifest" in output


def test_stats_prints_classes_and_counts_and_writes_nothing(toy: Path):
    before = snapshot(toy)
    code, output = run("stats", "--coco-root", str(toy))
    assert code == 0 and snapshot(toy) == before
    build = build_fold(toy, toy / "out", 3, 4, workers=1)
    assert "fold 3 of 4: anomalous labels 60-79: dining table, toilet," in output
    assert output.count("fold ") == 4
    counts = build.counts
    assert f"train: {counts['train']} images ({counts['train_dropped']} anomalous dropped" in output
    total = counts["test_normal"] + counts["test_anomalous"]
    assert (f"test:  {total} images: {counts['test_anomalous']} anomalous, "
            f"{counts['test_normal']} normal") in output
    result = CliRunner().invoke(main, ["stats", "--coco-root", str(toy), "--fold", "1",
                                       "--num-folds", "8"])
    assert result.exit_code == 0  # progress goes to stderr, the statistics to stdout
    assert result.stdout.startswith("fold 1 of 8: anomalous labels 10-19: fire hydrant")
    assert result.stdout.count("fold ") == 1


def test_check_images_reports_missing_files(toy: Path):
    assert run("build", "--fold", "0", "--coco-root", str(toy), "--check-images")[0] == 0
    meta = json.loads((toy / "meta_20_0.json").read_text())
    gone = [meta["train"]["coco"][0]["img_path"], meta["test"]["coco"][-1]["img_path"]]
    for relative in gone:
        (toy / relative).unlink()
    code, output = run("build", "--fold", "0", "--coco-root", str(toy), "--check-images")
    assert code == 1 and output.count("\n") == 1
    assert "2 of " in output and all(g in output for g in gone)
    out = toy / "elsewhere"
    code, output = run("build", "--fold", "0", "--coco-root", str(toy), "--out", str(out),
                       "--check-images")
    assert code == 1 and "2 of " in output and not out.exists()


def test_coco_root_from_environment(toy: Path):
    result = CliRunner().invoke(main, ["build", "--fold", "0"], env={"COCO_ROOT": str(toy)})
    assert result.exit_code == 0 and (toy / "meta_20_0.json").is_file()


def test_every_command_has_help():
    for command in ([], ["build"], ["stats"], ["verify"]):
        code, output = run(*command, "--help")
        assert code == 0 and "Usage:" in output


def test_python_m_cocoad_and_imports_without_torch(toy: Path):
    block_torch = "import sys; sys.modules['torch'] = None; "
    code = block_torch + ("import cocoad, metrics, cocoad.cli, cocoad.build, cocoad.stats, "
                          "cocoad.verify, adbench.toydata.coco")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    cli = block_torch + "import sys; from cocoad.cli import main; sys.argv[0] = 'cocoad'; main()"
    done = subprocess.run([sys.executable, "-c", cli, "build", "--fold", "3", "--coco-root",
                           str(toy)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (toy / "manifest_20_3.json").is_file()
