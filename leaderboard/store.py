"""Reading and appending the leaderboard CSV file, safely under concurrency.

`append_row` takes an exclusive `fcntl.flock` on the CSV itself, writes the header
when the file is empty, and writes the row's line with a single `os.write` on an
`O_APPEND` descriptor. Two runs finishing at once therefore serialise on the lock and
lose nothing; a write that fails part-way is cut back to the previous size before the
lock is released, so the file never holds half a row. A row with a `run_id` is
appended at most once per (run_id, definition): the check runs under the same lock.
Files saved by spreadsheet programs (a UTF-8 byte-order mark, CRLF line ends) read
and append; a file from an earlier version (without the newer columns) reads, and
appending to it is refused with the command that upgrades it (`leaderboard.upgrade`).
See docs/leaderboard.md ("Appending safely").
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
BOM = "\ufeff"
HEADER_PROBE_BYTES = 1 << 16
"""How much of a file is read to find its header line (ours is about 400 bytes)."""


def default_path() -> Path:
    """The leaderboard CSV to use: `$ADBENCH_LEADERBOARD` if set, else ./leaderboard.csv."""
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env) if env else Path("leaderboard.csv")


def csv_line(cells: list[str], terminator: str = "\n") -> bytes:
    """One CSV record (quoted where needed, ended by `terminator`) as UTF-8 bytes."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerow(cells)
    return buffer.getvalue().encode("utf-8")


HEADER_LINE = csv_line(list(COLUMNS))


def upgrade_command(csv_path: Path) -> str:
    """The shell command that upgrades `csv_path` to the current columns."""
    return f"python -m leaderboard.upgrade {shlex.quote(str(csv_path))}"


def check_header(header: list[str], csv_path: Path) -> list[str]:
    """`header` if it is a readable leaderboard header (a subset of `COLUMNS` in any
    order, with the required ones); else `LeaderboardError` naming the problem."""
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


def _check_appendable_header(first_line: bytes, csv_path: Path) -> str:
    """The line terminator to append with, if the file's header is the current one.

    A readable header without every column (an earlier version's file, a hand-written
    one) is refused with the upgrade command; any other header as not ours."""
    try:
        text = first_line.decode("utf-8-sig")
        header = next(csv.reader([text.rstrip("\r\n")]), [])
    except (UnicodeDecodeError, csv.Error):
        header = []
    if header == list(COLUMNS):
        return "\r\n" if first_line.endswith(b"\r\n") else "\n"
    try:
        check_header(header, csv_path)
    except LeaderboardError:
        raise LeaderboardError(
            f"{csv_path}: line 1: header differs from the leaderboard columns; "
            "append to a new file or fix the header"
        ) from None
    absent = [name for name in COLUMNS if name not in header]
    detail = (f"lacks column(s) {', '.join(absent)}" if absent
              else "lists the columns in another order")
    raise LeaderboardError(
        f"{csv_path}: line 1: the header {detail} (an earlier adbench's file?); "
        f"nothing appended; upgrade it, keeping every row, with: {upgrade_command(csv_path)}"
    )


def _first_line(fd: int, size: int) -> bytes:
    probe = os.pread(fd, min(size, HEADER_PROBE_BYTES), 0)
    end = probe.find(b"\n")
    return probe if end < 0 else probe[: end + 1]


def _has_row(fd: int, size: int, run_id: str, definition: str) -> bool:
    """Whether the file already holds a row of (run_id, definition). Broken lines are
    skipped here (`read_rows` reports them)."""
    text = os.pread(fd, size, 0).decode("utf-8-sig", errors="replace")
    at_run, at_definition = COLUMNS.index("run_id"), COLUMNS.index("definition")
    records = csv.reader(io.StringIO(text, newline=""))
    next(records, None)
    try:
        return any(
            len(cells) == len(COLUMNS)
            and cells[at_run].strip() == run_id
            and cells[at_definition].strip() == definition
            for cells in records
        )
    except csv.Error:
        return False


@contextmanager
def locked(csv_path: Path, create: bool) -> Iterator[int]:
    """An `O_APPEND` descriptor of `csv_path` under an exclusive flock.

    If the file was replaced (renamed over, as `leaderboard.upgrade` does) while we
    waited for the lock, the new file is opened and locked instead, so no row goes to
    an unlinked file."""
    flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(csv_path, flags, 0o644)
        except FileNotFoundError:
            raise LeaderboardError(f"{csv_path}: no such leaderboard file") from None
        except OSError as error:
            raise LeaderboardError(f"{csv_path}: cannot open: {error.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.path.samestat(os.fstat(fd), os.stat(csv_path)):
                break
        except FileNotFoundError:
            pass  # renamed away and not yet replaced: try again
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def append_row(csv_path: Path, row: Mapping[str, object]) -> bool:
    """Validate `row` and append it to `csv_path` atomically under an exclusive lock.

    Creates the file (and its header) if missing. Returns True if the row was
    appended, False if it has a `run_id` and the file already holds a row with the
    same (run_id, definition) (nothing is written then: re-scoring a run is
    idempotent). Raises `LeaderboardError` for an invalid row or a file with another
    header (an earlier version's header names the upgrade command); nothing is
    written then.
    """
    csv_path = Path(csv_path)
    record = validate_row(row)
    with locked(csv_path, create=True) as fd:
        size = os.fstat(fd).st_size
        if size == 0:
            payload = HEADER_LINE + csv_line(format_row(record))
        else:
            terminator = _check_appendable_header(_first_line(fd, size), csv_path)
            run_id, definition = str(record["run_id"]), str(record["definition"])
            if run_id and _has_row(fd, size, run_id, definition):
                return False
            line = csv_line(format_row(record), terminator)
            # A line cut short by an earlier crash stays a (reported) bad line of its own.
            ends_line = os.pread(fd, 1, size - 1) == b"\n"
            payload = line if ends_line else terminator.encode() + line
        try:
            written = os.write(fd, payload)
            if written != len(payload):
                raise OSError(f"short write ({written} of {len(payload)} bytes)")
            os.fsync(fd)
        except OSError as error:
            os.ftruncate(fd, size)
            raise LeaderboardError(f"{csv_path}: could not append the row: {error}") from error
    return True


def check_appendable(csv_path: Path) -> None:
    """Raise `LeaderboardError` now if `append_row(csv_path, ...)` would be refused for
    the file itself (unwritable, another header, an earlier version's columns), so a
    run can fail before it trains rather than after. Creates nothing."""
    csv_path = Path(csv_path)
    if not csv_path.exists():
        folder = csv_path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise LeaderboardError(f"{csv_path}: cannot create: {folder} is not a writable folder")
        return
    with locked(csv_path, create=False) as fd:
        size = os.fstat(fd).st_size
        if size:
            _check_appendable_header(_first_line(fd, size), csv_path)


def parse_csv(text: str, csv_path: Path) -> list[Row]:
    """The validated rows of leaderboard CSV `text`; errors name `csv_path` and the line.

    The header may list the columns in any order and leave optional ones out (a
    hand-written file, an earlier version's file); a leading byte-order mark is
    ignored; blank lines are skipped.
    """
    reader = csv.reader(io.StringIO(text.removeprefix(BOM), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return []
        header = check_header(header, csv_path)
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


def read_text(csv_path: Path) -> str:
    """The text of the leaderboard file at `csv_path`, read under a shared lock so a
    concurrent append is never seen half-done; one-line `LeaderboardError` if absent
    or unreadable."""
    try:
        with open(csv_path, encoding="utf-8", newline="") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            return handle.read()
    except FileNotFoundError:
        raise LeaderboardError(f"{csv_path}: no such leaderboard file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LeaderboardError(f"{csv_path}: cannot read: {error}") from None


def read_rows(csv_path: Path) -> list[Row]:
    """The validated, normalised rows of the leaderboard CSV at `csv_path`.

    Raises `LeaderboardError` (one line, naming the file and the line) for a missing
    or unreadable file, an unknown header or a malformed row.
    """
    csv_path = Path(csv_path)
    return parse_csv(read_text(csv_path), csv_path)


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` crash-safely; LeaderboardError on failure."""
    try:
        write_atomic(Path(path), text.encode("utf-8"))
    except OSError as error:
        raise LeaderboardError(f"{path}: cannot write: {error}") from None
