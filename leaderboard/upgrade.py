"""Upgrade a leaderboard file to the current columns, keeping every row's cells.

`python -m leaderboard.upgrade FILE [--num-folds N]` rewrites FILE with the header
`leaderboard.COLUMNS`: every existing cell keeps its text, the columns the file lacked
(`num_folds`, `precision`, `run_id` for a file of an earlier version) are added empty.
A file of an earlier version cannot say how many folds its COCO-AD split had; with
`--num-folds N` the rows that have a fold get num_folds N (the earlier versions
averaged folds 0..3 as the 4-fold split), without it they are not fold-averaged.

Safety: the file is validated first (nothing is written if any row is bad); the new
text is checked to read back as the same rows; it replaces the file atomically while
the append lock is held, so a concurrent `append_row` waits and then appends to the
upgraded file. A byte-order mark and CRLF line ends are kept. See docs/leaderboard.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from pathlib import Path

from adcommon.atomic import atomic_path
from leaderboard.schema import ADDED_COLUMNS, COLUMNS, LeaderboardError
from leaderboard.store import BOM, check_header, locked, parse_csv


def upgraded_text(text: str, csv_path: Path, num_folds: int | None) -> str | None:
    """`text` rewritten with every column (see module doc), or None if it has them all
    in order already. Raises `LeaderboardError` for a file that does not read."""
    upgraded = _upgraded(text, csv_path, num_folds)
    return None if upgraded is None else upgraded[0]


def _upgraded(text: str, csv_path: Path, num_folds: int | None) -> tuple[str, int] | None:
    """`upgraded_text` and the number of rows it holds (read back once, as checked)."""
    old_rows = parse_csv(text, csv_path)
    body = text.removeprefix(BOM)
    records = list(csv.reader(io.StringIO(body, newline="")))
    if not records:
        return None
    header = check_header(records[0], csv_path)
    if header == list(COLUMNS):
        return None
    terminator = "\r\n" if body.split("\n", 1)[0].endswith("\r") else "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=terminator)
    writer.writerow(COLUMNS)
    for cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        old = dict(zip(header, cells, strict=True))
        if num_folds is not None and "num_folds" not in header and old.get("fold", "").strip():
            old["num_folds"] = str(num_folds)
        writer.writerow([old.get(column, "") for column in COLUMNS])
    new_text = (BOM if text.startswith(BOM) else "") + buffer.getvalue()
    new_rows = parse_csv(new_text, csv_path)  # a fold >= --num-folds is refused here
    added = [c for c in ADDED_COLUMNS if c not in header]
    if [{c: v for c, v in row.items() if c not in added} for row in new_rows] != [
        {c: v for c, v in row.items() if c not in added} for row in old_rows
    ]:
        raise AssertionError(f"{csv_path}: the upgraded rows differ from the original rows")
    return new_text, len(new_rows)


def upgrade_file(csv_path: Path, num_folds: int | None = None) -> int | None:
    """Upgrade `csv_path` in place (see module doc). Returns the number of rows kept,
    or None if the file already had the current header (then nothing is written)."""
    csv_path = Path(csv_path)
    if num_folds is not None and num_folds < 1:
        raise LeaderboardError(f"--num-folds must be at least 1, got {num_folds}")
    with locked(csv_path, create=False) as fd:
        stat = os.fstat(fd)
        try:
            text = os.pread(fd, stat.st_size, 0).decode("utf-8")
        except UnicodeDecodeError as error:
            raise LeaderboardError(f"{csv_path}: cannot read: {error}") from None
        upgraded = _upgraded(text, csv_path, num_folds)
        if upgraded is None:
            return None
        new_text, kept = upgraded
        try:
            with atomic_path(csv_path) as temp:
                temp.write_text(new_text, encoding="utf-8", newline="")
                os.chmod(temp, stat.st_mode & 0o7777)
        except OSError as error:
            raise LeaderboardError(f"{csv_path}: cannot write: {error}") from None
    return kept


def main(argv: list[str] | None = None) -> int:
    """The command line: upgrade one file, print what was done; 1 on a user error."""
    parser = argparse.ArgumentParser(
        prog="python -m leaderboard.upgrade",
        description="Rewrite a leaderboard CSV with the current columns, keeping every row.",
    )
    parser.add_argument("csv_path", type=Path, metavar="FILE")
    parser.add_argument("--num-folds", type=int, default=None,
                        help="num_folds for the rows that have a fold (e.g. 4 for "
                             "COCO-AD's default split); default: leave it empty")
    args = parser.parse_args(argv)
    try:
        kept = upgrade_file(args.csv_path, args.num_folds)
    except LeaderboardError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if kept is None:
        print(f"{args.csv_path}: already has the current columns; nothing to do")
    else:
        print(f"{args.csv_path}: upgraded to the current columns, {kept} rows kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
