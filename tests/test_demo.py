"""`adbench demo`: the whole pipeline on toy data leaves a folder a newcomer can read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from adbench.cli import main
from adbench.demo import DEMO_BASELINES
from metrics import score_folders, write_json


def test_demo_runs_the_pipeline_and_prints_the_leaderboard(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "coco" / "meta_20_0.json").is_file()
    with open(out / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["method"] for row in rows] == list(DEMO_BASELINES)
    for name in DEMO_BASELINES:
        run = out / "runs" / name
        metrics = json.loads((run / "metrics.json").read_text())
        counts = metrics["counts"]["coco"]
        assert counts["anomalous"] > 0 and counts["normal"] > 0
        assert len(list((run / "maps").rglob("*.npy"))) == sum(counts.values())
        # metrics.json is exactly what scoring the run's maps against its masks gives
        write_json(score_folders(run / "maps", run / "gts"), tmp_path / f"{name}.json")
        assert json.loads((tmp_path / f"{name}.json").read_text()) == metrics
    assert "| ae | coco-ad | 0 |" in result.output and str(out.resolve()) in result.output
    table_rows = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert {"bottle", "cable", "mean"} <= set(table_rows)  # the generated score folders


def test_demo_run_twice_starts_runs_and_leaderboard_afresh(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    for _ in range(2):
        result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "1"])
        assert result.exit_code == 0, result.output
    with open(out / "leaderboard.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(DEMO_BASELINES)
