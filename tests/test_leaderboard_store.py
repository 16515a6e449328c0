"""Leaderboard CSV: validation, append/read round trip, locking, concurrent and idempotent
appends, byte-order marks, files of the earlier format and their upgrade."""

from __future__ import annotations

import csv
import fcntl
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from leaderboard import (
    COLUMNS,
    LeaderboardError,
    append_row,
    check_appendable,
    default_path,
    fold_averages,
    read_rows,
)
from leaderboard import store as store_module
from leaderboard import upgrade as upgrade_module
from leaderboard.schema import LEGACY_COLUMNS
from leaderboard.upgrade import main as upgrade_main
from leaderboard.upgrade import upgrade_file
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
        "num_folds": 4, "precision": "fp32", "run_id": "",
    }
    row.update({key: (i + 1) / 20 for i, key in enumerate(METRIC_KEYS)})
    row.update(overrides)
    return row


def test_columns_follow_the_spec_order() -> None:
    head = ("method", "dataset", "fold", "image_size", "epochs", "backbone", "weights", "seed")
    tail = ("train_seconds", "images_per_second", "device", "torch", "adbench_version",
            "git_commit", "finished_at", "source", "definition", "num_folds", "precision", "run_id")
    assert head + METRIC_KEYS + tail == COLUMNS


def test_append_then_read_round_trips_every_value(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    first = make_row(run_id="invad-20250102-030405-1a2b")
    second = make_row(fold=3, seed=None, backbone="", auroc_i=0.1 + 0.2, aupro_p=None,
                      method='a "quoted", name', run_id="", precision="", definition="ader-paper")
    assert append_row(path, first) is True
    assert append_row(path, second) is True
    rows = read_rows(path)
    assert len(rows) == 2
    assert rows[0] == {column: first[column] for column in COLUMNS}
    assert rows[1]["auroc_i"] == 0.1 + 0.2  # repr round trip keeps every bit
    assert rows[1]["aupro_p"] is None and rows[1]["seed"] is None and rows[1]["backbone"] == ""
    assert rows[1]["method"] == 'a "quoted", name'
    added = (rows[1]["run_id"], rows[1]["precision"], rows[1]["definition"])
    assert added == ("", "", "ader-paper")
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
        ({"definition": "mine"}, "definition must be one of adbench-1, ader, ader-paper"),
        ({"precision": "fp16"}, "precision must be one of fp32, bf16"),
        ({"num_folds": 0}, "num_folds must be at least 1"),
        ({"num_folds": "four"}, "num_folds must be an integer"),
        ({"fold": 4, "num_folds": 4}, "fold 4 is not below num_folds 4"),
        ({"run_id": "one\ntwo"}, "run_id must be a single line"),
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
        append_row(Path(path), make_row(method=f"w{worker}", seed=index, fold=worker % 4,
                                        run_id=f"w{worker}-{index}"))


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


# ---- idempotent appends: one row per (run_id, definition) ----------------------------


def test_a_second_append_of_the_same_run_and_definition_appends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    assert append_row(path, make_row(run_id="run-1", definition="adbench-1")) is True
    assert append_row(path, make_row(run_id="run-1", definition="ader")) is True
    before = path.read_bytes()
    # re-scoring the finished run: same pair, even with other numbers
    assert append_row(path, make_row(run_id="run-1", definition="ader", auroc_i=0.9)) is False
    assert append_row(path, make_row(run_id="run-1", definition="adbench-1")) is False
    assert path.read_bytes() == before
    assert append_row(path, make_row(run_id="run-2", definition="ader")) is True
    pairs = [(row["run_id"], row["definition"]) for row in read_rows(path)]
    assert pairs == [("run-1", "adbench-1"), ("run-1", "ader"), ("run-2", "ader")]


def test_rows_without_run_id_append_every_time(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    assert append_row(path, make_row()) is True
    assert append_row(path, make_row()) is True
    assert len(read_rows(path)) == 2


def test_a_run_id_on_a_broken_line_does_not_count(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    append_row(path, make_row(run_id="run-0"))
    with open(path, "ab") as handle:  # a crash mid-line left part of run-1's row
        handle.write(",".join(["invad", "coco-ad", "1", "256", "run-1"]).encode())
    assert append_row(path, make_row(run_id="run-1", fold=1)) is True
    assert append_row(path, make_row(run_id="run-0")) is False


def _append_the_same_runs(path: str, start: object, results: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    appended = [append_row(Path(path), make_row(run_id=f"run-{k % 5}", definition=d))
                for k in range(10) for d in ("adbench-1", "ader")]
    results.put(sum(appended))  # type: ignore[attr-defined]


def test_concurrent_appends_of_the_same_runs_keep_one_row_each(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    workers = 4
    start, results = FORK.Barrier(workers), FORK.Queue()
    processes = [FORK.Process(target=_append_the_same_runs, args=(str(path), start, results))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * workers
    assert sum(results.get(timeout=5) for _ in range(workers)) == 10  # True counted once per pair
    pairs = sorted((row["run_id"], row["definition"]) for row in read_rows(path))
    assert pairs == sorted((f"run-{k}", d) for k in range(5) for d in ("adbench-1", "ader"))


# ---- files saved by spreadsheet programs ---------------------------------------------


def spreadsheet_file(path: Path, rows: list[dict[str, object]], header: tuple[str, ...] = COLUMNS,
                     bom: bool = True, newline: str = "\r\n") -> bytes:
    """What a spreadsheet's "CSV UTF-8" export writes: a byte-order mark, CRLF lines."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=newline)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c, "") for c in header])
    return path.read_bytes()


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_a_file_with_a_byte_order_mark_reads_and_appends(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "saved.csv"
    before = spreadsheet_file(path, [make_row(run_id="a", auroc_i=0.25)], newline=newline)
    assert before.startswith(b"\xef\xbb\xbf")
    (row,) = read_rows(path)
    assert row["method"] == "invad" and row["auroc_i"] == 0.25 and row["run_id"] == "a"
    assert append_row(path, make_row(run_id="b", fold=2)) is True
    assert append_row(path, make_row(run_id="a")) is False  # the duplicate check reads it too
    after = path.read_bytes()
    assert after.startswith(before)  # the existing bytes, mark included, are untouched
    assert after[len(before):].endswith(newline.encode()) and after.count(b"\n") == 3
    assert [(r["run_id"], r["fold"]) for r in read_rows(path)] == [("a", 0), ("b", 2)]


def test_a_hand_written_subset_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "hand.csv"
    path.write_bytes(b"\xef\xbb\xbfmethod,dataset,source,definition\r\nrd,mvtec,reported,ader\r\n")
    (row,) = read_rows(path)
    assert (row["method"], row["dataset"], row["definition"]) == ("rd", "mvtec", "ader")


# ---- files of the earlier format (no num_folds, precision, run_id) --------------------


def legacy_file(path: Path, rows: list[dict[str, object]]) -> bytes:
    """A file as the earlier adbench wrote it: its header, `\\n` lines, repr floats."""
    spreadsheet_file(path, rows, header=LEGACY_COLUMNS, bom=False, newline="\n")
    return path.read_bytes()


def test_a_legacy_file_reads_with_the_new_columns_empty(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    legacy_file(path, [make_row(fold=k, auroc_i=k / 10) for k in range(4)])
    rows = read_rows(path)
    assert [row["auroc_i"] for row in rows] == [0.0, 0.1, 0.2, 0.3]
    assert all((r["num_folds"], r["precision"], r["run_id"]) == (None, "", "") for r in rows)


def test_appending_to_a_legacy_file_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    path = tmp_path / "my board.csv"
    before = legacy_file(path, [make_row()])
    with pytest.raises(LeaderboardError) as caught:
        append_row(path, make_row(run_id="new"))
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: line 1: ")
    assert "lacks column(s) num_folds, precision, run_id" in message
    assert f"python -m leaderboard.upgrade '{path}'" in message
    assert path.read_bytes() == before
    with pytest.raises(LeaderboardError, match=r"leaderboard\.upgrade"):
        check_appendable(path)


def test_upgrade_keeps_every_cell_and_then_appends(tmp_path: Path, capsys) -> None:
    path = tmp_path / "old.csv"
    old_rows = [make_row(fold=k, auroc_i=(k + 1) / 10, method='m "q", x') for k in range(4)]
    old_rows.append(make_row(dataset="mvtec", fold=None, seed=None))
    legacy_file(path, old_rows)
    with open(path, newline="") as handle:
        old_records = list(csv.DictReader(handle))
    assert upgrade_main([str(path), "--num-folds", "4"]) == 0
    assert "5 rows kept" in capsys.readouterr().out
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        new_records = list(reader)
    for old, new in zip(old_records, new_records, strict=True):
        assert {c: new[c] for c in LEGACY_COLUMNS} == old  # every cell's text kept
    assert [r["num_folds"] for r in new_records] == ["4", "4", "4", "4", ""]  # mvtec: no fold
    assert all(r["precision"] == r["run_id"] == "" for r in new_records)
    assert append_row(path, make_row(run_id="new", fold=1)) is True
    assert len(fold_averages(read_rows(path))) == 1
    assert upgrade_main([str(path)]) == 0  # a second upgrade has nothing to do
    assert "nothing to do" in capsys.readouterr().out


def test_upgrade_without_num_folds_leaves_it_empty_and_keeps_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    spreadsheet_file(path, [make_row(fold=1)], header=LEGACY_COLUMNS)
    assert upgrade_file(path) == 1
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfmethod,") and data.count(b"\r\n") == 2
    (row,) = read_rows(path)
    assert row["fold"] == 1 and row["num_folds"] is None
    assert upgrade_file(path) is None


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("method,dataset,fold,source,definition\nrd,coco-ad,5,run,ader\n", ["--num-folds", "4"],
         "line 2: fold 5 is not below num_folds 4"),
        ("method,dataset,source,definition\nrd,coco-ad,run,nope\n", [],
         "line 2: definition must be one of"),
        ("method,dataset,score\nrd,coco-ad,1\n", [], "line 1: unknown column(s): score"),
    ],
)
def test_upgrade_refuses_what_it_cannot_keep_and_writes_nothing(
    tmp_path: Path, capsys, text: str, options: list[str], message: str
) -> None:
    path = tmp_path / "old.csv"
    path.write_text(text)
    assert upgrade_main([str(path), *options]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: {message}" in err
    assert path.read_text() == text
    assert [p.name for p in tmp_path.iterdir()] == ["old.csv"]  # no temporary left


def test_upgrade_of_a_missing_file_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert upgrade_main([str(tmp_path / "absent.csv")]) == 1
    absent = tmp_path / "absent.csv"
    assert capsys.readouterr().err == f"error: {absent}: no such leaderboard file\n"
    assert not (tmp_path / "absent.csv").exists()


def _append_one(path: str) -> None:
    append_row(Path(path), make_row(method="waiter", run_id="waiter"))


def test_an_append_waiting_during_an_upgrade_lands_in_the_upgraded_file(tmp_path: Path) -> None:
    path = tmp_path / "lb.csv"
    legacy_file(path, [make_row()])
    with store_module.locked(path, create=False) as fd:  # what upgrade_file holds
        child = FORK.Process(target=_append_one, args=(str(path),))
        child.start()
        time.sleep(0.5)
        assert child.is_alive()  # blocked on the lock of the old file
        replacement = tmp_path / "upgraded.csv"
        replacement.write_text(upgrade_module.upgraded_text(path.read_text(), path, 4) or "")
        os.replace(replacement, path)  # the upgrade's atomic rename
        fcntl.flock(fd, fcntl.LOCK_UN)  # the forked child shares fd: closing would not unlock
    child.join(timeout=20)
    assert child.exitcode == 0
    assert [row["method"] for row in read_rows(path)] == ["invad", "waiter"]


def test_check_appendable(tmp_path: Path) -> None:
    check_appendable(tmp_path / "new.csv")
    assert not (tmp_path / "new.csv").exists()  # nothing created
    with pytest.raises(LeaderboardError, match="not a writable folder"):
        check_appendable(tmp_path / "absent" / "new.csv")
    append_row(tmp_path / "ok.csv", make_row())
    check_appendable(tmp_path / "ok.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LeaderboardError, match="header differs"):
        check_appendable(tmp_path / "other.csv")
