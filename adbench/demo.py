"""`adbench demo`: the whole pipeline on a generated toy dataset, on the CPU."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("adbench-demo"), show_default=True,
              help="Folder that receives everything the demo writes.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo_command(out: Path, seed: int) -> None:
    """Generate toy data, build a COCO-AD fold, train, score and print the leaderboard."""
    raise click.ClickException("not built yet")
