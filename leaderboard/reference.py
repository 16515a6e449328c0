"""ADer's published COCO-AD rows, shipped as package data for `--with-reference`.

`data/ader_coco_ad.csv` holds the figures of ADer's benchmark logs (12 methods, folds
0..3, CFA fold 0 only; 256 px, 100 epochs) in the leaderboard schema, marked
`source=reported` and `definition=ader`: ADer's evaluator bins pixel scores, so its
pixel AUROC/AP/AUPRO and F1-max differ from adbench's exact definition (see
docs/leaderboard.md). The four
`mad*` aggregates are not in the logs; they were computed from the logged figures with
the formulas of docs/metrics.md and rounded to 6 decimals. Methods carry the registry's
names (ADer's `rd++` is `rdpp` here), so published rows sit beside our runs of the same
method.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from leaderboard.schema import Row
from leaderboard.store import parse_csv

REFERENCE_RESOURCE = "data/ader_coco_ad.csv"


def reference_rows() -> list[Row]:
    """The published ADer rows, validated and normalised like `read_rows` output."""
    resource = files("leaderboard").joinpath(REFERENCE_RESOURCE)
    label = Path("leaderboard") / REFERENCE_RESOURCE
    return parse_csv(resource.read_text(encoding="utf-8"), label)
