"""How leaderboard values read for people: metrics in percent, folds as "k/n", names.

Shared by the Markdown table and the HTML page (the CSV keeps the stored values).
"""

from __future__ import annotations

from leaderboard.schema import INT_COLUMNS, TIMING_COLUMNS, Row, Value
from metrics.keys import METRIC_KEYS, PAPER_NAMES

NUMERIC_COLUMNS = frozenset((*INT_COLUMNS, *METRIC_KEYS, *TIMING_COLUMNS))
SOURCE_LABELS = {"run": "ours", "reported": "published"}
"""The badge of each `source`: rows this tool produced, numbers copied from a paper."""
DEFINITION_LABELS = {"adbench-1": "exact", "ader": "ader", "ader-paper": "ader-paper"}
"""The badge of each metric `definition` (docs/metrics.md)."""


def percent(value: Value, empty: str = "") -> str:
    """A metric in [0, 1] as percent with one decimal, as the papers print them; `empty`
    where there is no value."""
    return empty if value is None else f"{100 * float(value):.1f}"


def display(column: str, value: Value) -> str:
    """A cell for people: metrics in percent, other numbers rounded, empty as ''."""
    if value is None:
        return ""
    if column in METRIC_KEYS:
        return percent(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def fold_label(row: Row) -> str:
    """"k/n" (fold k of an n-fold split), "k" when the split is unknown, '' without fold."""
    if row["fold"] is None:
        return ""
    return f"{row['fold']}/{row['num_folds']}" if row["num_folds"] is not None else str(row["fold"])


def header_name(column: str) -> str:
    """A column's header: the paper's name for a metric (plain text), else the key."""
    return PAPER_NAMES.get(column, column)
