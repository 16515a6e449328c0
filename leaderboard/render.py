"""Rendering leaderboard rows as Markdown, CSV or a self-contained sortable HTML page.

All three show the selected rows plus the "COCO-AD (4 folds)" averages of
`leaderboard.aggregate`, each average right after the fold rows it summarises.
Markdown and HTML print metrics in percent with one decimal, as the papers do; CSV
keeps the stored values in [0, 1] and every column, so it reads back with `read_rows`.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from typing import Literal

from leaderboard.aggregate import COCO_AD, fold_averages, is_aggregate, normalise_dataset
from leaderboard.reference import reference_rows
from leaderboard.schema import COLUMNS, INT_COLUMNS, TIMING_COLUMNS, Row, Value, format_row
from metrics.keys import METRIC_KEYS, RANKING_IMAGE_KEYS, RANKING_PIXEL_KEYS

Format = Literal["md", "csv", "html"]
FORMATS: tuple[str, ...] = ("md", "csv", "html")

MARKDOWN_METRICS: tuple[str, ...] = RANKING_IMAGE_KEYS + RANKING_PIXEL_KEYS + ("mad",)
"""The metrics of the Markdown table: the seven of the paper's mAD, then mAD."""
MARKDOWN_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "fold", "epochs", *MARKDOWN_METRICS, "source", "definition"
)
HTML_COLUMNS: tuple[str, ...] = (
    "method", "dataset", "fold", "image_size", "epochs", "backbone", "weights", "seed",
    *METRIC_KEYS,
    "train_seconds", "images_per_second", "device", "source", "definition", "finished_at",
)
NUMERIC_COLUMNS = frozenset((*INT_COLUMNS, *METRIC_KEYS, *TIMING_COLUMNS))


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
    """Dataset, method, setting, then folds in order with their average last."""
    dataset = COCO_AD if is_aggregate(row) else normalise_dataset(row["dataset"])
    fold = row["fold"] if row["fold"] is not None else 1_000_000
    return (
        dataset, str(row["method"]).lower(), row["definition"], row["source"],
        row["image_size"] or 0, row["epochs"] or 0, row["backbone"], row["weights"],
        fold, row["finished_at"],
    )


def with_fold_averages(rows: list[Row]) -> list[Row]:
    """`rows` and their "COCO-AD (4 folds)" averages, in display order."""
    return sorted(rows + fold_averages(rows), key=_order_key)


def _percent(value: Value) -> str:
    return "" if value is None else f"{100 * float(value):.1f}"


def _display(column: str, value: Value) -> str:
    """A cell for people: metrics in percent, timings rounded, empty as ''."""
    if value is None:
        return ""
    if column in METRIC_KEYS:
        return _percent(value)
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_markdown(rows: list[Row]) -> str:
    """A GitHub Markdown table of `MARKDOWN_COLUMNS`, metrics in percent."""
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    align = [("---:" if c in NUMERIC_COLUMNS else "---") for c in MARKDOWN_COLUMNS]
    lines = [line(MARKDOWN_COLUMNS), "|" + "|".join(align) + "|"]
    for row in rows:
        cells = [_display(c, row[c]) for c in MARKDOWN_COLUMNS]
        if is_aggregate(row):
            cells = [f"**{cell}**" if cell else cell for cell in cells]
        lines.append(line(cells))
    footnote = (
        "\nMetrics in percent. Rows with definition `ader` come from ADer's evaluator "
        "(binned pixel metrics) and are not exactly comparable with `adbench-1` rows."
    )
    return "\n".join(lines) + "\n" + footnote + "\n"


def render_csv(rows: list[Row]) -> str:
    """Every column, values as stored (metrics in [0, 1]); aggregates included."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(format_row(row) for row in rows)
    return buffer.getvalue()


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; white-space: nowrap; }
th { background: #f0f0f0; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.aggregate td { font-weight: bold; background: #f7f7e8; }
tr.reported td { color: #555; }
p.note { max-width: 60rem; }
"""

_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, index) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.dataset.type === "number";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[index].dataset.value, y = b.cells[index].dataset.value;
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _html_cell(column: str, value: Value) -> str:
    raw = "" if value is None else str(value)
    numeric = column in NUMERIC_COLUMNS
    css = ' class="num"' if numeric else ""
    return (
        f'<td{css} data-value="{html.escape(raw)}">{html.escape(_display(column, value))}</td>'
    )


def render_html(rows: list[Row]) -> str:
    """One self-contained page: inline CSS, a table sortable by clicking its headers
    (inline script), every text escaped, nothing loaded from the network."""
    head = "".join(
        f'<th scope="col" data-type="{"number" if c in NUMERIC_COLUMNS else "text"}">'
        f"{html.escape(c)}</th>"
        for c in HTML_COLUMNS
    )
    body = []
    for row in rows:
        classes = [name for name, on in (("aggregate", is_aggregate(row)),
                                          ("reported", row["source"] == "reported")) if on]
        attribute = f' class="{" ".join(classes)}"' if classes else ""
        cells = "".join(_html_cell(c, row[c]) for c in HTML_COLUMNS)
        body.append(f"<tr{attribute}>{cells}</tr>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>adbench leaderboard</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>adbench leaderboard</h1>\n"
        '<p class="note">Metrics in percent (one decimal). Click a column header to sort. '
        "Bold rows average the four COCO-AD folds. Rows with definition <code>ader</code> "
        "were scored by ADer's evaluator (binned pixel metrics) and are not exactly "
        "comparable with <code>adbench-1</code> rows.</p>\n"
        f'<table class="sortable">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(body)
        + f"\n</tbody>\n</table>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


_RENDERERS = {"md": render_markdown, "csv": render_csv, "html": render_html}


def render(
    rows: Iterable[Row],
    fmt: Format = "md",
    dataset: str | None = None,
    with_reference: bool = False,
) -> str:
    """`rows` of `dataset` (plus ADer's published rows if asked) with their COCO-AD
    fold averages, rendered as Markdown ("md"), CSV ("csv") or HTML ("html")."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    selected = select_rows(rows, dataset=dataset, with_reference=with_reference)
    return _RENDERERS[fmt](with_fold_averages(selected))
