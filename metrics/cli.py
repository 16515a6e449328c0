"""The `adbench score` command: score a folder of anomaly maps against masks."""

from __future__ import annotations

from pathlib import Path

import click


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
              help="CSV of image scores to use instead of the maps' maxima.")
@click.option("--compat", type=click.Choice(["ader"]), default=None,
              help="Reproduce ADer's Evaluator (binned pixel metrics) instead of the exact ones.")
@click.option("--workers", type=int, default=None, help="Threads reading files.")
def score_command(**_: object) -> None:
    """Score anomaly maps PREDS against masks GTS with the full metric suite."""
    raise click.ClickException("not built yet (issue 5: metrics)")
