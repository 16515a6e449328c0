"""The "COCO-AD (4 folds)" rows: metrics averaged over the four folds, as the paper reports.

Rows are grouped by (method, dataset, image_size, epochs, backbone, weights, source,
definition); only COCO-AD groups holding every fold 0..3 get an aggregate row. For
each metric, the runs of one fold are averaged first (several seeds count as one
fold), then the four fold values are averaged with equal weight:

    aggregate[m] = 1/4 * sum_{k=0..3} mean{row[m] : row in group, row.fold = k}

A metric missing in any run of the group stays empty in the aggregate rather than
being averaged over fewer folds.
"""

from __future__ import annotations

from collections import defaultdict

from leaderboard.schema import COLUMNS, Row, parse_value
from metrics.aggregates import mean_or_none
from metrics.keys import METRIC_KEYS

COCO_AD = "coco-ad"
FOLDS: tuple[int, ...] = (0, 1, 2, 3)
AGGREGATE_DATASET = "COCO-AD (4 folds)"
"""The `dataset` cell of an aggregate row (its `fold` is empty)."""

GROUP_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "image_size", "epochs", "backbone", "weights", "source", "definition",
)


def normalise_dataset(name: object) -> str:
    """A dataset name compared case-insensitively, `_` read as `-`; COCO-AD as `coco-ad`."""
    name = str(name).strip().lower().replace("_", "-")
    return COCO_AD if name == "cocoad" else name


def is_coco_ad(dataset: object) -> bool:
    """Whether a `dataset` cell names COCO-AD (`coco-ad`, `COCO_AD`, `cocoad`, ...)."""
    return normalise_dataset(dataset) == COCO_AD


def is_aggregate(row: Row) -> bool:
    """Whether `row` is a fold average produced by `fold_averages`."""
    return row.get("dataset") == AGGREGATE_DATASET and row.get("fold") is None


def _aggregate(group: list[Row]) -> Row:
    by_fold: dict[int, list[Row]] = defaultdict(list)
    for row in group:
        by_fold[row["fold"]].append(row)  # type: ignore[index]
    result: Row = {column: parse_value(column, None) for column in COLUMNS}
    result.update({column: group[0][column] for column in GROUP_COLUMNS})
    result["dataset"] = AGGREGATE_DATASET
    for key in METRIC_KEYS:
        fold_means = [mean_or_none([row[key] for row in by_fold[k]]) for k in FOLDS]
        result[key] = mean_or_none(fold_means)
    return result


def fold_averages(rows: list[Row]) -> list[Row]:
    """One aggregate row per COCO-AD group that has all folds 0..3 (see module doc)."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        if is_coco_ad(row["dataset"]) and row["fold"] in FOLDS:
            key = tuple(COCO_AD if c == "dataset" else row[c] for c in GROUP_COLUMNS)
            groups[key].append(row)
    return [
        _aggregate(group)
        for group in groups.values()
        if {row["fold"] for row in group} >= set(FOLDS)
    ]
