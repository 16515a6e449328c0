"""`adbench run-baseline` checks its flags before it writes anything into the run folder.

A start that fails on bad --weights or --image-size leaves no run folder, so the corrected
re-run with the same --out goes through; out-of-range numbers are click usage errors;
--fold never silently disagrees with the data it is recorded for.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from adbench.cli import main
from adbench.pipeline import RunConfig, plan_run, run_baseline
from baselines.data import DataError
from baselines.training import init_distributed

TINY = ["--device", "cpu", "--batch-size", "8", "--epochs", "1", "--seed", "1", "--quiet"]


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _assert_one_line_error(result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


@pytest.mark.parametrize("bad, good, message", [
    (["rd", "--backbone", "resnet18", "--weights", "/nonexistent/w.pth", "--image-size", "32"],
     ["rd", "--backbone", "resnet18", "--weights", "none", "--image-size", "32"],
     "/nonexistent/w.pth: weights file not found"),
    (["ae", "--weights", "none", "--image-size", "3"],
     ["ae", "--weights", "none", "--image-size", "32"],
     "divisible by 16"),
])
def test_failed_start_leaves_no_run_and_the_corrected_rerun_succeeds(
        toy_mvtec_root: Path, tmp_path: Path, bad: list[str], good: list[str], message: str):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    common = ["--data", str(toy_mvtec_root), "--out", str(out), "--leaderboard", str(board),
              *TINY]
    _assert_one_line_error(_invoke(["run-baseline", *bad, *common]), message)
    assert not (out / "config.json").exists()
    assert not board.exists()

    rerun = _invoke(["run-baseline", *good, *common])
    assert rerun.exit_code == 0, rerun.output
    assert json.loads((out / "config.json").read_text())["weights"] == "none"
    assert (out / "metrics.json").is_file()


@pytest.mark.parametrize("flag, value, bound", [
    ("--batch-size", "0", "x>=1"),
    ("--epochs", "0", "x>=1"),
    ("--image-size", "0", "x>=1"),
    ("--workers", "-1", "x>=0"),
    ("--fold", "-1", "x>=0"),
])
def test_out_of_range_numbers_are_usage_errors(toy_mvtec_root: Path, tmp_path: Path,
                                               flag: str, value: str, bound: str):
    out = tmp_path / "run"
    result = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--weights", "none",
                      "--image-size", "32", "--out", str(out), "--leaderboard",
                      str(tmp_path / "board.csv"), *TINY, flag, value])  # the last value wins
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}': {value} is not in the range {bound}" in result.output
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("field, value", [
    ("batch_size", 0), ("epochs", 0), ("image_size", 0), ("workers", -1)])
def test_python_api_rejects_out_of_range_numbers(toy_mvtec_root: Path, tmp_path: Path,
                                                 field: str, value: int):
    """batch_size=0 must not fall back to the recipe's batch (it used to, through `or`)."""
    settings = {"batch_size": 8, "epochs": 1, "image_size": 32, field: value}
    config = RunConfig(name="ae", data=toy_mvtec_root, device="cpu", weights="none",
                       out=tmp_path / "run", progress=False, record=False, **settings)
    flag = "--" + field.replace("_", "-")
    with pytest.raises(ValueError, match=f"{flag}.* must be at least") as caught:
        run_baseline(config)
    assert not isinstance(caught.value, DataError)
    assert not (tmp_path / "run").exists()


def _write_meta(toy_root: Path, path: Path) -> Path:
    """A cocoad-style meta file over the toy MVTec class `tile` (paths relative to the
    meta file's folder, climbing with ../ as cocoad's do)."""
    def entries(pattern: str) -> list[dict]:
        found = []
        for image in sorted(toy_root.glob(pattern)):
            defect = image.parent.name
            entry = {"img_path": os.path.relpath(image, path.parent), "cls_name": "tile",
                     "anomaly": int(defect != "good")}
            if defect != "good":
                mask = toy_root / "tile" / "ground_truth" / defect / f"{image.stem}_mask.png"
                entry["mask_path"] = os.path.relpath(mask, path.parent)
            found.append(entry)
        return found

    meta = {"train": {"tile": entries("tile/train/good/*.png")},
            "test": {"tile": entries("tile/test/*/*.png")}}
    path.write_text(json.dumps(meta))
    return path


def _planned_fold(data: Path, fold: int | None) -> int | None:
    config = RunConfig(name="ae", data=data, fold=fold, device="cpu", batch_size=8,
                       out=Path("unused"))
    return plan_run(config, init_distributed("cpu")).fold


def test_fold_comes_from_the_meta_name_or_the_flag(toy_mvtec_root: Path, tmp_path: Path):
    named = _write_meta(toy_mvtec_root, tmp_path / "meta_20_2.json")
    unnamed = _write_meta(toy_mvtec_root, tmp_path / "my_meta.json")
    assert _planned_fold(named, None) == 2
    assert _planned_fold(named, 2) == 2
    assert _planned_fold(unnamed, 3) == 3
    assert _planned_fold(unnamed, None) is None
    assert _planned_fold(toy_mvtec_root, None) is None


def test_fold_that_contradicts_the_meta_name_is_an_error(toy_mvtec_root: Path,
                                                         tmp_path: Path):
    meta = _write_meta(toy_mvtec_root, tmp_path / "meta_20_0.json")
    out = tmp_path / "run"
    result = _invoke(["run-baseline", "ae", "--data", str(meta), "--fold", "1", "--out",
                      str(out), "--weights", "none", "--image-size", "32", *TINY])
    _assert_one_line_error(result, f"{meta}: its name says fold 0, but --fold 1 was given")
    assert not out.exists()


def test_fold_with_an_mvtec_root_is_an_error(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    result = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--fold", "2",
                      "--out", str(out), "--leaderboard", str(board), "--weights", "none",
                      "--image-size", "32", *TINY])
    _assert_one_line_error(result, "--fold applies to COCO-AD meta files")
    assert not out.exists() and not board.exists()

    # without --fold the run goes through and records no fold
    rerun = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--out", str(out),
                     "--leaderboard", str(board), "--weights", "none", "--image-size", "32",
                     *TINY])
    assert rerun.exit_code == 0, rerun.output
    with open(board, newline="") as handle:
        assert [(row["fold"], row["num_folds"]) for row in csv.DictReader(handle)] == [
            ("", ""), ("", "")]  # one row per definition
