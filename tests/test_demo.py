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
    assert [(row["method"], row["definition"]) for row in rows] == [
        (name, definition) for name in DEMO_BASELINES for definition in ("adbench-1", "ader")]
    for name in DEMO_BASELINES:
        run = out / "runs" / name
        metrics = json.loads((run / "metrics.json").read_text())
        counts = metrics["counts"]["coco"]
        assert counts["anomalous"] > 0 and counts["normal"] > 0
        assert len(list((run / "maps").rglob("*.npy"))) == sum(counts.values())
        # metrics.json is exactly what scoring the run's maps against its masks gives
        write_json(score_folders(run / "maps", run / "gts"), tmp_path / f"{name}.json")
        assert json.loads((tmp_path / f"{name}.json").read_text()) == metrics
    assert "| ae | coco-format | 0/4 |" in result.output and str(out.resolve()) in result.output
    # the two pages, named at the end: self-contained HTML (nothing fetched)
    for page in ("leaderboard.html", "report.html"):
        html = (out / page).read_text()
        assert html.startswith("<!DOCTYPE html>")
        assert f"file://{(out / page).resolve()}" in result.output
        assert "src=\"http" not in html and "href=\"http" not in html
    assert "rd" in (out / "report.html").read_text()
    table_rows = [line.split()[0] for line in result.output.splitlines() if line.strip()]
    assert {"bottle", "cable", "mean"} <= set(table_rows)  # the generated score folders


def test_demo_run_twice_starts_afresh_and_keeps_the_users_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    (out / "my_notes.txt").write_text("mine")
    (out / "runs" / "my_run_notes.txt").write_text("mine too")
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "1"])
    # a folder holding a user's file is not the demo's to reuse: refused, nothing deleted
    assert result.exit_code == 1 and "runs" in result.output, result.output
    assert (out / "runs" / "my_run_notes.txt").read_text() == "mine too"
    (out / "runs" / "my_run_notes.txt").unlink()
    result = CliRunner().invoke(main, ["demo", "--out", str(out), "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "my_notes.txt").read_text() == "mine"
    with open(out / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # one row per baseline and definition, of the second demo only
    assert len(rows) == 2 * len(DEMO_BASELINES) and len({r["run_id"] for r in rows}) == 2


def test_demo_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / "runs" / "important").mkdir(parents=True)
    (out / "leaderboard.csv").write_text("precious\n")
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not empty and not an earlier demo's folder" in result.output
    assert (out / "leaderboard.csv").read_text() == "precious\n"
    assert sorted(p.name for p in out.rglob("*")) == ["important", "leaderboard.csv", "runs"]


def test_demo_refuses_what_an_interrupted_demo_left_unrecorded(tmp_path: Path) -> None:
    """A demo killed mid-step leaves its claim in the ledger and files it never recorded:
    the next demo names the folder instead of deleting files it cannot vouch for."""
    from adbench.demo_folder import LEDGER_NAME

    out = tmp_path / "demo"
    (out / "runs" / "ae").mkdir(parents=True)
    (out / "runs" / "ae" / "checkpoint.pt").write_bytes(b"half")
    (out / LEDGER_NAME).write_text(json.dumps({"files": [], "claims": ["runs"]}))
    result = CliRunner().invoke(main, ["demo", "--out", str(out)])
    assert result.exit_code == 1 and "did not record" in result.output, result.output
    assert (out / "runs" / "ae" / "checkpoint.pt").read_bytes() == b"half"
