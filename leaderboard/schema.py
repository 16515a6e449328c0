"""The leaderboard CSV schema: its columns and the validation of one row.

A row travels as a mapping column -> value. `validate_row` checks it against the
schema and returns it normalised: every column present, text as `str` ("" when
empty), integers as `int`, metrics and timings as `float`, empty numbers as `None`.
`format_row` turns a normalised row back into CSV cells. Readers and writers share
these two functions, so a row that can be appended can always be read back.
See docs/leaderboard.md ("Columns").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from adcommon.errors import InputError
from metrics.keys import DEFINITIONS, METRIC_KEYS

RUN_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "fold", "image_size", "epochs", "backbone", "weights", "seed",
)
TIMING_COLUMNS: tuple[str, ...] = ("train_seconds", "images_per_second")
PROVENANCE_COLUMNS: tuple[str, ...] = (
    "device", "torch", "adbench_version", "git_commit", "finished_at", "source", "definition",
)
ADDED_COLUMNS: tuple[str, ...] = ("num_folds", "precision", "run_id")
"""The columns added after the first file format; files without them still read
(docs/leaderboard.md, "Files from earlier versions")."""

LEGACY_COLUMNS: tuple[str, ...] = RUN_COLUMNS + METRIC_KEYS + TIMING_COLUMNS + PROVENANCE_COLUMNS
"""The header written by adbench before `ADDED_COLUMNS` existed."""
COLUMNS: tuple[str, ...] = LEGACY_COLUMNS + ADDED_COLUMNS
"""Every column of the leaderboard CSV, in file order (see docs/leaderboard.md)."""

REQUIRED_COLUMNS: tuple[str, ...] = ("method", "dataset", "source", "definition")
INT_COLUMNS: tuple[str, ...] = ("fold", "image_size", "epochs", "seed", "num_folds")
SOURCES: tuple[str, ...] = ("run", "reported")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
CHOICES: dict[str, tuple[str, ...]] = {
    "source": SOURCES, "definition": DEFINITIONS, "precision": PRECISIONS,
}
"""Text columns restricted to a fixed set of values (`precision` may also be empty)."""

Value = str | int | float | None
Row = dict[str, Value]


class LeaderboardError(InputError):
    """A leaderboard file or row breaks the schema; the message is one line."""


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _parse_int(column: str, value: object) -> int:
    if isinstance(value, (bool, float)):
        raise LeaderboardError(f"{column} must be an integer, got {value!r}")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise LeaderboardError(f"{column} must be an integer, got {value!r}") from None
    if number < 0:
        raise LeaderboardError(f"{column} must not be negative, got {number}")
    return number


def _parse_float(column: str, value: object, unit_interval: bool) -> float:
    if isinstance(value, bool):
        raise LeaderboardError(f"{column} must be a number, got {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LeaderboardError(f"{column} must be a number, got {value!r}") from None
    upper = 1.0 if unit_interval else math.inf
    if not (0.0 <= number <= upper) or math.isinf(number):  # the comparison rejects NaN
        bound = "in [0, 1]" if unit_interval else "finite and >= 0"
        raise LeaderboardError(f"{column} must be {bound}, got {value!r}")
    return number


def _parse_text(column: str, value: object) -> str:
    text = str(value).strip()
    if any(ch in text for ch in "\r\n\x00"):
        raise LeaderboardError(f"{column} must be a single line of text, got {value!r}")
    choices = CHOICES.get(column)
    if choices is not None and text not in choices:
        raise LeaderboardError(f"{column} must be one of {', '.join(choices)}, got {text!r}")
    if column == "finished_at":
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise LeaderboardError(f"finished_at must be ISO 8601, got {text!r}") from None
    return text


def parse_value(column: str, value: object) -> Value:
    """One cell of `column`, checked and converted to its type (`None`/"" when empty)."""
    if column in INT_COLUMNS:
        return None if _is_empty(value) else _parse_int(column, value)
    if column in METRIC_KEYS:
        return None if _is_empty(value) else _parse_float(column, value, unit_interval=True)
    if column in TIMING_COLUMNS:
        return None if _is_empty(value) else _parse_float(column, value, unit_interval=False)
    return "" if _is_empty(value) else _parse_text(column, value)


def validate_row(row: Mapping[str, object]) -> Row:
    """Check `row` against the schema and return it normalised with every column.

    Rejects unknown columns, a missing or empty required column (method, dataset,
    source, definition), metrics outside [0, 1] or NaN, non-integer fold/image_size/
    epochs/seed/num_folds, a num_folds of 0, a fold not below num_folds, negative or
    infinite timings, multi-line text, a `source` other than run|reported, a
    `definition` other than adbench-1|ader|ader-paper, a `precision` other than
    fp32|bf16 (or empty), a non-ISO `finished_at`. Raises `LeaderboardError` with a
    one-line message naming the column.
    """
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        raise LeaderboardError(f"unknown column(s): {', '.join(unknown)}")
    missing = [c for c in REQUIRED_COLUMNS if _is_empty(row.get(c))]
    if missing:
        raise LeaderboardError(f"missing required column(s): {', '.join(missing)}")
    normalised = {column: parse_value(column, row.get(column)) for column in COLUMNS}
    _check_fold_split(normalised["fold"], normalised["num_folds"])
    return normalised


def _check_fold_split(fold: Value, num_folds: Value) -> None:
    if num_folds is None:
        return
    if num_folds == 0:
        raise LeaderboardError("num_folds must be at least 1, got 0")
    if fold is not None and fold >= num_folds:  # type: ignore[operator]
        raise LeaderboardError(f"fold {fold} is not below num_folds {num_folds}")


def format_cell(value: Value) -> str:
    """The CSV text of one normalised value: shortest round-trip repr for floats."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_row(row: Row) -> list[str]:
    """The CSV cells of a normalised row, in `COLUMNS` order."""
    return [format_cell(row[column]) for column in COLUMNS]
