"""metrics: the exact anomaly-detection metric suite of docs/metrics.md (numpy + numba, no torch).

- `score(maps, masks, image_scores=None)`: every metric of one class, from arrays.
- `score_folders(preds, gts, meta=None, ...)`: a PREDS tree against a GTS tree, per class
  and averaged over classes, in the `adbench score --json` layout.
- `write_json`, `write_csv`, `format_table`: the outputs of `adbench score`.
"""

from metrics.errors import ScoreInputError
from metrics.folder_scoring import score_folders
from metrics.keys import METRIC_KEYS
from metrics.report import format_table, write_csv, write_json
from metrics.score import score

__all__ = ["METRIC_KEYS", "ScoreInputError", "format_table", "score", "score_folders",
           "write_csv", "write_json"]
