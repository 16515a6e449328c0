"""Rendering leaderboard rows as Markdown, CSV or a self-contained HTML page.

All three show the selected rows plus their fold means (`leaderboard.aggregate`).
Markdown and CSV list each mean right after the fold rows it summarises; Markdown
prints metrics in percent with one decimal under the paper's names, as the papers
do; CSV keeps the stored values in [0, 1], the keys and every column, so it reads
back with `read_rows`. The HTML page (`leaderboard.html_page`) keeps means and runs in
separate tables. See docs/leaderboard.md ("Rendering").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Literal

from leaderboard.aggregate import (
    FoldSummary,
    base_dataset,
    fold_summaries,
    is_aggregate,
    normalise_dataset,
)
from leaderboard.cells import NUMERIC_COLUMNS, display, fold_label, header_name
from leaderboard.html_page import render_html
from leaderboard.reference import reference_rows
from leaderboard.schema import COLUMNS, Row, format_row
from metrics.keys import RANKING_IMAGE_KEYS, RANKING_PIXEL_KEYS

Format = Literal["md", "csv", "html"]
FORMATS: tuple[str, ...] = ("md", "csv", "html")

MARKDOWN_METRICS: tuple[str, ...] = RANKING_IMAGE_KEYS + RANKING_PIXEL_KEYS + ("mad",)
"""The metrics of the Markdown table: the seven of the paper's mAD, then mAD."""
MARKDOWN_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "fold", "epochs", *MARKDOWN_METRICS, "source", "definition"
)


def select_rows(
    rows: Iterable[Row], dataset: str | None = None, with_reference: bool = False
) -> list[Row]:
    """`rows` (plus ADer's reference rows if asked) of `dataset` (all when None)."""
    selected = list(rows) + (reference_rows() if with_reference else [])
    if dataset is None:
        return selected
    wanted = normalise_dataset(dataset)
    return [row for row in selected if normalise_dataset(row["dataset"]) == wanted]


def _order_key(row: Row) -> tuple:
    """Dataset, method, setting, then folds in order with their mean last."""
    fold = row["fold"] if row["fold"] is not None else 1_000_000
    return (
        base_dataset(row), str(row["method"]).lower(), row["definition"], row["source"],
        row["num_folds"] or 0, row["image_size"] or 0, row["epochs"] or 0, row["backbone"],
        row["weights"], row["precision"], fold, row["finished_at"],
    )


def with_fold_means(rows: list[Row], summaries: list[FoldSummary]) -> list[Row]:
    """`rows` and the mean rows of `summaries`, in display order."""
    return sorted(rows + [summary.mean for summary in summaries], key=_order_key)


def _markdown_cell(column: str, row: Row) -> str:
    return fold_label(row) if column == "fold" else display(column, row[column])


def render_markdown(rows: list[Row], summaries: list[FoldSummary]) -> str:
    """A GitHub Markdown table of `MARKDOWN_COLUMNS`, metrics in percent, means in bold."""
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    align = [("---:" if c in NUMERIC_COLUMNS else "---") for c in MARKDOWN_COLUMNS]
    lines = [line(header_name(c) for c in MARKDOWN_COLUMNS), "|" + "|".join(align) + "|"]
    for row in with_fold_means(rows, summaries):
        cells = [_markdown_cell(c, row) for c in MARKDOWN_COLUMNS]
        if is_aggregate(row):
            cells = [f"**{cell}**" if cell else cell for cell in cells]
        lines.append(line(cells))
    footnote = (
        "\nMetrics in percent; fold k/n is fold k of an n-fold split; bold rows are the "
        "means over all n folds. Rows of definition `ader` / `ader-paper` come from ADer's "
        "evaluators (binned or swept pixel metrics) and are not exactly comparable with "
        "`adbench-1` rows."
    )
    return "\n".join(lines) + "\n" + footnote + "\n"


def render_csv(rows: list[Row], summaries: list[FoldSummary]) -> str:
    """Every column, values as stored (metrics in [0, 1]); fold means included."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(format_row(row) for row in with_fold_means(rows, summaries))
    return buffer.getvalue()


_RENDERERS = {"md": render_markdown, "csv": render_csv, "html": render_html}


def render(
    rows: Iterable[Row],
    fmt: Format = "md",
    dataset: str | None = None,
    with_reference: bool = False,
) -> str:
    """`rows` of `dataset` (plus ADer's published rows if asked) with their fold means,
    rendered as Markdown ("md"), CSV ("csv") or HTML ("html"). Mean rows among `rows`
    (a CSV rendered earlier) are left out: the means are recomputed from the folds."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    selected = [row for row in select_rows(rows, dataset, with_reference)
                if not is_aggregate(row)]
    return _RENDERERS[fmt](selected, fold_summaries(selected))
