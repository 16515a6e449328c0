"""`adbench demo`: the whole pipeline on a generated toy dataset, on the CPU, in minutes.

Steps: write a toy COCO 2017 look-alike, build COCO-AD fold 0 of it with cocoad, train
the `ae` baseline and `rd` (random encoder, `--weights none`) for a short run, score a
generated multi-class map folder the way `adbench score` does (mixed .npy/.npz/.tif/.png
maps), print the leaderboard, and write the two pages to look at: the leaderboard's HTML
page and `rd`'s report (`adbench report`; needs the `report` extra). Everything lands in
one folder and nothing outside it is touched; the folder's ledger (`adbench.demo_folder`)
makes a second demo in the same folder start afresh without deleting anything the demo
did not create.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from adcommon.cli import one_line_errors

DEMO_BASELINES = ("ae", "rd")
REPORTED_RUN = "rd"
LEADERBOARD_PAGE = "leaderboard.html"
REPORT_PAGE = "report.html"


def _step(number: int, total: int, text: str) -> None:
    click.secho(f"[{number}/{total}] {text}", bold=True)


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("adbench-demo"), show_default=True,
              help="Folder that receives everything the demo writes: new, empty, or an "
                   "earlier demo's (whose own files are replaced).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of data and runs.")
@click.option("--epochs", type=click.IntRange(min=1), default=2, show_default=True,
              help="Training epochs per baseline (a short CPU run).")
@click.option("--image-size", type=click.IntRange(min=16), default=64, show_default=True,
              help="Training and evaluation size S (images resized to S x S).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
def demo_command(out: Path, seed: int, epochs: int, image_size: int, batch_size: int) -> None:
    """Generate toy data, build a COCO-AD fold, train ae and rd, score, show the leaderboard.

    Runs on the CPU with no download (rd uses a random encoder), in a few minutes, and
    writes only inside --out.
    """
    with one_line_errors():
        _run_demo(out, seed, epochs, image_size, batch_size)


def _run_demo(out: Path, seed: int, epochs: int, image_size: int, batch_size: int) -> None:
    from adbench.demo_folder import DemoFolder
    from adbench.pipeline import RunConfig, run_baseline
    from adbench.report import write_report
    from adbench.report.figures import require_matplotlib
    from adbench.report.sources import ReportInputError
    from adbench.toydata.coco import write_toy_coco
    from adbench.toydata.maps import write_toy_score_folders
    from adcommon.atomic import write_atomic
    from cocoad.build import build_fold
    from leaderboard import read_rows, render
    from metrics import format_table, score_folders

    started = time.perf_counter()
    total = 4 + len(DEMO_BASELINES)
    folder = DemoFolder(out)
    folder.prepare()
    board = out / "leaderboard.csv"

    with folder.step("coco") as coco_root:
        _step(1, total, f"toy COCO 2017 dataset -> {coco_root}")
        write_toy_coco(coco_root, seed=seed, n_train=96, n_val=40)
        _step(2, total, "cocoad build --fold 0 (anomalous: COCO labels 0-19)")
        fold = build_fold(coco_root, fold=0, num_folds=4, workers=1, force=True,
                          progress=True)
    counts = ", ".join(f"{k} {v}" for k, v in fold.counts.items())
    click.echo(f"      {fold.meta_path.name}: {counts}")
    with folder.step("runs") as runs_root, folder.step(board.name):
        for number, name in enumerate(DEMO_BASELINES, start=3):
            _step(number, total, f"run-baseline {name} ({epochs} epochs at {image_size} px, "
                                 "CPU)")
            result = run_baseline(RunConfig(
                name=name, data=fold.meta_path, fold=0, epochs=epochs, image_size=image_size,
                batch_size=batch_size, device="cpu", weights="none", out=runs_root / name,
                leaderboard=board, seed=seed, workers=0))
            if result is not None:
                click.echo(f"      maps, masks, metrics.json and metrics_ader.json in "
                           f"{result.run_dir}")
    with folder.step("score") as score_root:
        _step(total - 1, total, "adbench score on a generated map folder (two classes, mixed "
                                "formats)")
        preds, gts = write_toy_score_folders(score_root, seed=seed)
        click.echo(format_table(score_folders(preds, gts)))
    _step(total, total, f"leaderboard ({board}) and the pages to look at")
    rows = read_rows(board)
    click.echo(render(rows, fmt="md"))
    pages = [out / LEADERBOARD_PAGE]
    with folder.step(LEADERBOARD_PAGE) as page:
        write_atomic(page, render(rows, fmt="html").encode())
    try:
        require_matplotlib()
    except ReportInputError as error:  # the report extra is not installed
        click.echo(f"      no report page: {error}")
    else:
        with folder.step(REPORT_PAGE) as report:
            write_report(runs_root / REPORTED_RUN, report)
        pages.append(report)
    click.secho(f"Done in {time.perf_counter() - started:.0f} s. Everything is in "
                f"{out.resolve()}", fg="green")
    click.echo("Open in a browser: " + "  ".join(f"file://{p.resolve()}" for p in pages))
