"""Making the report: gather the inputs, analyse each class, draw, write one HTML file.

Nothing is written unless the page is complete: the destination is checked first and
the page written through a temporary name (`adcommon.atomic`).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

from adbench.report.analysis import ClassAnalysis, Reading, analyse_class
from adbench.report.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, mean_intervals
from adbench.report.figures import category_figure, class_figures, require_matplotlib, to_svg
from adbench.report.memory import DEFAULT_MAX_MEMORY, Memory
from adbench.report.overlays import render_panels
from adbench.report.page import ClassView, Example, PageData, render_page
from adbench.report.sources import FoldCategories, ReportInputError, ReportInputs
from adcommon import __version__
from adcommon.atomic import write_atomic
from metrics.folder_scoring import default_workers, mean_over_classes
from metrics.keys import COMPAT_DEFINITIONS
from metrics.pairs import check_pair_options
from metrics.report import check_destination


def _examples(analysis: ClassAnalysis, indices: list[int], categories: FoldCategories | None,
              reading: Reading) -> list[Example]:
    examples = []
    names = categories.names if categories is not None else {}
    for i in indices:
        image = analysis.images[i]
        amap, mask, _ = reading.load(image)
        panels = render_panels(amap, mask, image.image_path, analysis.value_range,
                               analysis.curves.pixel_f1_threshold)
        labels = tuple(names.get(cid, str(cid)) for cid in image.category_ids)
        examples.append(Example(image, float(analysis.scores[i]), panels, labels))
    return examples


def _view(analysis: ClassAnalysis, index: int, categories: FoldCategories | None,
          reading: Reading) -> ClassView:
    prefix = f"c{index}"
    plots = {name: to_svg(figure, f"{prefix}-{name}")
             for name, figure in class_figures(analysis, prefix).items()}
    category_plot = None
    if analysis.categories:
        category_plot = to_svg(category_figure(analysis.categories, prefix),
                               f"{prefix}-categories")
    return ClassView(analysis, plots,
                     _examples(analysis, analysis.false_positives, categories, reading),
                     _examples(analysis, analysis.false_negatives, categories, reading),
                     category_plot)


def check_output(out: Path, resize: str = "none", mask_threshold: float | None = None,
                 ) -> None:
    """Fail before any work when matplotlib is missing, the reading options are wrong or
    `out` cannot be written."""
    require_matplotlib()
    check_pair_options(resize, mask_threshold)
    try:
        check_destination(Path(out))
    except OSError as error:
        raise ReportInputError(f"cannot write the report: {error}") from None


def build_report(inputs: ReportInputs, out: Path, examples: int = 6,
                 n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 workers: int | None = None, resize: str = "none",
                 mask_threshold: float | None = None,
                 max_memory: float | None = DEFAULT_MAX_MEMORY, tmp: Path | None = None,
                 progress: bool = False) -> Path:
    """Analyse `inputs` and write the page to `out`; returns `out`.

    examples: worst false positives and negatives shown per class; n_resamples, seed:
    the bootstrap's; workers: threads reading files; resize, mask_threshold: the
    scorer's evaluation-size and mask rules (`metrics.load_pair`); max_memory, tmp: GiB
    the scorers may hold together, and where they spill beyond it (docs/report.md).
    The caller has checked `out` and the options (`check_output`, before any work).
    """
    reading = Reading(workers or default_workers(), resize, mask_threshold)
    memory = Memory(max_memory, None if tmp is None else Path(tmp))
    analyses = [analyse_class(cls, inputs.categories, reading, memory, examples,
                              n_resamples, seed, progress) for cls in inputs.classes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined values are noted per class already
        mean = mean_over_classes({a.name: a.metrics for a in analyses})
    bands = mean_intervals([a.metrics for a in analyses], [a.resampled for a in analyses])
    views = [_view(a, i, inputs.categories, reading) for i, a in enumerate(analyses)]
    page = render_page(PageData(
        inputs=inputs, classes=views, mean=mean, mean_intervals=bands,
        definition=f"{COMPAT_DEFINITIONS[None]} (exact), resize {resize}",
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__, resamples=n_resamples))
    write_atomic(Path(out), page.encode("utf-8"))
    return Path(out)
