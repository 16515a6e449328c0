"""Fault injection for `adbench run-baseline`: every way a run can go wrong is either a
one-line error with nothing of the user's touched, or a correct result.

Covers: concurrent default run folders, --resume without a checkpoint, a truncated
checkpoint, a damaged config.json, a foreign --out folder, an unwritable --out, an
unwritable or foreign leaderboard found before training, a full disk, re-evaluating a
finished run (no row twice), fp32 by default, --eval-every, and a bug keeping its
traceback.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from adbench.cli import main
from adbench.pipeline import RunConfig, run_baseline

TINY = ["--weights", "none", "--device", "cpu", "--image-size", "32", "--batch-size", "8",
        "--epochs", "1", "--seed", "1", "--quiet"]


def _invoke(args: list[str]):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _one_line_error(result, message: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    return lines[0]


def _rows(board: Path) -> list[dict[str, str]]:
    with open(board, newline="") as handle:
        return list(csv.DictReader(handle))


def _run(root: Path, out: Path, board: Path, *extra: str):
    return _invoke(["run-baseline", "ae", "--data", str(root), "--out", str(out),
                    "--leaderboard", str(board), *TINY, *extra])


def test_runs_started_together_get_their_own_folders(toy_mvtec_root: Path, tmp_path: Path):
    """Default run folders are unique even for runs started in the same second."""
    def config() -> RunConfig:
        return RunConfig(name="ae", data=toy_mvtec_root, epochs=1, batch_size=8,
                         image_size=32, weights="none", device="cpu", seed=1, record=False,
                         evaluate=False, progress=False, runs_root=tmp_path / "runs")

    errors: list[BaseException] = []

    def start() -> None:
        try:
            run_baseline(config())
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2
    ids = {json.loads((f / "config.json").read_text())["run_id"] for f in folders}
    assert len(ids) == 2
    assert all((f / "checkpoint.pt").is_file() for f in folders)


def test_resume_of_a_finished_run_appends_no_row_twice(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    assert _run(toy_mvtec_root, out, board).exit_code == 0
    first = _rows(board)
    assert sorted(row["definition"] for row in first) == ["adbench-1", "ader"]
    assert len({row["run_id"] for row in first}) == 1
    again = _run(toy_mvtec_root, out, board, "--resume")
    assert again.exit_code == 0, again.output
    assert _rows(board) == first
    assert "already recorded" in again.output


def test_metrics_ader_json_is_what_score_compat_ader_gives(toy_mvtec_root: Path,
                                                         tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    assert _run(toy_mvtec_root, out, board).exit_code == 0
    rescored = tmp_path / "ader.json"
    result = _invoke(["score", str(out / "maps"), str(out / "gts"), "--compat", "ader",
                      "--json", str(rescored)])
    assert result.exit_code == 0, result.output
    assert rescored.read_bytes() == (out / "metrics_ader.json").read_bytes()
    assert json.loads(rescored.read_text())["definition"] == "ader"


def test_resume_without_a_checkpoint_is_an_error(toy_mvtec_root: Path, tmp_path: Path):
    """A run folder whose first epoch never ended: --resume must not train from scratch
    silently."""
    out, board = tmp_path / "run", tmp_path / "board.csv"
    assert _run(toy_mvtec_root, out, board).exit_code == 0
    (out / "checkpoint.pt").unlink()
    _one_line_error(_run(toy_mvtec_root, out, board, "--resume"), "no checkpoint.pt to resume")
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(_run(toy_mvtec_root, empty, board, "--resume"), "no run to resume")


def test_truncated_checkpoint_is_a_one_line_error(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    assert _run(toy_mvtec_root, out, board).exit_code == 0
    checkpoint = out / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    line = _one_line_error(_run(toy_mvtec_root, out, board, "--resume"), str(checkpoint))
    assert "not a readable checkpoint" in line


def test_damaged_config_json_names_the_file(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    assert _run(toy_mvtec_root, out, board).exit_code == 0
    (out / "config.json").write_text("{not json")
    _one_line_error(_run(toy_mvtec_root, out, board, "--resume"), str(out / "config.json"))


def test_a_foreign_out_folder_is_refused_and_left_alone(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "mine", tmp_path / "board.csv"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _one_line_error(_run(toy_mvtec_root, out, board), "is not an empty folder or an adbench run")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not board.exists()


def test_leaderboard_problems_are_found_before_training(toy_mvtec_root: Path, tmp_path: Path):
    out = tmp_path / "run"
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("name,score\nx,1\n")
    _one_line_error(_run(toy_mvtec_root, out, foreign), str(foreign))
    assert not out.exists()  # no training happened, no run folder was made
    assert foreign.read_text() == "name,score\nx,1\n"
    missing_folder = tmp_path / "nowhere" / "board.csv"
    _one_line_error(_run(toy_mvtec_root, out, missing_folder), "is not a writable folder")
    assert not out.exists()


def test_unwritable_places_are_one_line_errors(toy_mvtec_root: Path, tmp_path: Path,
                                               read_only_dir: Path):
    board = tmp_path / "board.csv"
    _one_line_error(_run(toy_mvtec_root, read_only_dir / "run", board),
                    "cannot create the run folder")
    out = tmp_path / "run"
    _one_line_error(_run(toy_mvtec_root, out, read_only_dir / "board.csv"),
                    "is not a writable folder")
    assert not out.exists()


def test_full_disk_is_a_one_line_error(toy_mvtec_root: Path, tmp_path: Path, small_disk: Path):
    """256 KiB cannot hold the run's checkpoint: the error names the file, no traceback,
    no half-written file under its final name."""
    out = small_disk / "run"
    line = _one_line_error(_run(toy_mvtec_root, out, tmp_path / "board.csv"),
                           "No space left on device")
    assert str(out) in line
    assert not (out / "checkpoint.pt").exists()
    assert not (tmp_path / "board.csv").exists()


def test_fp32_by_default_and_bf16_when_asked(toy_mvtec_root: Path, tmp_path: Path):
    board = tmp_path / "board.csv"
    assert _run(toy_mvtec_root, tmp_path / "fp32", board).exit_code == 0
    assert _run(toy_mvtec_root, tmp_path / "bf16", board, "--amp").exit_code == 0
    precisions = {(row["precision"], row["run_id"]) for row in _rows(board)}
    assert sorted(p for p, _ in precisions) == ["bf16", "fp32"]
    starts = [json.loads(line) for line in (tmp_path / "fp32" / "log.jsonl").open()]
    assert next(e for e in starts if e["event"] == "start")["amp"] is False


def test_eval_every_logs_the_trajectory(toy_mvtec_root: Path, tmp_path: Path):
    out, board = tmp_path / "run", tmp_path / "board.csv"
    result = _invoke(["run-baseline", "ae", "--data", str(toy_mvtec_root), "--out", str(out),
                      "--leaderboard", str(board), *TINY, "--epochs", "3", "--eval-every",
                      "1"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in (out / "log.jsonl").open()]
    evaluations = [e for e in events if e["event"] == "evaluation"]
    # epochs 1 and 2 in memory, both definitions; epoch 3 is the final evaluation
    assert sorted((e["epoch"], e["definition"]) for e in evaluations) == [
        (1, "adbench-1"), (1, "ader"), (2, "adbench-1"), (2, "ader")]
    final = json.loads((out / "metrics.json").read_text())["mean"]
    assert set(evaluations[0]["mean"]) == set(final)


def test_in_memory_scores_equal_the_scored_files(toy_mvtec_root: Path, tmp_path: Path):
    """--eval-every scores in memory; the final evaluation writes maps/gts and scores the
    files as `adbench score` does. For one model both give the same results, bit for bit
    (one engine; masks survive the PNG round trip; float32 maps the .npy one)."""
    import torch

    from adbench.pipeline import evaluation
    from baselines.data import ImageDataset, load_source, to_model_input
    from baselines.registry import build_model

    torch.manual_seed(0)
    model = build_model("ae", image_size=32, weights="none")
    test_set = ImageDataset(load_source(toy_mvtec_root).test, 32)

    def predictions():
        return evaluation.predict(model, test_set, 8,
                                  lambda x: to_model_input(x, torch.device("cpu"), False),
                                  amp=False, workers=0, pin_memory=False, progress=False)

    in_memory = evaluation.score_in_memory(predictions(), 32)
    written = evaluation.write_predictions(predictions(), tmp_path, 32, own_image_scores=False)
    assert written is None
    assert evaluation.score_run_folder(tmp_path, None) == in_memory
    assert [r["definition"] for r in in_memory] == ["adbench-1", "ader"]


def test_a_bug_keeps_its_traceback(toy_mvtec_root: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch):
    """Only user errors become one line: a ValueError from inside the model is a bug."""
    from baselines.models.ae import ConvAutoencoder

    def broken(self, images):
        raise ValueError("a bug in the model")

    monkeypatch.setattr(ConvAutoencoder, "forward", broken)
    result = CliRunner().invoke(main, ["run-baseline", "ae", "--data", str(toy_mvtec_root),
                                       "--out", str(tmp_path / "run"), *TINY])
    assert isinstance(result.exception, ValueError)


def test_runs_root_is_only_written_inside(toy_mvtec_root: Path, tmp_path: Path):
    """A run without --out writes under runs_root and nowhere else (the leaderboard aside)."""
    before = set(os.listdir(tmp_path))
    run_baseline(RunConfig(name="ae", data=toy_mvtec_root, epochs=1, batch_size=8,
                           image_size=32, weights="none", device="cpu", seed=1,
                           leaderboard=tmp_path / "board.csv", progress=False,
                           runs_root=tmp_path / "runs"))
    assert set(os.listdir(tmp_path)) - before == {"runs", "board.csv"}
