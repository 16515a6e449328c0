"""The leaderboard as one self-contained HTML page: inline CSS and JS, nothing fetched.

Two views (tabs): "Fold means", one row per complete set of folds with every metric
as mean and standard deviation over the folds, and "Runs", every row as recorded.
Within a view there is one table per (dataset, fold split, metric definition), so
sorting never mixes means with fold rows, datasets, splits or definitions; with
`--with-reference` our `ader` rows share a table with ADer's published `ader` rows
(same method and fold side by side) while exact `adbench-1` rows have their own.
Columns are grouped (run / image / pixel / threshold / mAD / provenance) under the
papers' names, the method column stays in view when a table scrolls sideways, and
badges mark our vs published rows, the definition and the dataset. Every text from
the rows is escaped. See docs/leaderboard.md ("The HTML page").
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from cocoad.reference import COCO_AD_LABEL
from cocoad.reference import OTHER_LABEL as OTHER_COCO_FORMAT
from leaderboard.aggregate import FoldSummary, base_dataset
from leaderboard.cells import DEFINITION_LABELS, SOURCE_LABELS, fold_label, percent
from leaderboard.page_assets import SCRIPT, STYLE
from leaderboard.schema import Row
from metrics.keys import (
    AGGREGATE_KEYS,
    DEFINITIONS,
    METRIC_KEYS,
    PAPER_NAMES,
    RANKING_IMAGE_KEYS,
    RANKING_PIXEL_KEYS,
    THRESHOLD_KEYS,
)

DEFINITION_TITLES = {
    "adbench-1": ("Exact metrics", "The exact definitions of docs/metrics.md."),
    "ader": ("ADer's evaluator", "Pixel metrics binned as ADer's benchmark evaluator bins "
             "them: comparable with ADer's published rows, not exactly with exact rows."),
    "ader-paper": ("ADer's paper evaluator", "As ADer's evaluator released with the InvAD "
                   "paper computed them (AUPRO by a 100-step sweep)."),
}


NOT_COCO_AD = ("Not COCO-AD: COCO-format data split by the COCO-AD rule, with other image "
               "counts than the real folds; do not rank these beside the paper's numbers.")


def esc(value: object) -> str:
    """`value` as HTML text, quotes escaped too (safe inside attributes)."""
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class Entry:
    """One table row: a run row, or a fold mean with its std and number of runs."""

    row: Row
    std: dict[str, float | None] | None = None
    runs: int | None = None


@dataclass(frozen=True)
class Column:
    """A table column: its key, header HTML, group, how its cells read and sort."""

    key: str
    header: str
    group: str
    cell: Callable[[Entry], tuple[str, str]]  # (inner HTML, sort value)
    numeric: bool = False
    css: str = ""

    @property
    def is_metric(self) -> bool:
        return self.key in METRIC_KEYS


def paper_header(key: str) -> str:
    """A metric's paper name as HTML: "mAU-ROC_I" -> mAU-ROC<sub>I</sub>, "^" -> <sup>
    (a line may break before a superscript, to keep the columns narrow)."""
    match = re.fullmatch(r"(.+?)([_^])(.+)", PAPER_NAMES[key])
    if match is None:
        return esc(PAPER_NAMES[key])
    base, mark, tail = match.groups()
    if mark == "_":
        return f"{esc(base)}<sub>{esc(tail)}</sub>"
    return f"{esc(base)}<wbr><sup>{esc(tail)}</sup>"


def badge(css: str, label: str, title: str = "") -> str:
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="badge {esc(css)}"{tip}>{esc(label)}</span>'


def source_badge(source: object) -> str:
    label = SOURCE_LABELS.get(str(source), str(source))
    title = "produced by adbench" if source == "run" else "copied from a published log"
    return badge(f"src-{source}", label, title)


def definition_badge(definition: object) -> str:
    return badge(f"def-{definition}", DEFINITION_LABELS.get(str(definition), str(definition)),
                 f"metric definition {definition}")


def dataset_badge(dataset: str) -> str:
    """COCO-AD stands out; other COCO-format data is flagged as not COCO-AD."""
    if dataset == COCO_AD_LABEL:
        return ('<span class="ds ds-real" title="COCO-AD: the folds of the full COCO 2017 '
                'with the published sizes">COCO-AD</span>')
    if dataset.startswith(OTHER_COCO_FORMAT):
        return (f'<span class="ds ds-other" title="COCO-format data split by the COCO-AD '
                f'rule, not COCO-AD\'s sizes: not comparable with the paper">{esc(dataset)}'
                "</span>")
    return f'<span class="ds">{esc(dataset)}</span>'


def _text(key: str) -> Callable[[Entry], tuple[str, str]]:
    return lambda e: (esc(e.row[key]), str(e.row[key]))


def _number(key: str) -> Callable[[Entry], tuple[str, str]]:
    def cell(entry: Entry) -> tuple[str, str]:
        value = entry.row[key]
        return ("", "") if value is None else (esc(value), str(value))
    return cell


def _metric(key: str) -> Callable[[Entry], tuple[str, str]]:
    def cell(entry: Entry) -> tuple[str, str]:
        value = entry.row[key]
        if value is None:
            return "", ""
        spread = entry.std.get(key) if entry.std is not None else None
        extra = f'<span class="sd">&plusmn;{percent(spread)}</span>' if spread is not None else ""
        return f"{percent(value)}{extra}", repr(value)
    return cell


def _method(entry: Entry) -> tuple[str, str]:
    row = entry.row
    return f"{esc(row['method'])}{source_badge(row['source'])}", str(row["method"]).lower()


def _fold(entry: Entry) -> tuple[str, str]:
    fold = entry.row["fold"]
    return esc(fold_label(entry.row)), "" if fold is None else str(fold)


def _duration(entry: Entry) -> tuple[str, str]:
    value = entry.row["train_seconds"]
    if value is None:
        return "", ""
    seconds = float(value)
    shown = (f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
             if seconds < 5400 else f"{seconds / 3600:.1f} h")
    return esc(shown), str(value)


def _rate(entry: Entry) -> tuple[str, str]:
    rate = entry.row["images_per_second"]
    return ("", "") if rate is None else (f"{rate:.0f}", str(rate))


def _finished(entry: Entry) -> tuple[str, str]:
    stamp = str(entry.row["finished_at"])
    return esc(stamp[:16].replace("T", " ")), stamp


def _commit(entry: Entry) -> tuple[str, str]:
    commit = str(entry.row["git_commit"])
    return esc(commit[:8]), commit


def _definition(entry: Entry) -> tuple[str, str]:
    definition = entry.row["definition"]
    return definition_badge(definition), str(definition)


def _runs(entry: Entry) -> tuple[str, str]:
    return ("", "") if entry.runs is None else (str(entry.runs), str(entry.runs))


METRIC_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("image", RANKING_IMAGE_KEYS), ("pixel", RANKING_PIXEL_KEYS),
    ("threshold", THRESHOLD_KEYS), ("mAD", AGGREGATE_KEYS),
)
METHOD = Column("method", "method", "method", _method, css="method")
METRIC_COLUMNS = tuple(
    Column(key, paper_header(key), group, _metric(key), numeric=True, css="metric")
    for group, keys in METRIC_GROUPS for key in keys
)
SETTING_COLUMNS = (
    Column("image_size", "size", "run", _number("image_size"), numeric=True),
    Column("epochs", "epochs", "run", _number("epochs"), numeric=True),
    Column("backbone", "backbone", "run", _text("backbone"), css="text clip"),
    Column("weights", "weights", "run", _text("weights"), css="text clip"),
    Column("precision", "precision", "run", _text("precision"), css="text"),
)
RUN_COLUMNS: tuple[Column, ...] = (
    METHOD,
    Column("fold", "fold", "run", _fold, numeric=True),
    *SETTING_COLUMNS,
    Column("seed", "seed", "run", _number("seed"), numeric=True),
    *METRIC_COLUMNS,
    Column("definition", "definition", "provenance", _definition),
    Column("device", "device", "provenance", _text("device"), css="text clip"),
    Column("train_seconds", "train time", "provenance", _duration, numeric=True),
    Column("images_per_second", "images/s", "provenance", _rate, numeric=True),
    Column("finished_at", "finished", "provenance", _finished, css="text"),
    Column("run_id", "run id", "provenance", _text("run_id"), css="text mono clip"),
    Column("git_commit", "commit", "provenance", _commit, css="text mono"),
    Column("adbench_version", "adbench", "provenance", _text("adbench_version"), css="text"),
    Column("torch", "torch", "provenance", _text("torch"), css="text"),
)
MEAN_COLUMNS: tuple[Column, ...] = (
    METHOD,
    *SETTING_COLUMNS,
    *METRIC_COLUMNS,
    Column("runs", "runs", "provenance", _runs, numeric=True),
    Column("definition", "definition", "provenance", _definition),
)


def _group_spans(columns: tuple[Column, ...]) -> list[tuple[str, int]]:
    spans: list[tuple[str, int]] = []
    for column in columns[1:]:
        if spans and spans[-1][0] == column.group:
            spans[-1] = (column.group, spans[-1][1] + 1)
        else:
            spans.append((column.group, 1))
    return spans


def _first_of_group(columns: tuple[Column, ...]) -> set[str]:
    return {b.key for a, b in pairwise(columns) if a.group != b.group}


def _best(entries: list[Entry], columns: tuple[Column, ...]) -> dict[str, float]:
    """Per metric column, the highest mean among several entries (bold in a means table)."""
    best: dict[str, float] = {}
    for column in columns:
        if not column.is_metric:
            continue
        numbers = [float(e.row[column.key]) for e in entries  # type: ignore[arg-type]
                   if e.row[column.key] is not None]
        if len(numbers) >= 2:
            best[column.key] = max(numbers)
    return best


def render_table(entries: list[Entry], columns: tuple[Column, ...], mark_best: bool) -> str:
    """A sortable table: group header row, key header row, one body row per entry."""
    firsts = _first_of_group(columns)
    groups = "".join(
        f'<th scope="colgroup" colspan="{span}" class="g-{esc(group)}">{esc(group)}</th>'
        for group, span in _group_spans(columns)
    )
    keys = []
    for index, column in enumerate(columns):
        header_css = " ".join(filter(None, [
            column.css, f"g-{column.group}", "first-of-group" if column.key in firsts else "",
        ]))
        first = ' data-first="descending"' if column.is_metric else ""
        kind = "number" if column.numeric else "text"
        span = ' rowspan="2"' if column is METHOD else ""
        keys.append(
            f'<th scope="col"{span} class="{esc(header_css)}" data-key="{esc(column.key)}" '
            f'data-col="{index}" data-type="{kind}"{first}>{column.header}</th>'
        )
    method_header, key_headers = keys[0], "".join(keys[1:])
    best = _best(entries, columns) if mark_best else {}
    body = []
    for order, entry in enumerate(entries):
        cells = []
        for column in columns:
            inner, value = column.cell(entry)
            is_best = column.key in best and entry.row[column.key] == best[column.key]
            css = " ".join(filter(None, [
                column.css, "num" if column.numeric else "",
                "first-of-group" if column.key in firsts else "",
                "empty" if inner == "" else "", "best" if is_best else "",
            ]))
            tip = f' title="{esc(value)}"' if "clip" in column.css and value else ""
            cells.append(f'<td class="{esc(css)}" data-value="{esc(value)}"{tip}>{inner}</td>')
        source = esc(entry.row["source"])
        body.append(f'<tr class="{source}" data-order="{order}">{"".join(cells)}</tr>')
    return (
        '<div class="scroll"><table class="sortable">\n<thead>\n'
        f'<tr class="groups">{method_header}{groups}</tr>\n'
        f'<tr class="keys">{key_headers}</tr>\n</thead>\n<tbody>\n'
        + "\n".join(body) + "\n</tbody>\n</table></div>"
    )


class SectionKey(NamedTuple):
    """What the rows of one table share."""

    dataset: str  # normalised; a mean's is the dataset it averages
    split: int | None  # num_folds; None for rows without a recorded split
    definition: str


def _section_of(entry: Entry) -> SectionKey:
    row = entry.row
    return SectionKey(base_dataset(row), row["num_folds"], str(row["definition"]))  # type: ignore[arg-type]


def _section_order(key: SectionKey) -> tuple:
    """COCO-AD first, then other datasets by name; splits; definitions in schema order."""
    return (key.dataset != COCO_AD_LABEL, key.dataset, key.split or 0,
            DEFINITIONS.index(key.definition))


def _split_text(split: int | None, has_folds: bool) -> str:
    if split:
        return f"{split} folds"
    return "fold split not recorded" if has_folds else ""


def render_section(key: SectionKey, entries: list[Entry], columns: tuple[Column, ...],
                   noun: str, mark_best: bool) -> str:
    """One card: dataset, split and definition as its title, then its table."""
    dataset, split, definition = key
    has_folds = any(e.row["fold"] is not None for e in entries)
    title, caption = DEFINITION_TITLES[definition]
    if dataset.startswith(OTHER_COCO_FORMAT):
        caption = f"{NOT_COCO_AD} {caption}"
    split_text = _split_text(split, has_folds)
    sources = {e.row["source"] for e in entries}
    together = (" Our rows and published rows of this definition are listed together, "
                "each method's next to each other." if len(sources) > 1 else "")
    count = f"{len(entries)} {noun}{'s' if len(entries) != 1 else ''}"
    return (
        '<section class="board">\n<h2>'
        f"{dataset_badge(dataset)}"
        + (f'<span class="split">{esc(split_text)}</span>' if split_text else "")
        + f"{definition_badge(definition)}<span>{esc(title)}</span>"
        f'<span class="count">{esc(count)}</span></h2>\n'
        f'<p class="caption">{esc(caption + together)}</p>\n'
        f"{render_table(entries, columns, mark_best)}\n</section>"
    )


def _sections(entries: list[Entry], columns: tuple[Column, ...], noun: str,
              mark_best: bool) -> str:
    grouped: dict[SectionKey, list[Entry]] = defaultdict(list)
    for entry in entries:
        grouped[_section_of(entry)].append(entry)
    return "\n".join(render_section(key, grouped[key], columns, noun, mark_best)
                     for key in sorted(grouped, key=_section_order))


def _source_rank(row: Row) -> int:
    return 0 if row["source"] == "run" else 1


def _setting(row: Row) -> tuple:
    return (row["image_size"] or 0, row["epochs"] or 0, row["backbone"], row["weights"],
            row["precision"])


def _run_order(entry: Entry) -> tuple:
    """Method, then fold, ours before published: one fold's comparable rows adjacent."""
    row = entry.row
    fold = -1 if row["fold"] is None else row["fold"]
    return (str(row["method"]).lower(), fold, _source_rank(row), _setting(row),
            row["seed"] if row["seed"] is not None else -1, row["finished_at"])


def _mean_order(entry: Entry) -> tuple:
    row = entry.row
    return (str(row["method"]).lower(), _source_rank(row), _setting(row))


MEANS_INTRO = (
    "One row per method and setting whose runs cover every fold of the split, as the "
    "papers report COCO-AD: each metric is the mean over the folds (the runs of one fold "
    "averaged first), with &plusmn; the standard deviation of the fold values (divided by "
    "n). The best mean of each column is in bold."
)
RUNS_INTRO = (
    "Every recorded row, one per run and metric definition. Fold k/n is fold k of an "
    "n-fold split; published rows are marked <em>published</em>."
)


def _view(view_id: str, intro: str, body: str, empty: str) -> str:
    content = body or f'<p class="empty">{esc(empty)}</p>'
    return (f'<section class="view" data-view="{view_id}">\n<p class="intro">{intro}</p>\n'
            f"{content}\n</section>")


def _legend() -> str:
    items = [
        (source_badge("run"), "a run of adbench"),
        (source_badge("reported"), "numbers from ADer's published logs"),
        (definition_badge("adbench-1"), "exact metrics"),
        (definition_badge("ader"), "ADer's benchmark evaluator"),
        (definition_badge("ader-paper"), "ADer's paper evaluator"),
        (dataset_badge(COCO_AD_LABEL), "real COCO-AD folds"),
        (dataset_badge(OTHER_COCO_FORMAT), "other COCO-format data"),
    ]
    return "".join(f'<span class="item">{mark} {esc(text)}</span>' for mark, text in items)


def render_html(rows: list[Row], summaries: list[FoldSummary]) -> str:
    """The page (see module doc) for run rows `rows` and their fold means `summaries`."""
    runs = sorted((Entry(row) for row in rows), key=_run_order)
    means = sorted((Entry(s.mean, s.std, s.runs) for s in summaries), key=_mean_order)
    means_view = _view("means", MEANS_INTRO, _sections(means, MEAN_COLUMNS, "mean", True),
                       "No complete set of folds yet: a mean needs a run of every fold "
                       "0..n-1 of one split in one setting.")
    runs_view = _view("runs", RUNS_INTRO, _sections(runs, RUN_COLUMNS, "row", False),
                      "No rows.")
    tabs = (f'<a href="#means">Fold means<span class="n">{len(means)}</span></a>'
            f'<a href="#runs">Runs<span class="n">{len(runs)}</span></a>')
    views = means_view + "\n" + runs_view if means else runs_view + "\n" + means_view
    datasets = sorted({base_dataset(row) for row in rows})
    subtitle = (f"{len(runs)} rows, {len(means)} fold means; datasets: "
                f"{', '.join(datasets) or 'none'}. Metrics in percent under the papers' names.")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>adbench leaderboard</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        '<header class="top">\n<h1>adbench leaderboard</h1>\n'
        f'<p class="subtitle">{esc(subtitle)}</p>\n'
        f'<div class="legend">{_legend()}</div>\n</header>\n'
        f'<nav class="tabs">{tabs}</nav>\n<main>\n{views}\n</main>\n'
        '<footer>Click a column header to sort its table (metrics from the highest; click '
        "again to reverse); empty cells stay last. Tables never mix fold rows with means, "
        "datasets, fold splits or metric definitions.</footer>\n"
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
