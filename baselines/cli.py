"""The `adbench run-baseline` command: train, infer, score, record."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("run-baseline")
@click.argument("name")
@click.option("--data", type=click.Path(path_type=Path),
              help="A cocoad meta file (COCO-AD) or an MVTec AD / VisA style root.")
@click.option("--fold", type=int, default=None)
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--image-size", type=int, default=256, show_default=True)
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default=None)
@click.option("--amp/--no-amp", default=None)
@click.option("--weights", default="default", show_default=True, help="default | none | PATH")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--resume", is_flag=True)
@click.option("--leaderboard", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--compile", "compile_", is_flag=True)
@click.option("--cache", is_flag=True)
@click.option("--workers", type=int, default=None)
def run_baseline_command(**_: object) -> None:
    """Train baseline NAME, write its anomaly maps, score them, append a leaderboard row."""
    raise click.ClickException("not built yet (issue 6: run-baseline pipeline)")
