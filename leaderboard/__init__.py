"""leaderboard: the results CSV (one row per run), its validation and rendering.

`append_row` records a finished run (atomic, under a file lock), `read_rows` reads
and validates a file, `render` turns rows into Markdown, CSV or a sortable HTML page
with the COCO-AD four-fold averages, `reference_rows` gives ADer's published rows.
No torch here: the package only needs the standard library and `metrics.keys`.
"""

from leaderboard.aggregate import AGGREGATE_DATASET, fold_averages
from leaderboard.reference import reference_rows
from leaderboard.render import render
from leaderboard.schema import COLUMNS, LeaderboardError, validate_row
from leaderboard.store import append_row, default_path, read_rows

__all__ = [
    "AGGREGATE_DATASET",
    "COLUMNS",
    "LeaderboardError",
    "append_row",
    "default_path",
    "fold_averages",
    "read_rows",
    "reference_rows",
    "render",
    "validate_row",
]
