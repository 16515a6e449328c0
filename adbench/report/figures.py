"""The report's plots, drawn by matplotlib and embedded as inline SVG.

Curves are the exact curves of `metrics.Scorer.curves` (every point drawn is a point of
the exact curve; the scorer keeps about two per raster cell for drawing, never
re-computes one approximately): ROC (linear between points), precision-recall (a step
per point, the step-wise AP), PRO up to FPR 0.3. Histograms show normal against
anomalous scores, images as counts and pixels as shares on a log axis. Every drawn
series carries an SVG id (`gid`), `<prefix>-<plot>-<series>`, so a page can be checked
for its plots. matplotlib is an optional dependency (the `report` extra).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from adbench.report.sources import ReportInputError
from leaderboard.cells import percent
from metrics.formulas import FPR_LIMIT

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

    from adbench.report.analysis import ClassAnalysis
    from adbench.report.categories import CategoryResult
    from metrics import Curve, Histogram

IMAGE_COLOUR = "#1d5fd1"
PIXEL_COLOUR = "#d9480f"
NORMAL_COLOUR = "#5b6b82"
ANOMALOUS_COLOUR = "#d6336c"
THRESHOLD_COLOUR = "#2b2f38"

RC: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9.0,
    "axes.edgecolor": "#9aa3b2",
    "axes.labelcolor": "#2b2f38",
    "axes.grid": True,
    "grid.color": "#e3e7ee",
    "grid.linewidth": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#5b6474",
    "ytick.color": "#5b6474",
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "svg.fonttype": "path",
    "figure.dpi": 100,
}


def require_matplotlib() -> None:
    """Raise a one-line error naming the extra when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReportInputError("adbench report needs matplotlib: pip install "
                               "'adbench[report]'") from None


@contextmanager
def _style(salt: str) -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context({**RC, "svg.hashsalt": salt}):
        yield


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_svg(figure: Figure, salt: str) -> str:
    """The figure as an inline `<svg>` element: no XML prolog, no metadata, no fixed size
    (it scales with its box). Every id matplotlib made (groups, glyphs, clip paths), and
    every reference to one, gets `salt` as a prefix, so ids stay unique in a page of many
    plots; ids set with `set_gid` are kept."""
    buffer = io.StringIO()
    with _style(salt):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    named = {artist.get_gid() for artist in figure.findobj() if artist.get_gid()}
    own = set(re.findall(r' id="([^"]+)"', text)) - named

    def unique(match: re.Match[str]) -> str:
        target = match.group(2)
        return match.group(1) + (f"{salt}-{target}" if target in own else target)

    text = re.sub(r'( id="| xlink:href="#|url\(#)([^")]+)', unique, text)
    head_end = text.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", text[:head_end])
    return head + ' class="plot"' + text[head_end:]


def _unit_axes(ax: Axes, xlabel: str, ylabel: str, xmax: float = 1.0) -> None:
    ax.set_xlim(0.0, xmax)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _legend(ax: Axes, loc: Literal["upper right", "lower right", "lower left"],
            **style: Any) -> None:
    """The legend, or a note that the plot is empty (a class without normal or without
    anomalous samples has no such curve)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, **style)
    else:
        ax.text(0.5, 0.5, "undefined: no normal or no anomalous samples", ha="center",
                va="center", transform=ax.transAxes, color="#8a93a3")


def _draw(ax: Axes, curve: Curve, gid: str, colour: str, label: str, **style: Any) -> None:
    if curve.x.size:
        (line,) = ax.plot(curve.x, curve.y, color=colour, label=label, linewidth=1.6, **style)
        line.set_gid(gid)


def _f1_point(ax: Axes, curve: Curve, threshold: float | None, colour: str) -> None:
    if threshold is None or not curve.x.size:
        return
    at = np.flatnonzero(curve.thresholds == threshold)
    if at.size:
        ax.plot(curve.x[at[0]], curve.y[at[0]], "o", color=colour, markersize=5,
                markeredgecolor="white", markeredgewidth=1.0, zorder=5)


def roc_figure(analysis: ClassAnalysis, prefix: str) -> Figure:
    """Image and pixel ROC curves with their AUROC in the legend."""
    c, m = analysis.curves, analysis.metrics
    with _style(prefix):
        fig = _new_figure(3.5, 3.3)
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="#c3c9d4", linewidth=0.8, linestyle="--")
        _draw(ax, c.image_roc, f"{prefix}-roc-image", IMAGE_COLOUR,
              f"image  AUROC {percent(m['auroc_i'], 'n/a')}")
        _draw(ax, c.pixel_roc, f"{prefix}-roc-pixel", PIXEL_COLOUR,
              f"pixel  AUROC {percent(m['auroc_p'], 'n/a')}")
        _unit_axes(ax, "false positive rate", "true positive rate")
        ax.set_title("ROC")
        _legend(ax, "lower right")
    return fig


def pr_figure(analysis: ClassAnalysis, prefix: str) -> Figure:
    """Image and pixel precision-recall curves (steps: the step-wise AP), F1-max points."""
    c, m = analysis.curves, analysis.metrics
    with _style(prefix):
        fig = _new_figure(3.5, 3.3)
        ax = fig.add_subplot()
        _draw(ax, c.image_pr, f"{prefix}-pr-image", IMAGE_COLOUR,
              f"image  AP {percent(m['ap_i'], 'n/a')}", drawstyle="steps-pre")
        _draw(ax, c.pixel_pr, f"{prefix}-pr-pixel", PIXEL_COLOUR,
              f"pixel  AP {percent(m['ap_p'], 'n/a')}", drawstyle="steps-pre")
        _f1_point(ax, c.image_pr, c.image_f1_threshold, IMAGE_COLOUR)
        _f1_point(ax, c.pixel_pr, c.pixel_f1_threshold, PIXEL_COLOUR)
        _unit_axes(ax, "recall", "precision")
        ax.set_title("Precision-recall")
        _legend(ax, "lower left")
    return fig


def pro_figure(analysis: ClassAnalysis, prefix: str) -> Figure:
    """The per-region overlap curve up to FPR 0.3, AUPRO in the legend."""
    c = analysis.curves
    with _style(prefix):
        fig = _new_figure(3.5, 3.3)
        ax = fig.add_subplot()
        if c.pixel_pro.x.size:
            ax.fill_between(c.pixel_pro.x, c.pixel_pro.y, color=PIXEL_COLOUR, alpha=0.08,
                            linewidth=0)
        _draw(ax, c.pixel_pro, f"{prefix}-pro-pixel", PIXEL_COLOUR,
              f"AUPRO (FPR ≤ {FPR_LIMIT:g}) {percent(analysis.metrics['aupro_p'], 'n/a')}")
        _unit_axes(ax, "false positive rate (pixels)", "per-region overlap", FPR_LIMIT)
        ax.set_title("PRO")
        _legend(ax, "lower right")
    return fig


def _stairs(ax: Axes, values: np.ndarray, edges: np.ndarray, colour: str, label: str,
            gid: str) -> None:
    artist = ax.stairs(values, edges, color=colour, fill=True, alpha=0.28, label=label)
    artist.set_gid(f"{gid}-fill")
    outline = ax.stairs(values, edges, color=colour, linewidth=1.3)
    outline.set_gid(gid)


def _threshold_line(ax: Axes, threshold: float | None) -> None:
    if threshold is not None:
        ax.axvline(threshold, color=THRESHOLD_COLOUR, linewidth=1.0, linestyle=(0, (4, 3)),
                   label="F1-max threshold")


def histogram_figure(histogram: Histogram, threshold: float | None, level: str,
                     prefix: str) -> Figure:
    """Normal vs anomalous scores: images as counts, pixels as shares of their kind on a
    log axis (normal pixels outnumber anomalous ones by orders of magnitude)."""
    pixels = level == "pixel"
    with _style(prefix):
        fig = _new_figure(5.4, 2.7)
        ax = fig.add_subplot()
        normal = histogram.normal.astype(np.float64)
        anomalous = histogram.anomalous.astype(np.float64)
        if pixels:
            normal = normal / max(normal.sum(), 1.0)
            anomalous = anomalous / max(anomalous.sum(), 1.0)
        _stairs(ax, normal, histogram.edges, NORMAL_COLOUR,
                f"normal ({int(histogram.normal.sum()):,})", f"{prefix}-hist-{level}-normal")
        _stairs(ax, anomalous, histogram.edges, ANOMALOUS_COLOUR,
                f"anomalous ({int(histogram.anomalous.sum()):,})",
                f"{prefix}-hist-{level}-anomalous")
        _threshold_line(ax, threshold)
        if pixels and normal.sum() + anomalous.sum() > 0:
            ax.set_yscale("log")
        ax.set_xlabel(f"{level} score")
        ax.set_ylabel("share of pixels" if pixels else "images")
        ax.set_title(f"{level.capitalize()} scores")
        _room_above(ax, log=ax.get_yscale() == "log", share=0.3)
        if pixels:  # no share above 1 is labelled in the legend's room
            bottom = ax.get_ylim()[0]
            ax.set_yticks([t for t in ax.get_yticks() if bottom <= t <= 1.0])
        _legend(ax, "upper right", frameon=True, framealpha=0.85, edgecolor="none")
    return fig


def _room_above(ax: Axes, log: bool, share: float) -> None:
    """Raise the y axis's top so the data stays below the top `share` of the plot,
    where the legend goes (on a log axis, in decades)."""
    bottom, top = ax.get_ylim()
    if log and bottom > 0 and top > bottom:
        ax.set_ylim(bottom, bottom * (top / bottom) ** (1 / (1 - share)))
    elif not log and top > bottom:
        ax.set_ylim(bottom, bottom + (top - bottom) / (1 - share))


def class_figures(analysis: ClassAnalysis, prefix: str) -> dict[str, Figure]:
    """Every plot of a class: roc, pr, pro, image and pixel histograms."""
    c = analysis.curves
    return {
        "roc": roc_figure(analysis, prefix),
        "pr": pr_figure(analysis, prefix),
        "pro": pro_figure(analysis, prefix),
        "image-histogram": histogram_figure(c.image_histogram, c.image_f1_threshold,
                                            "image", prefix),
        "pixel-histogram": histogram_figure(c.pixel_histogram, c.pixel_f1_threshold,
                                            "pixel", prefix),
    }


def category_figure(rows: Sequence[CategoryResult], prefix: str) -> Figure:
    """Image AUROC (with its 95% interval) and pixel recall per category, best first."""
    shown = sorted((r for r in rows if r.auroc_i is not None),
                   key=lambda r: (-(r.auroc_i or 0.0), r.name))
    height = 1.0 + 0.235 * max(len(shown), 1)
    with _style(prefix):
        fig = _new_figure(7.4, height)
        left, right = fig.subplots(1, 2, sharey=True, width_ratios=[1.4, 1.0])
        y = np.arange(len(shown))
        auroc = np.array([r.auroc_i for r in shown], dtype=np.float64)
        low = np.array([r.auroc_interval.low if r.auroc_interval else a
                        for r, a in zip(shown, auroc, strict=True)])
        high = np.array([r.auroc_interval.high if r.auroc_interval else a
                         for r, a in zip(shown, auroc, strict=True)])
        left.barh(y, auroc, color=IMAGE_COLOUR, alpha=0.8, height=0.66)
        left.set_gid(f"{prefix}-categories-auroc")
        left.errorbar(auroc, y, xerr=[auroc - low, high - auroc], fmt="none",
                      ecolor="#1b2230", elinewidth=0.9, capsize=2.0)
        left.axvline(0.5, color="#9aa3b2", linewidth=0.8, linestyle="--")
        left.set_xlim(0.0, 1.0)
        left.set_xlabel("image AUROC vs all normal images\n(whiskers: 95% interval)")
        recall = np.array([np.nan if r.pixel_recall is None else r.pixel_recall
                           for r in shown])
        right.barh(y, np.nan_to_num(recall), color=PIXEL_COLOUR, alpha=0.8, height=0.66)
        right.set_gid(f"{prefix}-categories-recall")
        right.set_xlim(0.0, 1.0)
        right.set_xlabel("pixel recall at the\npixel F1-max threshold")
        left.set_yticks(y, [r.name.replace("$", r"\$") for r in shown])
        left.invert_yaxis()
        for ax in (left, right):
            ax.grid(axis="y", visible=False)
    return fig
