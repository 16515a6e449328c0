"""The `adbench report` command: one self-contained HTML page about a run or a map folder."""

from __future__ import annotations

from pathlib import Path

import click

from adcommon.cli import one_line_errors, warnings_as_lines
from metrics.keys import RESIZE_CHOICES


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="RUN_DIR | PREDS GTS")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write.")
@click.option("--meta", type=click.Path(dir_okay=False, path_type=Path),
              help="A cocoad/ADer meta file: classes, masks and photos of the test images "
                   "(and, for a COCO-AD fold, the per-category breakdown from its manifest).")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the photos: IMAGES/<map path>.<ext> or IMAGES/<map stem>.<ext>.")
@click.option("--resize", type=click.Choice(RESIZE_CHOICES), default="none", show_default=True,
              help="Evaluation size, as for adbench score: none (map and mask must match), "
                   "masks (masks to the maps' size), maps (maps to the masks' size).")
@click.option("--mask-threshold", type=float, default=None,
              help="A mask pixel is anomalous iff its value is > T (default: nonzero).")
@click.option("--max-memory", type=click.FloatRange(min=0.5), default=4.0, show_default=True,
              help="GiB the report's scorers may hold together (as for adbench score); "
                   "beyond it, sorted pixel data is spilled to --tmp. Same page either way.")
@click.option("--tmp", type=click.Path(exists=True, file_okay=False, writable=True,
                                      path_type=Path), default=None,
              help="Folder for spilled data (default: the system's temporary folder).")
@click.option("--examples", type=click.IntRange(min=0), default=6, show_default=True,
              help="Worst false positives and false negatives shown per class.")
@click.option("--resamples", type=click.IntRange(min=10), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% intervals.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Threads reading files (default: 2 x cores, at most 8).")
def report_command(paths: tuple[Path, ...], out: Path, meta: Path | None,
                   images: Path | None, resize: str, mask_threshold: float | None,
                   max_memory: float, tmp: Path | None, examples: int, resamples: int,
                   workers: int | None) -> None:
    """Write one HTML page about RUN_DIR, or about maps PREDS against masks GTS.

    \b
    adbench report RUN_DIR --out report.html
    adbench report PREDS GTS [--meta META] [--images DIR] [--resize masks] --out report.html

    The page holds the per-class metrics under the paper's names with 95% bootstrap
    intervals, ROC / PR / PRO curves, score histograms, the worst false positives and
    negatives as image, map and mask overlays, and for a COCO-AD fold the breakdown per
    anomalous COCO category. It opens offline. Needs matplotlib
    (pip install 'adbench[report]'); see docs/report.md.
    """
    from adbench.report import write_folder_report, write_report

    if len(paths) > 2:
        raise click.UsageError("give RUN_DIR, or PREDS and GTS")
    options = {"examples": examples, "n_resamples": resamples, "workers": workers,
               "resize": resize, "mask_threshold": mask_threshold, "max_memory": max_memory,
               "tmp": tmp, "progress": True}

    with warnings_as_lines(), one_line_errors():
        if len(paths) == 1:
            written = write_report(paths[0], out, meta=meta, images=images, **options)
        else:
            written = write_folder_report(paths[0], paths[1], out, meta=meta, images=images,
                                          **options)
    click.echo(f"report written to {written}")
