"""The `cocoad` command: build, inspect and verify COCO-AD folds."""

from __future__ import annotations

from pathlib import Path

import click

from adcommon import __version__
from adcommon.cli import one_line_errors
from adcommon.paths import default_coco_root
from cocoad.folds import DEFAULT_NUM_FOLDS
from cocoad.rasterisers import DEFAULT_RASTERISER, RASTERISERS

INTERRUPTED_STATUS = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C
INTERRUPT_NOTES = {"build": "every fold is either complete or as it was before"}


coco_root_option = click.option(
    "--coco-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=default_coco_root,
    show_default="$COCO_ROOT, else data/coco",
    help="COCO 2017 root: annotations/instances_{train,val}2017.json, train2017/, val2017/.",
)


class _InterruptibleGroup(click.Group):
    """Ctrl-C during a command: one line on stderr and exit status 130 (not click's
    "Aborted!" and status 1)."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            note = INTERRUPT_NOTES.get(ctx.invoked_subcommand or "")
            click.echo(f"cocoad {ctx.invoked_subcommand}: interrupted"
                       + (f"; {note}" if note else ""), err=True)
            ctx.exit(INTERRUPTED_STATUS)


@click.group(cls=_InterruptibleGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cocoad")
def main() -> None:
    """Build the COCO-AD anomaly-detection benchmark from the COCO 2017 annotations.

    Fold K of N makes the 80/N categories with labels K*80/N .. (K+1)*80/N-1 (labels
    in category-id order) anomalous; see docs/cocoad.md.
    """


num_folds_option = click.option("--num-folds", type=int, default=DEFAULT_NUM_FOLDS,
                                show_default=True,
                                help="Number of folds; must divide 80 (P = 80 / N classes each).")


@main.command()
@click.option("--fold", type=int, help="Fold index K (0-based).")
@click.option("--all-folds", is_flag=True, help="Build every fold (parses the annotations once).")
@coco_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the COCO root). Meta paths are relative to it.")
@num_folds_option
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes rasterising masks, besides one parsing the train file "
                   "(default: CPU count; 1 = everything in this process).")
@click.option("--force", is_flag=True, help="Rebuild even if the outputs are up to date.")
@click.option("--check-images", is_flag=True,
              help="Also check that every image file of the fold exists (none is opened).")
@click.option("--masks", type=click.Choice(RASTERISERS), default=DEFAULT_RASTERISER,
              show_default=True,
              help="Mask rasteriser: pycocotools, or ader (OpenCV fillPoly on truncated "
                   "coordinates, ADer's masks pixel for pixel; needs the 'ader' extra).")
def build(fold: int | None, all_folds: bool, coco_root: Path, out: Path | None, num_folds: int,
          workers: int | None, force: bool, check_images: bool, masks: str) -> None:
    """Write meta_P_K.json, val2017_mask_ad_P_K/*.png and manifest_P_K.json for a fold.

    P = 80 / num-folds. Nothing is written on bad input; a failed or interrupted build
    leaves each fold complete or as it was; a fold whose manifest records the same
    inputs is left alone ("up to date") unless --force.
    """
    from cocoad.build import build_folds
    from cocoad.folds import check_num_folds

    if (fold is not None) == all_folds:
        raise click.UsageError("give exactly one of --fold K and --all-folds")
    with one_line_errors():
        check_num_folds(num_folds)
        folds = list(range(num_folds)) if fold is None else [fold]
        results = build_folds(coco_root, out, folds, num_folds, workers, force, check_images,
                              progress=True, masks=masks)
    for result in results:
        counts = result.counts
        if result.up_to_date:
            click.echo(f"fold {result.fold}: up to date ({result.manifest_path}); "
                       "--force rebuilds it")
        else:
            click.echo(f"fold {result.fold}: {counts['train']} train images, "
                       f"{counts['test_normal']} normal + {counts['test_anomalous']} anomalous "
                       f"test images -> {result.meta_path}, {result.mask_dir}/, "
                       f"{result.manifest_path}")


@main.command()
@coco_root_option
@click.option("--fold", type=int, default=None, help="Only this fold (default: all).")
@num_folds_option
def stats(coco_root: Path, fold: int | None, num_folds: int) -> None:
    """Print each fold's anomalous classes and image counts; writes nothing."""
    from cocoad.folds import check_num_folds
    from cocoad.stats import fold_statistics, format_stats

    with one_line_errors():
        check_num_folds(num_folds)
        folds = [fold] if fold is not None else list(range(num_folds))
        for fold_stats in fold_statistics(coco_root, folds, num_folds, progress=True):
            click.echo(format_stats(fold_stats))


@main.command()
@click.option("--fold", type=int, required=True, help="Fold index K (0-based).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder holding the fold's outputs (default: the COCO root).")
@coco_root_option
@num_folds_option
def verify(fold: int, out: Path | None, coco_root: Path, num_folds: int) -> None:
    """Re-hash a built fold's meta file and masks against its manifest; exit 1 on a mismatch."""
    from cocoad.verify import verify_fold

    with one_line_errors():
        report = verify_fold(coco_root if out is None else out, fold, num_folds)
    if not report.ok:
        problems = [f"{kind}: {', '.join(paths[:5])}{', ...' if len(paths) > 5 else ''}"
                    for kind, paths in (("changed", report.changed), ("missing", report.missing))
                    if paths]
        raise click.ClickException(f"fold {fold}: {len(report.changed) + len(report.missing)} "
                                   f"of {report.checked} files differ from the manifest; "
                                   + "; ".join(problems))
    click.echo(f"fold {fold}: all {report.checked} files match the manifest")

