"""Reading and appending the leaderboard CSV file, safely under concurrency.

`append_row` takes an exclusive `fcntl.flock` on the CSV itself, writes the header
when the file is empty, and writes the row's line with a single `os.write` on an
`O_APPEND` descriptor. Two runs finishing at once therefore serialise on the lock and
lose nothing; a write that fails part-way is cut back to the previous size before the
lock is released, so the file never holds half a row.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Mapping
from pathlib import Path

from adcommon.atomic import write_atomic
from leaderboard.schema import (
    COLUMNS,
    REQUIRED_COLUMNS,
    LeaderboardError,
    Row,
    format_row,
    validate_row,
)

ENV_VAR = "ADBENCH_LEADERBOARD"


def default_path() -> Path:
    """The leaderboard CSV to use: `$ADBENCH_LEADERBOARD` if set, else ./leaderboard.csv."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env) if env else Path("leaderboard.csv")


def csv_line(cells: list[str]) -> bytes:
    """One CSV record (quoted where needed, `\\n`-terminated) as UTF-8 bytes."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode("utf-8")


HEADER_LINE = csv_line(list(COLUMNS))


def _check_existing_header(fd: int, csv_path: Path) -> None:
    """Refuse to append to a file whose first line is not our header."""
    first = os.pread(fd, len(HEADER_LINE), 0)
    if first != HEADER_LINE:
        raise LeaderboardError(
            f"{csv_path}: line 1: header differs from the leaderboard columns; "
            "append to a new file or fix the header"
        )


def _ends_with_newline(fd: int, size: int) -> bool:
    return os.pread(fd, 1, size - 1) == b"\n"


def append_row(csv_path: Path, row: Mapping[str, object]) -> None:
    """Validate `row` and append it to `csv_path` atomically under an exclusive lock.

    Creates the file (and its header) if missing. Raises `LeaderboardError` for an
    invalid row or a file with another header; nothing is written then.
    """
    csv_path = Path(csv_path)
    line = csv_line(format_row(validate_row(row)))
    try:
        fd = os.open(csv_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as error:
        raise LeaderboardError(f"{csv_path}: cannot open: {error.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size == 0:
            payload = HEADER_LINE + line
        else:
            _check_existing_header(fd, csv_path)
            # A line cut short by an earlier crash stays a (reported) bad line of its own.
            payload = line if _ends_with_newline(fd, size) else b"\n" + line
        try:
            written = os.write(fd, payload)
            if written != len(payload):
                raise OSError(f"short write ({written} of {len(payload)} bytes)")
            os.fsync(fd)
        except OSError as error:
            os.ftruncate(fd, size)
            raise LeaderboardError(f"{csv_path}: could not append the row: {error}") from error
    finally:
        os.close(fd)  # closing releases the lock


def _read_header(header: list[str], csv_path: Path) -> list[str]:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise LeaderboardError(f"{csv_path}: line 1: unknown column(s): {', '.join(unknown)}")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise LeaderboardError(f"{csv_path}: line 1: repeated column(s): {', '.join(duplicated)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise LeaderboardError(
            f"{csv_path}: line 1: missing required column(s): {', '.join(missing)}"
        )
    return header


def parse_csv(text: str, csv_path: Path) -> list[Row]:
    """The validated rows of leaderboard CSV `text`; errors name `csv_path` and the line.

    The header may list the columns in any order and leave optional ones out (a
    hand-written file); blank lines are skipped.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = _read_header(header, csv_path)
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise LeaderboardError(
                    f"{csv_path}: line {reader.line_num}: {len(cells)} cells, "
                    f"the header has {len(header)}"
                )
            try:
                rows.append(validate_row(dict(zip(header, cells, strict=True))))
            except LeaderboardError as error:
                raise LeaderboardError(f"{csv_path}: line {reader.line_num}: {error}") from None
    except csv.Error as error:
        raise LeaderboardError(f"{csv_path}: line {reader.line_num}: {error}") from None
    return rows


def read_rows(csv_path: Path) -> list[Row]:
    """The validated, normalised rows of the leaderboard CSV at `csv_path`.

    Raises `LeaderboardError` (one line, naming the file and the line) for a missing
    or unreadable file, an unknown header or a malformed row. Reads under a shared
    lock so a concurrent append is never seen half-done.
    """
    csv_path = Path(csv_path)
    try:
        with open(csv_path, encoding="utf-8", newline="") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            text = handle.read()
    except FileNotFoundError:
        raise LeaderboardError(f"{csv_path}: no such leaderboard file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"{csv_path}: cannot read: {error}") from None
    return parse_csv(text, csv_path)


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` crash-safely; LeaderboardError on failure."""
    try:
        write_atomic(Path(path), text.encode("utf-8"))
    except OSError as error:
        raise LeaderboardError(f"{path}: cannot write: {error}") from None
