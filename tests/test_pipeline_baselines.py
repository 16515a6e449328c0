"""Every registered baseline runs end to end through the one shared pipeline.

`adbench run-baseline NAME` on the tiny generated MVTec-style data (a small random
encoder where the baseline has one), then `adbench score RUN/maps RUN/gts --json` must
give metrics.json exactly, and the leaderboard row must name the method and backbone.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from adbench.cli import main
from baselines.registry import list_baselines

SMALL_ENCODER = {"rd": "resnet18", "invad": "resnet18", "invad-lite": "resnet18"}


def test_every_registered_baseline_is_covered() -> None:
    assert set(list_baselines()) == {"ae", *SMALL_ENCODER}


@pytest.mark.parametrize("name", sorted(SMALL_ENCODER))
def test_run_baseline_end_to_end(name: str, toy_mvtec_root: Path, tmp_path: Path) -> None:
    out, board = tmp_path / "run", tmp_path / "board.csv"
    args = ["run-baseline", name, "--data", str(toy_mvtec_root), "--epochs", "1",
            "--batch-size", "8", "--image-size", "32", "--weights", "none", "--device",
            "cpu", "--backbone", SMALL_ENCODER[name], "--out", str(out), "--leaderboard",
            str(board), "--quiet"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output

    test_images = list(toy_mvtec_root.glob("*/test/*/*.png"))
    maps = list((out / "maps").rglob("*.npy"))
    assert len(maps) == len(test_images)
    for path in maps[:4]:
        array = np.load(path)
        assert array.dtype == np.float32 and array.shape == (32, 32)
        assert np.isfinite(array).all()

    rescored = tmp_path / "rescored.json"
    scored = CliRunner().invoke(main, ["score", str(out / "maps"), str(out / "gts"),
                                       "--json", str(rescored)])
    assert scored.exit_code == 0, scored.output
    assert json.loads(rescored.read_text()) == json.loads((out / "metrics.json").read_text())

    with open(board, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert (row["method"], row["backbone"], row["source"]) == (name, SMALL_ENCODER[name], "run")
