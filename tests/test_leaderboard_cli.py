"""`adbench leaderboard`: formats, filters, --out, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from adbench.commands.leaderboard import leaderboard_command
from leaderboard import append_row, read_rows
from metrics.keys import METRIC_KEYS


def record(path: Path, method: str, fold: int, dataset: str = "coco-ad") -> None:
    num_folds = 4 if dataset == "coco-ad" else None
    row = {"method": method, "dataset": dataset, "fold": fold, "num_folds": num_folds,
           "source": "run", "definition": "adbench-1",
           **dict.fromkeys(METRIC_KEYS, (fold + 1) / 10)}
    append_row(path, row)


@pytest.fixture
def board(tmp_path: Path) -> Path:
    path = tmp_path / "lb.csv"
    for fold in range(4):
        record(path, "rd", fold)
    record(path, "ae", 0, dataset="mvtec")
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(leaderboard_command, list(args), env=env)


def test_markdown_by_default(board: Path) -> None:
    result = invoke(str(board))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("| method | dataset | fold |")
    assert "| **rd** | **COCO-AD (4 folds)** |  |" in result.output
    assert "| ae | mvtec | 0 |" in result.output


def test_dataset_filter_and_csv(board: Path, tmp_path: Path) -> None:
    result = invoke(str(board), "--format", "csv", "--dataset", "mvtec")
    assert result.exit_code == 0
    out = tmp_path / "out.csv"
    out.write_text(result.output)
    assert [(r["method"], r["dataset"]) for r in read_rows(out)] == [("ae", "mvtec")]


def test_html_to_a_file(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.html"
    result = invoke(str(board), "--format", "html", "--out", str(out))
    assert result.exit_code == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and '<section class="view" data-view="means">' in page
    assert page.count('<tr class="run" data-order=') == 5 + 1  # 5 rows and the mean of rd
    assert {p.name for p in tmp_path.iterdir()} == {"lb.csv", "board.html"}  # no temp left


def test_default_path_from_environment(board: Path) -> None:
    result = invoke(env={"ADBENCH_LEADERBOARD": str(board)})
    assert result.exit_code == 0 and "COCO-AD (4 folds)" in result.output


def test_with_reference(board: Path) -> None:
    result = invoke(str(board), "--with-reference", "--dataset", "coco-ad")
    assert result.exit_code == 0
    assert "| invad | coco-ad | 0/4 |" in result.output and "reported" in result.output


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "absent.csv"))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'absent.csv'}: no such leaderboard file"
    ]


def test_malformed_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("method,dataset,source,definition\nrd,coco-ad,run,nope\n")
    result = invoke(str(path))
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"{path}: line 2: definition must be one of" in result.output


def test_empty_file_says_so_and_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    result = invoke(str(path))
    assert result.exit_code == 0 and "no rows" in result.output
    result = invoke(str(path), "--dataset", "visa")
    assert "no rows for dataset 'visa'" in result.output
