"""The `adbench score` command: score a folder of anomaly maps against masks."""

from __future__ import annotations

from pathlib import Path

import click

from adcommon.cli import one_line_errors, warnings_as_lines
from metrics.keys import COMPAT_DEFINITIONS, RESIZE_CHOICES


@click.command("score")
@click.argument("preds", type=click.Path(path_type=Path))
@click.argument("gts", type=click.Path(path_type=Path))
@click.option("--meta", type=click.Path(dir_okay=False, path_type=Path),
              help="A cocoad/ADer meta file naming every test image, class and mask.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results as JSON (values in [0, 1]).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write one row per class plus `mean`.")
@click.option("--image-scores", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV (columns path,score; path relative to PREDS) of image scores to use "
                   "instead of the maps' maxima.")
@click.option("--compat", type=click.Choice([c for c in COMPAT_DEFINITIONS if c]), default=None,
              help="Reproduce one of ADer's evaluators instead of the exact definitions, to "
                   "compare with published tables (docs/metrics.md).")
@click.option("--resize", type=click.Choice(RESIZE_CHOICES), default="none", show_default=True,
              help="Evaluation size: none (a map and its mask must have one size), masks "
                   "(masks resized to their maps, as ADer does) or maps (maps resized to "
                   "their masks). Recorded in the JSON.")
@click.option("--mask-threshold", type=float, default=None,
              help="A mask pixel is anomalous iff its value is > T (for soft or "
                   "anti-aliased masks; ADEval uses 127). Default: nonzero.")
@click.option("--max-memory", type=click.FloatRange(min=0.5), default=4.0, show_default=True,
              help="GiB this process may use (plus ~0.3 for Python and libraries) whatever "
                   "the number or size of the maps: beyond it, sorted pixel data is spilled "
                   "to --tmp and read back once. The results are identical either way.")
@click.option("--tmp", type=click.Path(exists=True, file_okay=False, writable=True,
                                      path_type=Path), default=None,
              help="Folder for spilled data (default: the system's temporary folder); "
                   "everything written there is removed, also on errors and Ctrl-C.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Threads reading files (default: 2 x cores, at most 8).")
def score_command(preds: Path, gts: Path, meta: Path | None, json_out: Path | None,
                  csv_out: Path | None, image_scores: Path | None, compat: str | None,
                  resize: str, mask_threshold: float | None, max_memory: float,
                  tmp: Path | None, workers: int | None) -> None:
    """Score anomaly maps PREDS against masks GTS with the full metric suite.

    PREDS holds .npy/.npz/.tif/.png maps, GTS the .png masks (STEM.png or STEM_mask.png,
    MVTec's test -> ground_truth rule); maps without a mask are normal images. Classes
    are the first folder level. Prints a table in percent; see docs/metrics.md.
    """
    from metrics.folder_scoring import score_folders
    from metrics.report import (
        check_destination,
        format_table,
        summary_line,
        to_csv,
        to_json,
        write_files,
    )

    if json_out is not None and csv_out is not None and json_out.resolve() == csv_out.resolve():
        raise click.UsageError("--json and --csv name the same file")
    outputs = {path: make for path, make in ((json_out, to_json), (csv_out, to_csv))
               if path is not None}
    try:
        for path in outputs:
            check_destination(path)
    except OSError as error:
        raise click.ClickException(f"cannot write output: {error}") from None

    with warnings_as_lines(), one_line_errors():
        result = score_folders(preds, gts, meta=meta, image_scores=image_scores,
                               compat=compat, workers=workers, progress=True,
                               resize=resize, mask_threshold=mask_threshold,
                               max_memory=max_memory, tmp=tmp)
    click.echo(summary_line(result))
    click.echo(format_table(result))
    try:
        write_files({path: make(result) for path, make in outputs.items()})
    except OSError as error:
        raise click.ClickException(f"cannot write output: {error}") from None
