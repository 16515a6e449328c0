"""Every registered baseline runs end to end through the one shared pipeline.

`adbench run-baseline NAME` on the tiny generated MVTec-style data (a small random
encoder where the baseline has a choice, `--weights none` always), then `adbench score
RUN/maps RUN/gts --json` must give metrics.json exactly (with `--image-scores
RUN/image_scores.csv` for the models that score images their own way), and the
leaderboard row must name the method and backbone.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from reference_ops import pooled_max_loops

from adbench.cli import main
from baselines.registry import list_baselines

SMALL_ENCODER = {"rd": "resnet18", "rdpp": "resnet18", "invad": "resnet18",
                 "invad-lite": "resnet18"}
# one fixed encoder each, their own image score (max of the 16 x 16 mean-pooled map)
ZOO_ENCODER = {"vitad": "vit_small_patch16_224.dino", "uniad": "tf_efficientnet_b4.aa_in1k"}


def test_every_registered_baseline_is_covered() -> None:
    assert set(list_baselines()) == {"ae", *SMALL_ENCODER, *ZOO_ENCODER, "mambaad"}


def _run(name: str, size: int, extra: list[str], root: Path, tmp_path: Path, batch: int = 8
         ) -> tuple[Path, dict[str, str]]:
    """Train 1 epoch, check the maps, re-score them; returns the run folder and the row."""
    out, board = tmp_path / "run", tmp_path / "board.csv"
    args = ["run-baseline", name, "--data", str(root), "--epochs", "1", "--batch-size", str(batch),
            "--image-size", str(size), "--weights", "none", "--device", "cpu", "--out",
            str(out), "--leaderboard", str(board), "--quiet", *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    test_images = list(root.glob("*/test/*/*.png"))
    maps = list((out / "maps").rglob("*.npy"))
    assert len(maps) == len(test_images)
    for path in maps[:4]:
        array = np.load(path)
        assert array.dtype == np.float32 and array.shape == (size, size)
        assert np.isfinite(array).all()

    rescored = tmp_path / "rescored.json"
    scores = out / "image_scores.csv"
    options = ["--image-scores", str(scores)] if scores.exists() else []
    scored = CliRunner().invoke(main, ["score", str(out / "maps"), str(out / "gts"), "--json",
                                       str(rescored), *options])
    assert scored.exit_code == 0, scored.output
    assert json.loads(rescored.read_text()) == json.loads((out / "metrics.json").read_text())

    # and metrics_ader.json is what `adbench score --compat ader` gives
    scored = CliRunner().invoke(main, ["score", str(out / "maps"), str(out / "gts"), "--json",
                                       str(rescored), "--compat", "ader", *options])
    assert scored.exit_code == 0, scored.output
    assert rescored.read_bytes() == (out / "metrics_ader.json").read_bytes()

    with open(board, newline="") as handle:
        exact, ader = list(csv.DictReader(handle))  # one row per definition
    assert (exact["definition"], ader["definition"]) == ("adbench-1", "ader")
    return out, exact


@pytest.mark.parametrize("name", sorted(SMALL_ENCODER))
def test_run_baseline_end_to_end(name: str, toy_mvtec_root: Path, tmp_path: Path) -> None:
    out, row = _run(name, 32, ["--backbone", SMALL_ENCODER[name]], toy_mvtec_root, tmp_path)
    assert not (out / "image_scores.csv").exists()  # scored by the maps' maxima
    assert (row["method"], row["backbone"], row["source"]) == (name, SMALL_ENCODER[name], "run")


@pytest.mark.parametrize("name", sorted(ZOO_ENCODER))
def test_zoo_baseline_end_to_end_with_its_own_image_scores(
        name: str, toy_mvtec_root: Path, tmp_path: Path) -> None:
    """64 px. The run writes image_scores.csv: one score per map, the pooled maximum of
    the map it wrote, and the metrics were computed with them."""
    out, row = _run(name, 64, [], toy_mvtec_root, tmp_path)
    with open(out / "image_scores.csv", newline="") as handle:
        scores = {line["path"]: float(line["score"]) for line in csv.DictReader(handle)}
    maps = sorted((out / "maps").rglob("*.npy"))
    assert sorted(scores) == [str(p.relative_to(out / "maps")) for p in maps]
    # a float32 mean of 16 x 16 non-negative values is within 255 * 2^-24 of the exact
    # one, whatever order the CPU's kernel sums in
    for path in maps[:6]:
        expected = pooled_max_loops(np.load(path).astype(np.float64), 16)
        assert scores[str(path.relative_to(out / "maps"))] == pytest.approx(
            expected, rel=255 * 2.0**-24)
    assert (row["method"], row["backbone"], row["weights"]) == (name, ZOO_ENCODER[name], "none")


def test_mambaad_end_to_end_on_one_batch(make_toy_mvtec, tmp_path: Path) -> None:
    """MambaAD's plain-PyTorch scan is slow on a CPU: one class, one batch of 2 at 64 px
    (its smallest size), a small random encoder; image scores are the maps' maxima."""
    root = make_toy_mvtec(classes=("tile",), n_train=2, n_test_good=1, n_test_defect=1)
    out, row = _run("mambaad", 64, ["--backbone", "resnet18"], root, tmp_path, batch=2)
    assert not (out / "image_scores.csv").exists()
    assert (row["method"], row["backbone"], row["source"]) == ("mambaad", "resnet18", "run")
