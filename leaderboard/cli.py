"""The `adbench leaderboard` command: render the results CSV."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("leaderboard")
@click.argument("csv_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "html"]), default="md",
              show_default=True)
@click.option("--dataset", default=None, help="Only rows of this dataset.")
@click.option("--with-reference", is_flag=True, help="Show ADer's published rows beside the runs.")
def leaderboard_command(**_: object) -> None:
    """Render the leaderboard CSV as Markdown, CSV or a self-contained HTML page."""
    raise click.ClickException("not built yet (issue 6: leaderboard)")
