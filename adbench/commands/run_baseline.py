"""The `adbench run-baseline` command: train, infer, score, record.

Flags map one to one onto `adbench.pipeline.RunConfig`; user errors (bad data, missing
weights, a diverging loss, ...: `adcommon.errors.InputError`) become one-line click
errors. torch is imported only when the command runs, so `adbench --help` works without it.
"""

from __future__ import annotations

from pathlib import Path

import click

from adcommon.cli import one_line_errors


def _baselines_epilog() -> str:
    """The registered baselines with their one-line descriptions (no torch needed)."""
    from baselines import get_baseline, list_baselines

    lines = [f"{name}: {get_baseline(name).description}".rstrip(": ") for name in list_baselines()]
    return "\b\nBaselines:\n" + "\n".join(f"  {line}" for line in lines)


class _BaselinesEpilogCommand(click.Command):
    """A command whose help ends with the registered baselines, listed when the help is
    formatted (loading the plugins then, not when the command is imported)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.epilog is None:
            self.epilog = _baselines_epilog()
        super().format_epilog(ctx, formatter)


@click.command("run-baseline", cls=_BaselinesEpilogCommand)
@click.argument("name")
@click.option("--data", type=click.Path(path_type=Path),
              help="A cocoad meta file (COCO-AD) or an MVTec AD / VisA style root "
                   "(<class>/train/good, <class>/test/<defect>, <class>/ground_truth/<defect>). "
                   "Default: fold --fold of 4 in $COCO_ROOT (meta_20_<fold>.json; COCO_ROOT "
                   "defaults to data/coco).")
@click.option("--fold", type=click.IntRange(min=0), default=None,
              help="COCO-AD fold (0-3): picks $COCO_ROOT/meta_20_<fold>.json with no --data; "
                   "a meta_P_K.json name gives it, and a different --fold is an error. Not "
                   "for MVTec AD / VisA roots.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Training epochs [recipe: 100].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Global batch size over all processes; the learning rate scales with it "
                   "[recipe: rd 16, invad 32, ae 32].")
@click.option("--image-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Images and masks are resized to S x S; maps are S x S.")
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default=None,
              help="Default: cuda when available.")
@click.option("--amp/--no-amp", default=False,
              help="bf16 autocast. Default off: fp32, as ADer trains (the precision is "
                   "recorded in the leaderboard row).")
@click.option("--weights", default="default", show_default=True,
              help="Pretrained encoder: default (download, hash-checked) | none (random) "
                   "| PATH (a local file, for offline machines).")
@click.option("--backbone", default=None,
              help="Override the registered encoder (e.g. resnet18 for quick CPU runs).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (new or empty; never one holding other files). Default: "
                   "runs/<name>-<dataset>[-<fold>]-<UTC time>-<random id>.")
@click.option("--resume", is_flag=True,
              help="Continue from the run folder's last checkpoint (with no --out: the newest "
                   "matching run under runs/); on a finished run, evaluate it again without "
                   "appending its rows twice.")
@click.option("--leaderboard", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Leaderboard CSV to append the rows to, one per metric definition "
                   "(default: $ADBENCH_LEADERBOARD, else ./leaderboard.csv); checked before "
                   "training.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Seeds the model's initialisation and every epoch's sample order.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile forward and loss (CUDA graphs on one GPU); slow first steps.")
@click.option("--cache", is_flag=True,
              help="Keep pre-resized uint8 images in $ADBENCH_CACHE (~/.cache/adbench) so "
                   "JPEG decoding is done once.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="DataLoader processes (default: up to 8 on CUDA, 0 on the CPU).")
@click.option("--eval-every", type=click.IntRange(min=1), default=None,
              help="Also score the model every E epochs (in memory, exact and ader "
                   "definitions) into RUN_DIR/log.jsonl, as ADer's logs do.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_baseline_command(name: str, data: Path | None, fold: int | None, epochs: int | None,
                         batch_size: int | None, image_size: int, device: str | None,
                         amp: bool, weights: str, backbone: str | None, out: Path | None,
                         resume: bool, leaderboard: Path | None, seed: int, compile_: bool,
                         cache: bool, workers: int | None, eval_every: int | None,
                         quiet: bool) -> None:
    """Train baseline NAME, write its anomaly maps, score them, append leaderboard rows.

    NAME is a registered baseline (listed below; plugin packages add theirs). Writes
    RUN_DIR/maps, gts, metrics.json (exact definitions), metrics_ader.json (ADer's
    evaluator, comparable with published rows) and one leaderboard row per definition.
    Multi-GPU: torchrun --nproc_per_node N -m adbench run-baseline ... See
    docs/baselines.md."""
    from adbench.pipeline import RunConfig, run_baseline

    config = RunConfig(name=name, data=data, fold=fold, epochs=epochs, batch_size=batch_size,
                       image_size=image_size, device=device, amp=amp, weights=weights,
                       backbone=backbone, out=out, resume=resume, leaderboard=leaderboard,
                       seed=seed, compile=compile_, cache=cache, workers=workers,
                       eval_every=eval_every, progress=not quiet)
    with one_line_errors():
        result = run_baseline(config)
    if result is None:  # a non-main DDP process
        return
    from metrics import format_table

    click.echo(format_table(result.metrics))
    click.echo(f"run folder: {result.run_dir}  ({result.train_seconds:.1f} s training, "
               f"{result.images_per_second:.1f} images/s); metrics.json (exact), "
               "metrics_ader.json (ADer's evaluator)")
    if result.leaderboard_path is not None:
        kept = len(result.rows) - result.rows_appended
        note = f" ({kept} already recorded for run {result.rows[0]['run_id']})" if kept else ""
        click.echo(f"{result.rows_appended} leaderboard row(s) appended to "
                   f"{result.leaderboard_path}{note}")
