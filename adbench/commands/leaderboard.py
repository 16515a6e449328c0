"""The `adbench leaderboard` command: render the results CSV."""

from __future__ import annotations

from pathlib import Path

import click

from adcommon.cli import one_line_errors
from leaderboard.render import FORMATS, render, select_rows
from leaderboard.store import default_path, read_rows, write_text_atomically


@click.command("leaderboard")
@click.argument("csv_path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="Markdown table, CSV (all columns, values in [0, 1]) or a "
                   "self-contained HTML page with a sortable table.")
@click.option("--dataset", default=None,
              help="Only rows of this dataset (e.g. coco-ad); case-insensitive.")
@click.option("--with-reference", is_flag=True,
              help="Add ADer's published COCO-AD rows (source=reported, definition=ader).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to this file (atomically) instead of stdout.")
def leaderboard_command(
    csv_path: Path | None,
    fmt: str,
    dataset: str | None,
    with_reference: bool,
    out_path: Path | None,
) -> None:
    """Render the leaderboard CSV as Markdown, CSV or a self-contained HTML page.

    CSV_PATH defaults to $ADBENCH_LEADERBOARD, else ./leaderboard.csv. Runs that cover
    every fold of one split (num_folds) in one setting get an extra mean row, e.g.
    "COCO-AD (4 folds)": the mean over the folds of each metric, as the paper reports it.
    """
    csv_path = csv_path if csv_path is not None else default_path()
    with one_line_errors():
        rows = read_rows(csv_path)
        if not select_rows(rows, dataset=dataset, with_reference=with_reference):
            which = f" for dataset {dataset!r}" if dataset else ""
            click.echo(f"{csv_path}: no rows{which}; nothing to show.", err=True)
            return
        text = render(rows, fmt=fmt, dataset=dataset, with_reference=with_reference)  # type: ignore[arg-type]
        if out_path is None:
            click.echo(text, nl=False)
        else:
            write_text_atomically(out_path, text)
            click.echo(f"wrote {out_path}", err=True)
