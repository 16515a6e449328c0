"""One baseline run, end to end: plan -> train -> maps + gts -> metrics -> leaderboard rows.

`run_baseline(RunConfig(...))` is the Python API behind `adbench run-baseline` (and the
demo). It works the same in one process and under `torchrun` (DDP): every process trains
on its share of each global batch; the main process writes checkpoints, evaluates,
scores and records. Order of work, so that a failure costs no training and leaves
nothing half-made: every check (`plan_run`), then the model (weights), then the run
folder and its config.json, then training, then evaluation.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import metrics
from adbench.pipeline.config import RunConfig, RunSetupError
from adbench.pipeline.evaluation import (
    RESULT_FILES,
    predict,
    score_in_memory,
    score_run_folder,
    write_predictions,
)
from adbench.pipeline.plan import RunPlan, default_cache_dir, plan_run
from adbench.pipeline.record import append_rows, leaderboard_rows
from adbench.pipeline.rundir import create_run_folder, write_config
from adbench.rundir_layout import GTS_DIR, MAPS_DIR
from adcommon.errors import InputError
from baselines.base import AnomalyModel, defines_image_score
from baselines.data import ImageCache, ImageDataset, make_loader
from baselines.registry import build_model, get_baseline
from baselines.training import (
    JsonLog,
    TrainSettings,
    TrainStats,
    barrier,
    init_distributed,
    prepare_model,
    seed_everything,
    train_model,
)
from metrics import ScoreResult

#: Errors of the disk (full, read-only, over quota) reported as one line naming the file.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


class RunWriteError(InputError):
    """A file of the run could not be written (disk full, read-only, no permission)."""


@dataclass
class RunResult:
    """Where the run wrote its outputs and what it measured (`metrics` is the exact
    definition's result, `results` every scored definition's)."""

    run_dir: Path
    maps_dir: Path
    gts_dir: Path
    metrics_path: Path
    metrics: ScoreResult
    results: list[ScoreResult]
    rows: list[dict[str, Any]]
    rows_appended: int
    leaderboard_path: Path | None
    train_seconds: float
    images_per_second: float


@contextmanager
def _disk_errors_as_one_line(run_dir: Path) -> Iterator[None]:
    """A full, read-only or forbidden disk while the run writes: one line naming the file
    (or the run folder, when the library that failed did not say which file)."""
    try:
        yield
    except OSError as error:
        if error.errno not in DISK_ERRNOS:
            raise
        raise RunWriteError(f"{error.filename or run_dir}: cannot write ({error.strerror})"
                            ) from None


def run_baseline(config: RunConfig) -> RunResult | None:
    """Train, evaluate, score and record one baseline. Returns the result on the main
    process (None on the other DDP processes, and when config.evaluate is False).
    Raises an `InputError` (one line) on bad input."""
    get_baseline(config.name)  # an unknown name fails before anything starts
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RunSetupError("--device cuda: no CUDA device available (use --device cpu)")
    ctx = init_distributed(device)
    try:
        plan = plan_run(config, ctx)
        with _disk_errors_as_one_line(plan.run_dir):
            return _run(plan)
    finally:
        if ctx.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _datasets(plan: RunPlan) -> tuple[ImageDataset, ImageDataset]:
    """Train and test datasets, through the uint8 cache if asked (built first by one
    process per machine, then opened by the others)."""
    config, source, ctx = plan.config, plan.source, plan.ctx
    if not config.cache:
        return (ImageDataset(source.train, config.image_size),
                ImageDataset(source.test, config.image_size))
    folder = default_cache_dir(config)
    # one process per machine builds (LOCAL_RANK 0; identical files if a folder is shared)
    builder = int(os.environ.get("LOCAL_RANK", ctx.rank)) == 0
    caches = []
    for samples in (source.train, source.test):
        if builder:
            caches.append(ImageCache(samples, config.image_size, folder,
                                     config.progress and ctx.is_main))
        barrier(ctx)
        if not builder:
            caches.append(ImageCache(samples, config.image_size, folder, progress=False))
    return (ImageDataset(source.train, config.image_size, caches[0]),
            ImageDataset(source.test, config.image_size, caches[1]))


def _predictions(plan: RunPlan, model: AnomalyModel, test_set: ImageDataset):
    return predict(model, test_set, plan.per_process_batch, plan.to_input, plan.config.amp,
                   plan.workers, plan.ctx.device.type == "cuda", plan.config.progress)


def _periodic_evaluation(plan: RunPlan, model: AnomalyModel, test_set: ImageDataset
                         ) -> Callable[[int, float], None] | None:
    """--eval-every E: after every E-th epoch (not the last, which the final evaluation
    scores), the main process scores the model in memory into log.jsonl."""
    every, log = plan.config.eval_every, JsonLog(plan.run_dir / "log.jsonl", plan.ctx.is_main)
    if every is None:
        return None

    def evaluate(epoch: int, _loss: float) -> None:
        if epoch % every or epoch == plan.epochs or not plan.ctx.is_main:
            return
        started = time.perf_counter()
        results = score_in_memory(_predictions(plan, model, test_set), plan.config.image_size)
        for result in results:
            log.write("evaluation", epoch=epoch, definition=result["definition"],
                      seconds=time.perf_counter() - started, mean=result["mean"])

    return evaluate


def _chain(*callbacks: Callable[[int, float], None] | None) -> Callable[[int, float], None]:
    def call(epoch: int, loss: float) -> None:
        for callback in callbacks:
            if callback is not None:
                callback(epoch, loss)
    return call


def _run(plan: RunPlan) -> RunResult | None:
    config, ctx = plan.config, plan.ctx
    train_set, test_set = _datasets(plan)
    seed_everything(config.seed)
    # built before the run folder is written: a bad --weights or --image-size must not leave
    # a config.json that blocks the corrected re-run
    model = build_model(config.name, image_size=config.image_size, weights=config.weights,
                        backbone=config.backbone)
    barrier(ctx)  # every process has checked everything before the folder appears
    if ctx.is_main and not plan.resuming:
        create_run_folder(plan.run_dir, exclusive=plan.exclusive_folder)
        write_config(plan.run_dir, plan.config_record())
    barrier(ctx)
    model, forward_module = prepare_model(model, ctx, plan.channels_last)
    loader = make_loader(train_set, plan.per_process_batch, train=True, seed=config.seed,
                         workers=plan.workers, pin_memory=ctx.device.type == "cuda",
                         rank=ctx.rank, world_size=ctx.world_size)
    settings = TrainSettings(plan.recipe, plan.epochs, plan.batch_size, config.amp,
                             config.compile, plan.channels_last, config.progress,
                             on_epoch_end=_chain(_periodic_evaluation(plan, model, test_set),
                                                 config.on_epoch_end))
    stats = train_model(model, forward_module, loader, settings, ctx, plan.run_dir,
                        plan.resuming, plan.to_input)
    # no collective after training: the other processes leave while rank 0 evaluates
    return _evaluate(plan, model, test_set, stats) if ctx.is_main and config.evaluate else None


def _evaluate(plan: RunPlan, model: AnomalyModel, test_set: ImageDataset, stats: TrainStats
              ) -> RunResult:
    """Maps + gts (+ image scores), the same scoring as `adbench score` per definition,
    metrics.json and metrics_ader.json, the leaderboard rows."""
    started = time.perf_counter()
    image_scores = write_predictions(_predictions(plan, model, test_set), plan.run_dir,
                                     plan.config.image_size, defines_image_score(model))
    results = score_run_folder(plan.run_dir, image_scores)
    exact = next(r for r in results if r["definition"] == metrics.COMPAT_DEFINITIONS[None])
    JsonLog(plan.run_dir / "log.jsonl", True).write(
        "evaluated", epoch=plan.epochs, seconds=time.perf_counter() - started,
        mean=exact["mean"], definitions=[r["definition"] for r in results])
    rows = leaderboard_rows(plan, results, stats)
    appended = append_rows(plan.leaderboard, rows) if plan.leaderboard is not None else 0
    return RunResult(plan.run_dir, plan.run_dir / MAPS_DIR, plan.run_dir / GTS_DIR,
                     plan.run_dir / RESULT_FILES[None], exact, results, rows, appended,
                     plan.leaderboard, stats.train_seconds, stats.images_per_second)
