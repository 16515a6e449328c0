"""The report as one self-contained HTML page: no script, no external file, no network.

Sections: a header (what was scored, from where), the headline numbers, the per-class
table under the paper's names (with 95% bootstrap intervals under the image-level
values), one section per class (ROC / PR / PRO curves, score histograms, the worst false
positives and false negatives at the image F1-max threshold), the per-category
breakdown of a COCO-AD fold, and notes. Every text that comes from the user's files
(class names, paths, category names) is HTML-escaped; plots are inline SVG and example
images data URIs. See docs/report.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adbench.report.analysis import ClassAnalysis
from adbench.report.bootstrap import Interval
from adbench.report.categories import COUNTING_RULE, CategoryResult
from adbench.report.overlays import Panels
from adbench.report.page_style import STYLE
from adbench.report.sources import ReportImage, ReportInputs
from leaderboard.cells import percent as cell_percent
from leaderboard.html_page import esc, paper_header
from metrics.keys import RANKING_IMAGE_KEYS, RANKING_PIXEL_KEYS, THRESHOLD_KEYS

TABLE_KEYS = RANKING_IMAGE_KEYS + RANKING_PIXEL_KEYS + THRESHOLD_KEYS + ("mad",)
"""The per-class table's columns, in the paper's order."""
GROUPS = (("image level", len(RANKING_IMAGE_KEYS), "g-image"),
          ("pixel level", len(RANKING_PIXEL_KEYS), "g-pixel"),
          ("thresholds .2–.8", len(THRESHOLD_KEYS), "g-threshold"), ("", 1, "g-mad"))
TILES = (("auroc_i", "image"), ("ap_i", "image"), ("auroc_p", "pixel"),
         ("aupro_p", "pixel"), ("mad", "all"))


@dataclass(frozen=True)
class Example:
    """A worst false positive or negative: the image, its score and its panels."""

    image: ReportImage
    score: float
    panels: Panels
    categories: tuple[str, ...]


@dataclass(frozen=True)
class ClassView:
    """A class's analysis with its plots (inline SVG by name) and examples."""

    analysis: ClassAnalysis
    plots: Mapping[str, str]
    false_positives: Sequence[Example]
    false_negatives: Sequence[Example]
    category_plot: str | None


@dataclass(frozen=True)
class PageData:
    """Everything `render_page` shows."""

    inputs: ReportInputs
    classes: Sequence[ClassView]
    mean: Mapping[str, float | None]
    mean_intervals: Mapping[str, Interval | None]
    definition: str
    generated: str
    version: str
    resamples: int


def percent(value: float | None) -> str:
    """Percent with one decimal, as the papers print; an en dash where undefined."""
    return cell_percent(value, empty="–")


def interval_text(band: Interval | None) -> str:
    """`[low, high]` in percent, or empty."""
    return "" if band is None else f"[{100 * band.low:.1f}, {100 * band.high:.1f}]"


IMAGE_RGB = "29, 95, 209"
PIXEL_RGB = "217, 72, 15"


def _shade(value: float | None, rgb: str = IMAGE_RGB) -> str:
    if value is None:
        return ""
    return f' style="background: rgba({rgb}, {0.04 + 0.30 * max(0.0, min(1.0, value)):.3f})"'


def _metric_cell(value: float | None, band: Interval | None) -> str:
    if value is None:
        return '<td class="metric undefined">–</td>'
    ci = f'<span class="ci">{interval_text(band)}</span>' if band is not None else ""
    return f'<td class="metric"{_shade(value)}>{percent(value)}{ci}</td>'


def _header(data: PageData) -> str:
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>"
                    for k, v in data.inputs.provenance)
    return (f'<header class="top"><p class="kicker">adbench report</p>'
            f"<h1>{esc(data.inputs.title)}</h1>"
            f'<dl class="provenance">{items}<div><dt>definition</dt>'
            f"<dd>{esc(data.definition)}</dd></div></dl></header>")


def _toc(data: PageData) -> str:
    links = ['<a href="#summary">Summary</a>']
    links += [f'<a href="#class-{i}">{esc(view.analysis.name)}</a>'
              for i, view in enumerate(data.classes)]
    links += [f'<a href="#categories-{i}">Categories</a>' for i, view in enumerate(data.classes)
              if view.analysis.categories is not None]
    links.append('<a href="#notes">Notes</a>')
    return f'<nav class="toc">{"".join(links)}</nav>'


def _tiles(values: Mapping[str, float | None], bands: Mapping[str, Interval | None]) -> str:
    tiles = []
    for key, kind in TILES:
        band = bands.get(key)
        ci = f"95% {interval_text(band)}" if band is not None else "&nbsp;"
        tiles.append(f'<div class="tile {kind}"><div class="name">{paper_header(key)}</div>'
                     f'<div class="value">{percent(values.get(key))}</div>'
                     f'<div class="ci">{ci}</div></div>')
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _table(data: PageData) -> str:
    groups = "".join(f'<th class="group {css}" colspan="{span}">{esc(title)}</th>'
                     for title, span, css in GROUPS)
    heads = "".join(f"<th>{paper_header(key)}</th>" for key in TABLE_KEYS)
    rows = []
    for i, view in enumerate(data.classes):
        a = view.analysis
        anomalous = int(a.labels.sum())
        cells = "".join(_metric_cell(a.metrics[key], a.intervals.get(key))
                        for key in TABLE_KEYS)
        rows.append(f'<tr><td class="name"><a href="#class-{i}">{esc(a.name)}</a></td>'
                    f'<td class="count">{len(a.labels) - anomalous:,}</td>'
                    f'<td class="count">{anomalous:,}</td>{cells}</tr>')
    normal = sum(len(v.analysis.labels) - int(v.analysis.labels.sum()) for v in data.classes)
    anomalous = sum(int(v.analysis.labels.sum()) for v in data.classes)
    mean_cells = "".join(_metric_cell(data.mean.get(key), data.mean_intervals.get(key))
                         for key in TABLE_KEYS)
    if len(data.classes) > 1:
        rows.append(f'<tr class="mean"><td class="name">mean of {len(data.classes)} '
                    f'classes</td><td class="count">{normal:,}</td>'
                    f'<td class="count">{anomalous:,}</td>{mean_cells}</tr>')
    return ('<div class="scroll"><table class="metrics"><thead>'
            f'<tr><th class="name"></th><th class="group" colspan="2">images</th>{groups}</tr>'
            f'<tr><th class="name">class</th><th>normal</th><th>anomalous</th>{heads}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _summary(data: PageData) -> str:
    single = len(data.classes) == 1
    values = data.classes[0].analysis.metrics if single else data.mean
    bands = data.classes[0].analysis.intervals if single else data.mean_intervals
    scope = "the class" if single else f"the mean over {len(data.classes)} classes"
    return ('<section class="card" id="summary"><h2>Summary</h2>'
            f'<p class="lead">Headline numbers for {scope}, in percent. Under the image-level '
            f"values: the 95% bootstrap interval ({data.resamples} resamples of the test "
            "images). Every value is exact (docs/metrics.md); curves below are drawn from "
            f"the exact curves.</p>{_tiles(values, bands)}{_table(data)}</section>")


def _chips(a: ClassAnalysis) -> str:
    chips = [("image", "auroc_i"), ("image", "ap_i"), ("image", "f1max_i"),
             ("pixel", "auroc_p"), ("pixel", "ap_p"), ("pixel", "aupro_p"), ("all", "mad")]
    return '<div class="chips">' + "".join(
        f'<span class="chip {kind}">{paper_header(key)} <b>{percent(a.metrics[key])}</b></span>'
        for kind, key in chips) + "</div>"


def _figure(svg: str, name: str) -> str:
    return f'<figure class="plot" data-plot="{esc(name)}">{svg}</figure>'


def _threshold(value: float | None) -> str:
    return "–" if value is None else f"{value:.6g}"


def _example(example: Example, kind: str) -> str:
    p = example.panels
    photo = (f'<div><div class="label">image</div><img alt="image" src="{p.image}"></div>'
             if p.image is not None else "")
    panels = (f'{photo}<div><div class="label">anomaly map</div>'
              f'<img alt="anomaly map" src="{p.heat}"></div>'
              f'<div><div class="label">mask · prediction</div>'
              f'<img alt="mask and prediction" src="{p.masks}"></div>')
    cats = (f"<span>categories: {esc(', '.join(example.categories))}</span>"
            if example.categories else "")
    css = "panels" if p.image is not None else "panels no-photo"
    return (f'<div class="example {kind}"><div class="{css}">{panels}</div>'
            f'<div class="caption"><span class="key">{esc(example.image.key)}</span>'
            f"<span>image score {example.score:.4g}</span>{cats}</div></div>")


def _gallery(title: str, examples: Sequence[Example], kind: str, anchor: str,
             empty: str) -> str:
    body = ('<div class="gallery">' + "".join(_example(e, kind) for e in examples) + "</div>"
            if examples else f'<p class="none">{esc(empty)}</p>')
    return f'<h3 id="{anchor}">{esc(title)}</h3>{body}'


def _class_section(view: ClassView, index: int) -> str:
    a, c = view.analysis, view.analysis.curves
    anomalous = int(a.labels.sum())
    plots = view.plots
    curves = "".join(_figure(plots[name], name) for name in ("roc", "pr", "pro"))
    histograms = "".join(_figure(plots[name], name)
                         for name in ("image-histogram", "pixel-histogram"))
    legend = ('<span class="legend-swatch swatch-mask"></span>mask'
              '<span class="legend-swatch swatch-pred"></span>predicted (pixel score ≥ the '
              "pixel F1-max threshold)")
    thresholds = (f'<p class="threshold">Image F1-max threshold {_threshold(c.image_f1_threshold)}'
                  f" (an image scoring at least this is called anomalous); pixel F1-max "
                  f"threshold {_threshold(c.pixel_f1_threshold)}. Examples: {legend}.</p>")
    fp = _gallery("Worst false positives: normal images called anomalous, highest score first",
                  view.false_positives, "fp", f"fp-{index}",
                  "None: no normal image reaches the image F1-max threshold.")
    fn = _gallery("Worst false negatives: anomalous images missed, lowest score first",
                  view.false_negatives, "fn", f"fn-{index}",
                  "None: every anomalous image reaches the image F1-max threshold."
                  if c.image_f1_threshold is not None else "No anomalous image in this class.")
    return (f'<section class="card" id="class-{index}"><h2>{esc(a.name)}'
            f'<span class="count">{len(a.labels) - anomalous:,} normal · {anomalous:,} '
            f"anomalous images</span></h2>{_chips(a)}"
            f'<div class="plots">{curves}</div><div class="plots two">{histograms}</div>'
            f"{thresholds}{fp}{fn}</section>")


def _category_rows(rows: Sequence[CategoryResult]) -> str:
    ordered = sorted(rows, key=lambda r: (r.auroc_i is None, -(r.auroc_i or 0.0), r.name))
    out = []
    for r in ordered:
        images = f"{r.images:,}" + (f" ({r.anomalous:,})" if r.anomalous != r.images else "")
        out.append(
            f'<tr><td class="name">{esc(r.name)} <span class="id">{r.category_id}</span></td>'
            f'<td class="count">{images}</td>'
            f'<td class="metric"{_shade(r.auroc_i)}>{percent(r.auroc_i)} '
            f'<span class="inline-ci">{interval_text(r.auroc_interval)}</span></td>'
            f'<td class="metric"{_shade(r.pixel_recall, PIXEL_RGB)}>{percent(r.pixel_recall)}</td>'
            f'<td class="metric"{_shade(r.aupro_p, PIXEL_RGB)}>{percent(r.aupro_p)}</td></tr>')
    return "".join(out)


def _category_section(view: ClassView, index: int, normal_images: int) -> str:
    rows = view.analysis.categories or []
    threshold = _threshold(view.analysis.curves.pixel_f1_threshold)
    plot = _figure(view.category_plot, "categories") if view.category_plot else ""
    table = ('<div class="scroll"><table class="categories"><thead><tr>'
             '<th class="name">category <span class="id">COCO id</span></th>'
             '<th>test images<br><span class="id">(with anomalous pixels)</span></th>'
             "<th>image AUROC<br>[95% interval]</th><th>pixel recall<br>at F1-max</th>"
             f"<th>AUPRO</th></tr></thead><tbody>{_category_rows(rows)}</tbody></table></div>")
    return (f'<section class="card" id="categories-{index}"><h2>Per COCO category'
            f'<span class="count">{len(rows)} anomalous categories of the fold · '
            f"{normal_images:,} normal test images</span></h2>"
            f'<p class="lead">Each anomalous category\'s test images against all normal test '
            f"images: image AUROC (95% bootstrap interval), the share of their anomalous "
            f"pixels found at the class's pixel F1-max threshold ({threshold}), and AUPRO "
            f"over their regions. {esc(COUNTING_RULE)}</p>"
            f'<div class="split">{plot}{table}</div></section>')


def _howto() -> str:
    terms = [
        ("AU-ROC, AP, F1-max", "Ranking metrics of image scores (_I, an image's score is its "
         "map's maximum unless the run gave its own) and of all pixels pooled (_P); AP is the "
         "step-wise average precision, F1-max the best F1 over every threshold."),
        ("AU-PRO_R", "Area under the per-region overlap curve up to a false-positive rate "
         "of 0.3, divided by 0.3; regions are the 8-connected components of the masks."),
        ("F1 / Acc / IoU .2–.8, IoU-max", "The InvAD paper's threshold metrics on the "
         "class's min-max normalised maps, averaged over thresholds 0.2 ... 0.8 (max over "
         "0 ... 1 for IoU-max)."),
        ("mAD", "The mean of the seven ranking metrics (image AU-ROC, AP, F1-max, AU-PRO, "
         "pixel AU-ROC, AP, F1-max)."),
        ("95% interval", "Percentile bootstrap: the test images are resampled with "
         "replacement and the image-level metric recomputed exactly on each resample."),
        ("Examples", "At the image F1-max threshold: normal images scoring at least it are "
         "false positives, anomalous images scoring below it false negatives."),
    ]
    items = "".join(f"<dt>{esc(t)}</dt><dd>{esc(d)}</dd>" for t, d in terms)
    return (f'<details class="howto"><summary>How to read this page</summary><dl>{items}'
            "</dl></details>")


def _notes(data: PageData) -> str:
    notes = list(data.inputs.notes)
    for view in data.classes:
        notes += view.analysis.notes
    listed = ("<ul class=\"notes\">" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"
              if notes else '<p class="none">Nothing to note.</p>')
    return f'<section class="card" id="notes"><h2>Notes</h2>{listed}{_howto()}</section>'


def render_page(data: PageData) -> str:
    """The whole page as one HTML string."""
    sections = [_summary(data)]
    for i, view in enumerate(data.classes):
        sections.append(_class_section(view, i))
        if view.analysis.categories is not None:
            normal = sum(1 for image in view.analysis.images if not image.category_ids)
            sections.append(_category_section(view, i, normal))
    sections.append(_notes(data))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>adbench report · {esc(data.inputs.title)}</title>"
            f"<style>{STYLE}</style></head><body>{_header(data)}{_toc(data)}"
            f'<main>{"".join(sections)}</main>'
            f"<footer>Made by adbench {esc(data.version)} on {esc(data.generated)}. "
            "One self-contained file: no script, nothing fetched.</footer></body></html>\n")
