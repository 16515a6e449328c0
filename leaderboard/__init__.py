"""leaderboard: the results CSV (one row per run), its validation and rendering.

`append_row` records a finished run (atomic, under a file lock, once per run_id and
definition), `read_rows` reads and validates a file, `render` turns rows into
Markdown, CSV or a self-contained HTML page with the fold means, `reference_rows`
gives ADer's published rows, `leaderboard.upgrade` brings a file of an earlier
version to the current columns. No torch here: the package only needs the standard
library, `metrics.keys` and `cocoad.reference` (the dataset labels). See
docs/leaderboard.md.
"""

from leaderboard.aggregate import AGGREGATE_DATASET, FoldSummary, fold_averages, fold_summaries
from leaderboard.reference import reference_rows
from leaderboard.render import render
from leaderboard.schema import COLUMNS, LeaderboardError, validate_row
from leaderboard.store import append_row, check_appendable, default_path, read_rows

__all__ = [
    "AGGREGATE_DATASET",
    "COLUMNS",
    "FoldSummary",
    "LeaderboardError",
    "append_row",
    "check_appendable",
    "default_path",
    "fold_averages",
    "fold_summaries",
    "read_rows",
    "reference_rows",
    "render",
    "validate_row",
]
