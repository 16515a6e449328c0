"""Fold means: the metrics of a complete set of folds averaged, as the paper reports COCO-AD.

Rows are grouped by (method, dataset, num_folds, image_size, epochs, backbone, weights,
source, definition, precision); rows of different splits (num_folds), metric
definitions or precisions are never averaged together. Only rows with both `fold` and
`num_folds` take part, and a group gets a mean row only when it holds every fold
0..num_folds-1. For each metric, the runs of one fold are averaged first (several
seeds count as one fold), then the n fold values v_0..v_{n-1} with equal weight:

    mean[m] = 1/n * sum_k v_k        std[m] = sqrt(1/n * sum_k (v_k - mean[m])^2)

(`std` is the spread of the fold values themselves, divided by n as numpy.std does.)
A metric missing in any run of the group stays empty rather than being averaged over
fewer folds. See docs/leaderboard.md ("Fold means").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import pstdev

from cocoad.reference import COCO_AD_LABEL
from leaderboard.schema import COLUMNS, Row, parse_value
from metrics.aggregates import mean_or_none
from metrics.keys import METRIC_KEYS

GROUP_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "num_folds", "image_size", "epochs", "backbone", "weights",
    "source", "definition", "precision",
)


def normalise_dataset(name: object) -> str:
    """A dataset name compared case-insensitively, `_` read as `-`; COCO-AD as `coco-ad`."""
    name = str(name).strip().lower().replace("_", "-")
    return COCO_AD_LABEL if name == "cocoad" else name


def is_coco_ad(dataset: object) -> bool:
    """Whether a `dataset` cell names COCO-AD (`coco-ad`, `COCO_AD`, `cocoad`, ...)."""
    return normalise_dataset(dataset) == COCO_AD_LABEL


def aggregate_dataset(dataset: object, num_folds: int) -> str:
    """The `dataset` cell of a fold mean: "COCO-AD (4 folds)", "coco-format (8 folds)"."""
    name = "COCO-AD" if is_coco_ad(dataset) else normalise_dataset(dataset)
    return f"{name} ({num_folds} folds)"


AGGREGATE_DATASET = aggregate_dataset(COCO_AD_LABEL, 4)
"""The `dataset` cell of the paper's COCO-AD mean row (its `fold` is empty)."""


def is_aggregate(row: Row) -> bool:
    """Whether `row` is a fold mean: no fold, a num_folds, a dataset ending " (n folds)"."""
    num_folds = row.get("num_folds")
    return (
        row.get("fold") is None
        and isinstance(num_folds, int)
        and str(row.get("dataset")).endswith(f" ({num_folds} folds)")
    )


def base_dataset(row: Row) -> str:
    """The normalised dataset of a row; for a fold mean, the dataset it averages."""
    dataset = str(row["dataset"])
    if is_aggregate(row):
        dataset = dataset[: dataset.rindex(" (")]
    return normalise_dataset(dataset)


@dataclass(frozen=True)
class FoldSummary:
    """A fold mean row, the spread of its fold values and how many runs it covers."""

    mean: Row
    std: dict[str, float | None]
    runs: int


def _summarise(group: list[Row], num_folds: int) -> FoldSummary:
    by_fold: dict[int, list[Row]] = defaultdict(list)
    for row in group:
        by_fold[row["fold"]].append(row)  # type: ignore[index]
    mean: Row = {column: parse_value(column, None) for column in COLUMNS}
    mean.update({column: group[0][column] for column in GROUP_COLUMNS})
    mean["dataset"] = aggregate_dataset(group[0]["dataset"], num_folds)
    std: dict[str, float | None] = {}
    for key in METRIC_KEYS:
        fold_values = [
            mean_or_none([row[key] for row in by_fold[k]])  # type: ignore[misc]
            for k in range(num_folds)
        ]
        # mean_or_none is None unless every fold value is defined
        mean[key] = mean_or_none(fold_values)
        std[key] = pstdev(fold_values) if mean[key] is not None else None  # type: ignore[type-var]
    return FoldSummary(mean, std, len(group))


def _group_key(row: Row) -> tuple:
    return tuple(
        normalise_dataset(row[c]) if c == "dataset" else row[c] for c in GROUP_COLUMNS
    )


def fold_summaries(rows: list[Row]) -> list[FoldSummary]:
    """One summary per group holding every fold 0..num_folds-1 (see module doc)."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for row in rows:
        if row["fold"] is not None and row["num_folds"] is not None:
            groups[_group_key(row)].append(row)
    summaries = []
    for group in groups.values():
        num_folds: int = group[0]["num_folds"]  # type: ignore[assignment]
        if {row["fold"] for row in group} == set(range(num_folds)):
            summaries.append(_summarise(group, num_folds))
    return summaries


def fold_averages(rows: list[Row]) -> list[Row]:
    """The mean rows of `fold_summaries(rows)`."""
    return [summary.mean for summary in fold_summaries(rows)]
