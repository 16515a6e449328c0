"""The `cocoad` command: build, inspect and verify COCO-AD folds."""

from __future__ import annotations

import os
from pathlib import Path

import click

from adbench import __version__

NOT_BUILT = "not built yet (issue 4: cocoad builder)"


def _default_coco_root() -> Path:
    return Path(os.environ.get("COCO_ROOT", "data/coco"))


coco_root_option = click.option(
    "--coco-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=_default_coco_root,
    show_default="$COCO_ROOT, else data/coco",
    help="COCO 2017 root: annotations/instances_{train,val}2017.json, train2017/, val2017/.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cocoad")
def main() -> None:
    """Build the COCO-AD anomaly-detection benchmark from the COCO 2017 annotations.

    Fold K of N makes the 80/N categories with labels K*80/N .. (K+1)*80/N-1 (labels
    in category-id order) anomalous; see docs/cocoad.md.
    """


@main.command()
@click.option("--fold", type=int, help="Fold index K (0-based).")
@click.option("--all-folds", is_flag=True, help="Build every fold.")
@coco_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: the COCO root).")
@click.option("--num-folds", type=int, default=4, show_default=True,
              help="Number of folds; must divide 80.")
@click.option("--workers", type=int, default=None, help="Processes writing masks.")
@click.option("--force", is_flag=True, help="Rebuild even if the outputs are up to date.")
@click.option("--check-images", is_flag=True, help="Also check that every image file exists.")
def build(**_: object) -> None:
    """Write meta_P_K.json, the test masks and manifest_P_K.json for a fold."""
    raise click.ClickException(NOT_BUILT)


@main.command()
@coco_root_option
@click.option("--fold", type=int, default=None, help="Only this fold.")
@click.option("--num-folds", type=int, default=4, show_default=True)
def stats(**_: object) -> None:
    """Print each fold's anomalous classes and image counts; writes nothing."""
    raise click.ClickException(NOT_BUILT)


@main.command()
@click.option("--fold", type=int, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@coco_root_option
@click.option("--num-folds", type=int, default=4, show_default=True)
def verify(**_: object) -> None:
    """Re-hash a built fold's outputs against its manifest."""
    raise click.ClickException(NOT_BUILT)
