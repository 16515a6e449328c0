"""metrics: the exact anomaly-detection metric suite of docs/metrics.md (numpy + numba, no torch).

- `score(maps, masks, image_scores=None, compat=None)`: every metric of one class, from
  arrays (maps of one class may differ in size).
- `Scorer`: the same from streamed batches (training loops, DDP), memory-bounded,
  mergeable and picklable; `Scorer.curves` / `class_curves`: exact curves for reports.
- `score_folders(preds, gts, meta=None, ..., resize="none", mask_threshold=None,
  max_memory=4.0, tmp=None)`: a PREDS tree against a GTS tree, per class and averaged
  over classes, in the `adbench score --json` layout; `score_folders_by_definition`:
  the same for several definitions from one read of the files.
- `read_ahead(load, count, workers, progress, label)`: items loaded on threads a few
  ahead of their consumer, in order (how the folder scorer reads).
- `load_pair(map_path, mask_path, resize, mask_threshold)`: one image's map and mask.
- `resize_mask`, `resize_map`: the two evaluation-size rules (ADer's mask resize; torch's
  bilinear map resize, without torch).
- `write_json`, `write_csv`, `format_table`: the outputs of `adbench score`.
"""

from metrics.curves import ClassCurves, Curve, Histogram
from metrics.dataset_scorer import DatasetScorer
from metrics.errors import ScoreInputError, UndefinedMetricWarning
from metrics.folder_scoring import default_workers, score_folders, score_folders_by_definition
from metrics.keys import (
    COMPAT_DEFINITIONS,
    METRIC_KEYS,
    RESIZE_CHOICES,
    ClassCounts,
    ClassMetrics,
    ScoreResult,
)
from metrics.loading import read_ahead
from metrics.pairs import load_pair
from metrics.readers import read_mask
from metrics.report import format_table, write_csv, write_json
from metrics.resize import resize_map, resize_mask
from metrics.score import class_curves, score
from metrics.scorer import Scorer

__all__ = [
    "COMPAT_DEFINITIONS",
    "METRIC_KEYS",
    "RESIZE_CHOICES",
    "ClassCounts",
    "ClassCurves",
    "ClassMetrics",
    "Curve",
    "DatasetScorer",
    "Histogram",
    "ScoreInputError",
    "ScoreResult",
    "Scorer",
    "UndefinedMetricWarning",
    "class_curves",
    "default_workers",
    "format_table",
    "load_pair",
    "read_ahead",
    "read_mask",
    "resize_map",
    "resize_mask",
    "score",
    "score_folders",
    "score_folders_by_definition",
    "write_csv",
    "write_json",
]
