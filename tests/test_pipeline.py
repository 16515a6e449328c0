"""End-to-end `adbench run-baseline ae` on the generated MVTec-style data, and its errors.

The error paths fail before scoring.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from adbench.cli import main
from baselines.backbones import WeightsError

TINY = ["--weights", "none", "--device", "cpu", "--image-size", "32", "--batch-size", "8",
        "--seed", "1", "--quiet"]


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_run_baseline_ae_end_to_end(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    result = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--epochs", "1",
                      "--out", str(out), "--leaderboard", str(board), *TINY])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output

    # one map and one evaluated mask per test image, in the PREDS layout
    test_images = sorted(toy_mvtec_root.glob("*/test/*/*.png"))
    rels = {p.relative_to(toy_mvtec_root).with_suffix("").as_posix() for p in test_images}
    assert {p.relative_to(out / "maps").with_suffix("").as_posix()
            for p in (out / "maps").rglob("*.npy")} == rels
    for rel in rels:
        array = np.load(out / "maps" / f"{rel}.npy")
        assert array.dtype == np.float32 and array.shape == (32, 32)
        mask = np.asarray(Image.open(out / "gts" / f"{rel}.png"))
        assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 255}
        assert mask.any() == ("/good/" not in rel)

    # metrics.json is what `adbench score maps gts --json` gives, exactly
    rescored = tmp_path / "rescored.json"
    scored = _invoke(["score", str(out / "maps"), str(out / "gts"), "--json", str(rescored)])
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads(rescored.read_text()) == metrics
    assert set(metrics["classes"]) == {"tile", "grid"}
    assert metrics["counts"]["tile"] == {"normal": 4, "anomalous": 8}

    # one leaderboard row per definition with the run's settings and mean metrics
    with open(board, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["definition"] for r in rows] == ["adbench-1", "ader"]
    assert rows[0]["run_id"] == rows[1]["run_id"] == json.loads(
        (out / "config.json").read_text())["run_id"]
    ader = json.loads((out / "metrics_ader.json").read_text())
    assert float(rows[1]["auroc_p"]) == pytest.approx(ader["mean"]["auroc_p"], abs=1e-12)
    assert rows[0]["precision"] == "fp32"
    row = rows[0]
    assert (row["method"], row["dataset"], row["epochs"], row["image_size"], row["seed"]) == (
        "ae", toy_mvtec_root.name, "1", "32", "1")
    assert row["source"] == "run" and row["weights"] == "none"
    assert float(row["auroc_p"]) == pytest.approx(metrics["mean"]["auroc_p"], abs=1e-6)

    # the run folder refuses a second run without --resume, with a one-line error
    again = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--epochs", "1",
                     "--out", str(out), "--leaderboard", str(board), *TINY])
    assert again.exit_code == 1
    assert "already holds a run" in again.output and "Traceback" not in again.output


def test_resume_of_a_finished_run_only_evaluates(toy_mvtec_root: Path, tmp_path: Path):
    out = tmp_path / "run"
    args = ["run-baseline", "ae", "--data", str(toy_mvtec_root), "--epochs", "1", "--out",
            str(out), "--leaderboard", str(tmp_path / "b.csv"), *TINY]
    assert _invoke(args).exit_code == 0
    first = {p: p.read_bytes() for p in (out / "maps").rglob("*.npy")}
    assert _invoke([*args, "--resume"]).exit_code == 0
    assert {p: p.read_bytes() for p in (out / "maps").rglob("*.npy")} == first
    events = [json.loads(line)["event"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert events.count("epoch") == 1 and events.count("evaluated") == 2


@pytest.mark.parametrize("args, message", [
    (["--data", "/nonexistent/data"], "/nonexistent/data: no such file or folder"),
    (["--image-size", "40"], "divisible by 16"),
    (["--batch-size", "64"], "fewer than one batch"),
])
def test_bad_input_is_one_line_error(toy_mvtec_root, tmp_path, args, message):
    base = ["run-baseline", "ae", "--data", str(toy_mvtec_root), "--weights", "none",
            "--device", "cpu", "--image-size", "32", "--quiet", "--out", str(tmp_path / "r")]
    result = _invoke(base + args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_unknown_baseline_and_empty_root(tmp_path):
    result = _invoke(["run-baseline", "nope", "--data", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1 and "unknown baseline 'nope'" in result.output
    result = _invoke(["run-baseline", "ae", "--data", str(tmp_path), "--device", "cpu"])
    assert result.exit_code == 1 and "not an MVTec AD / VisA root" in result.output


def test_weights_error_is_one_line(toy_mvtec_root, tmp_path, monkeypatch):
    """A failed download (WeightsError from backbones) becomes a one-line click error."""
    def unreachable(*_args, **_kwargs):
        raise WeightsError("cannot download https://x/y.pth (URLError: offline); fetch it on "
                           "a machine with internet access and pass --weights PATH")

    monkeypatch.setattr("adbench.pipeline.run.build_model", unreachable)
    result = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--device", "cpu",
                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: cannot download https://x/y.pth (URLError: offline); fetch it on a machine "
        "with internet access and pass --weights PATH"]


def test_run_baseline_on_a_cocoad_fold(tmp_path: Path):
    """COCO-AD through the real chain: toy COCO -> cocoad fold 0 (meta in a separate --out,
    so its paths climb with ../toycoco/) -> run-baseline -> one map and mask per meta test
    entry -> `adbench score --meta` finds every map and reproduces metrics.json exactly."""
    from adbench.toydata.coco import write_toy_coco
    from cocoad.build import build_fold

    coco = write_toy_coco(tmp_path / "toycoco", seed=0)
    fold = build_fold(coco, out=tmp_path / "folds", fold=0, workers=1)
    meta = json.loads(fold.meta_path.read_text())
    out, board = tmp_path / "run", tmp_path / "board.csv"
    result = _invoke(["run-baseline", "ae", "--data", str(fold.meta_path), "--epochs", "1",
                      "--out", str(out), "--leaderboard", str(board), *TINY])
    assert result.exit_code == 0, result.output

    entries = meta["test"]["coco"]
    maps = sorted((out / "maps").rglob("*.npy"))
    assert len(maps) == len(entries)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in maps)
    expected = {f"coco/val2017/{Path(e['img_path']).stem}": e for e in entries}
    assert {p.relative_to(out / "maps").with_suffix("").as_posix() for p in maps} == set(expected)
    for rel, entry in expected.items():
        evaluated = np.asarray(Image.open(out / "gts" / f"{rel}.png"))
        if not entry["anomaly"]:
            assert not evaluated.any()
    with open(board, newline="") as handle:
        row = next(csv.DictReader(handle))
    assert (row["dataset"], row["fold"], row["num_folds"]) == ("coco-format", "0", "4")
    rescored = tmp_path / "rescored.json"
    result = _invoke(["score", str(out / "maps"), str(out / "gts"), "--meta",
                      str(fold.meta_path), "--json", str(rescored)])
    assert result.exit_code == 0, result.output
    assert rescored.read_bytes() == (out / "metrics.json").read_bytes()
