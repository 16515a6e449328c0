"""Leaderboard CSV: validation, append/read round trip, locking and concurrent appends."""

from __future__ import annotations

import csv
import fcntl
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from leaderboard import COLUMNS, LeaderboardError, append_row, default_path, read_rows
from leaderboard import store as store_module
from metrics.keys import METRIC_KEYS

FORK = multiprocessing.get_context("fork")


def make_row(**overrides: object) -> dict[str, object]:
    """A complete run row with distinct metric values."""
    row: dict[str, object] = {
        "method": "invad", "dataset": "coco-ad", "fold": 0, "image_size": 256,
        "epochs": 100, "backbone": "wrn50_2", "weights": "default", "seed": 42,
        "train_seconds": 3600.5, "images_per_second": 812.25, "device": "NVIDIA H100",
        "torch": "2.14.1", "adbench_version": "0.1.0", "git_commit": "abc1234",
        "finished_at": "2025-01-02T03:04:05+00:00", "source": "run", "definition": "adbench-1",
    }
    row.update({key: (i + 1) / 20 for i, key in enumerate(METRIC_KEYS)})
    row.update(overrides)
    return row


def test_columns_follow_the_spec_order() -> None:
    head = ("method", "dataset", "fold", "image_size", "epochs", "backbone", "weights", "seed")
    tail = ("train_seconds", "images_per_second", "device", "torch", "adbench_version",
            "git_commit", "finished_at", "source", "definition")
    assert head + METRIC_KEYS + tail == COLUMNS


def test_append_then_read_round_trips_every_value(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    first = make_row()
    second = make_row(fold=3, seed=None, backbone="", auroc_i=0.1 + 0.2, aupro_p=None,
                      method='a "quoted", name')
    append_row(path, first)
    append_row(path, second)
    rows = read_rows(path)
    assert len(rows) == 2
    assert rows[0] == {column: first[column] for column in COLUMNS}
    assert rows[1]["auroc_i"] == 0.1 + 0.2  # repr round trip keeps every bit
    assert rows[1]["aupro_p"] is None and rows[1]["seed"] is None and rows[1]["backbone"] == ""
    assert rows[1]["method"] == 'a "quoted", name'
    with open(path, newline="") as handle:
        records = list(csv.reader(handle))
    assert records[0] == list(COLUMNS)
    assert len(records) == 3


def test_numbers_given_as_text_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    append_row(path, make_row(fold="2", auroc_i="0.5", epochs=" 10 "))
    (row,) = read_rows(path)
    assert (row["fold"], row["auroc_i"], row["epochs"]) == (2, 0.5, 10)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auroc_i": 1.5}, "auroc_i must be in [0, 1]"),
        ({"ap_p": -0.01}, "ap_p must be in [0, 1]"),
        ({"mad": float("nan")}, "mad must be in [0, 1]"),
        ({"f1max_i": "high"}, "f1max_i must be a number"),
        ({"fold": 1.5}, "fold must be an integer"),
        ({"fold": "one"}, "fold must be an integer"),
        ({"seed": True}, "seed must be an integer"),
        ({"epochs": -1}, "epochs must not be negative"),
        ({"train_seconds": float("inf")}, "train_seconds must be finite"),
        ({"colour": "red"}, "unknown column(s): colour"),
        ({"method": ""}, "missing required column(s): method"),
        ({"source": None, "definition": " "}, "missing required column(s): source, definition"),
        ({"source": "paper"}, "source must be one of run, reported"),
        ({"definition": "mine"}, "definition must be one of adbench-1, ader"),
        ({"device": "two\nlines"}, "device must be a single line"),
        ({"finished_at": "yesterday"}, "finished_at must be ISO 8601"),
    ],
)
def test_invalid_rows_are_refused_and_nothing_is_written(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    path = tmp_path / "lb.csv"
    with pytest.raises(LeaderboardError) as caught:
        append_row(path, make_row(**overrides))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not path.exists() or path.stat().st_size == 0


def test_missing_required_key_entirely(tmp_path: Path) -> None:
    row = make_row()
    del row["dataset"]
    with pytest.raises(LeaderboardError, match="missing required column"):
        append_row(tmp_path / "lb.csv", row)


def test_append_refuses_a_file_with_another_header(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    path.write_text("method,dataset,score\nx,y,1\n")
    with pytest.raises(LeaderboardError, match="line 1: header differs"):
        append_row(path, make_row())
    assert path.read_text() == "method,dataset,score\nx,y,1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("method,dataset,source,definition,speed\n", "line 1: unknown column(s): speed"),
        ("method,dataset,source\n", "line 1: missing required column(s): definition"),
        ("method,dataset,source,definition,method\n", "line 1: repeated column(s): method"),
        ("method,dataset,source,definition\na,b,run,ader\na,b,run\n", "line 3: 3 cells"),
        ("method,dataset,source,definition,fold\n\na,b,run,ader,x\n", "line 3: fold must"),
        ("method,dataset,source,definition,auroc_i\na,b,run,ader,2\n", "line 2: auroc_i"),
    ],
)
def test_read_rows_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(LeaderboardError) as caught:
        read_rows(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_read_rows_accepts_a_hand_written_subset_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_text("definition,auroc_i,method,source,dataset,fold\nader,0.7,rd,reported,mvtec,\n")
    (row,) = read_rows(path)
    assert row["method"] == "rd" and row["auroc_i"] == 0.7 and row["fold"] is None
    assert set(row) == set(COLUMNS) and row["ap_i"] is None and row["device"] == ""


def test_read_rows_of_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError, match="no such leaderboard file"):
        read_rows(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    assert read_rows(tmp_path / "empty.csv") == []


def test_default_path_uses_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ADBENCH_LEADERBOARD", raising=False)
    assert default_path() == Path("leaderboard.csv")
    monkeypatch.setenv("ADBENCH_LEADERBOARD", str(tmp_path / "runs.csv"))
    assert default_path() == tmp_path / "runs.csv"


def test_a_line_cut_short_by_a_crash_stays_isolated(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    append_row(path, make_row(fold=0))
    with open(path, "ab") as handle:
        handle.write(b"invad,coco-ad,1,256")  # what a crash mid-line would leave
    append_row(path, make_row(fold=2))
    lines = path.read_text().splitlines()
    assert lines[2] == "invad,coco-ad,1,256"
    assert lines[3].startswith("invad,coco-ad,2,")
    with pytest.raises(LeaderboardError, match=r"line 3: 4 cells"):
        read_rows(path)


def test_a_failed_write_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lb.csv"
    append_row(path, make_row(fold=0))
    before = path.read_bytes()
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    monkeypatch.setattr(store_module.os, "write", half_write)
    with pytest.raises(LeaderboardError, match="short write"):
        append_row(path, make_row(fold=1))
    assert path.read_bytes() == before


def _append_while_parent_holds_lock(path: str) -> None:
    append_row(Path(path), make_row(method="waiter"))


def test_append_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    append_row(path, make_row())
    size = path.stat().st_size
    with open(path, "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX)
        child = FORK.Process(target=_append_while_parent_holds_lock, args=(str(path),))
        child.start()
        time.sleep(0.5)
        assert child.is_alive() and path.stat().st_size == size  # blocked on the lock
        fcntl.flock(holder.fileno(), fcntl.LOCK_UN)
        child.join(timeout=20)
    assert child.exitcode == 0
    assert [row["method"] for row in read_rows(path)] == ["invad", "waiter"]


def _append_many(path: str, worker: int, count: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    for index in range(count):
        append_row(Path(path), make_row(method=f"w{worker}", seed=index, fold=worker % 4))


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "new" / "lb.csv"
    path.parent.mkdir()
    workers, count = 4, 40
    start = FORK.Barrier(workers)
    processes = [
        FORK.Process(target=_append_many, args=(str(path), w, count, start))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * workers
    text = path.read_text()
    assert text.count("method,dataset,fold") == 1  # one header, although the file was new
    rows = read_rows(path)
    assert len(rows) == workers * count
    seen = {(row["method"], row["seed"]) for row in rows}
    assert seen == {(f"w{w}", i) for w in range(workers) for i in range(count)}
    for worker in range(workers):  # each writer's rows keep their order
        seeds = [row["seed"] for row in rows if row["method"] == f"w{worker}"]
        assert seeds == list(range(count))
