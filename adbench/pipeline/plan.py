"""Resolving a `RunConfig` against the registry, the data and the device: every check
that can fail runs here, before anything is written (docs/baselines.md, "When a run
fails")."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

import leaderboard
from adbench.pipeline.config import RunConfig, RunSetupError
from adbench.pipeline.rundir import check_new_folder, check_resumable, new_run_id, newest_run
from baselines.data import DataError, DataSource, default_workers, load_source, to_model_input
from baselines.registry import Recipe, get_baseline
from baselines.training import DistContext, broadcast_object
from cocoad.folds import DEFAULT_NUM_FOLDS
from cocoad.layout import default_fold_meta


@dataclass
class RunPlan:
    """The run's settings once defaults are resolved against the registry and the device."""

    config: RunConfig
    ctx: DistContext
    recipe: Recipe
    epochs: int
    batch_size: int  # global
    channels_last: bool
    backbone: str | None
    source: DataSource
    fold: int | None
    num_folds: int | None
    run_dir: Path
    run_id: str
    resuming: bool
    epochs_done: int  # finished epochs of a resumed run (0 for a new one)
    exclusive_folder: bool  # a default name: created with an exclusive mkdir
    leaderboard: Path | None
    workers: int

    @property
    def per_process_batch(self) -> int:
        return self.batch_size // self.ctx.world_size

    def to_input(self, images: torch.Tensor) -> torch.Tensor:
        """A loader's uint8 batch as the model's normalised input on this device."""
        return to_model_input(images, self.ctx.device, self.channels_last)

    def config_record(self) -> dict[str, Any]:
        """What config.json records: the flags with defaults resolved, and the run id."""
        record = {k: v for k, v in asdict(self.config).items() if k != "on_epoch_end"}
        record.update(epochs=self.epochs, batch_size=self.batch_size, backbone=self.backbone,
                      run_id=self.run_id, fold=self.fold, num_folds=self.num_folds,
                      dataset=self.source.name)
        return {key: (str(value) if isinstance(value, Path) else value)
                for key, value in record.items()}


def resolve_data(config: RunConfig) -> Path:
    """--data, else COCO-AD fold --fold (default 0) of 4 in $COCO_ROOT (or data/coco)."""
    if config.data is not None:
        return Path(config.data)
    fold = config.fold or 0
    path = default_fold_meta(fold, DEFAULT_NUM_FOLDS)
    if not path.is_file():
        raise DataError(f"{path}: not found; build it with `cocoad build --fold {fold}` "
                        "or pass --data META|ROOT")
    return path


def _resolve_fold(requested: int | None, named: int | None, meta: Path) -> int | None:
    """The fold of a COCO-AD meta file: the one its name `meta_P_K.json` says, else --fold.
    A --fold that contradicts the name is an error rather than silently overridden."""
    if requested is not None and named is not None and requested != named:
        raise DataError(f"{meta}: its name says fold {named}, but --fold {requested} was given")
    return named if named is not None else requested


def _check_numbers(config: RunConfig, epochs: int, batch_size: int, world_size: int) -> None:
    if epochs < 1 or batch_size < 1 or config.image_size < 1:
        raise RunSetupError("--epochs, --batch-size and --image-size must be at least 1")
    if config.workers is not None and config.workers < 0:
        raise RunSetupError("--workers must be at least 0")
    if config.eval_every is not None and config.eval_every < 1:
        raise RunSetupError("--eval-every must be at least 1")
    if batch_size % world_size:
        raise RunSetupError(f"--batch-size {batch_size} is the global batch: it must be "
                            f"divisible by the {world_size} processes")


def _check_splits(source: DataSource, batch_size: int) -> None:
    if not source.train:
        raise DataError("no training images found")
    if not source.test:
        raise DataError("no test images found")
    if len(source.train) < batch_size:
        raise DataError(f"{len(source.train)} training images are fewer than one batch "
                        f"({batch_size}); lower --batch-size")


def _leaderboard_path(config: RunConfig) -> Path:
    """--leaderboard, else the leaderboard package's default."""
    return Path(config.leaderboard) if config.leaderboard else leaderboard.default_path()


def _run_prefix(config: RunConfig, source: DataSource, fold: int | None) -> str:
    return f"{config.name}-{source.name}" + ("" if fold is None else f"-{fold}")


def plan_run(config: RunConfig, ctx: DistContext) -> RunPlan:
    """Resolve and check every setting; nothing is written. On DDP, rank 0's choice of
    run folder and run id is every process's."""
    entry = get_baseline(config.name)
    epochs = config.epochs if config.epochs is not None else entry.recipe.epochs
    batch_size = config.batch_size if config.batch_size is not None else entry.recipe.batch_size
    _check_numbers(config, epochs, batch_size, ctx.world_size)
    data = resolve_data(config)
    if config.fold is not None and data.is_dir():
        raise DataError(f"{data}: --fold applies to COCO-AD meta files, not to an "
                        "MVTec AD / VisA root")
    source = load_source(data)
    _check_splits(source, batch_size)
    fold = _resolve_fold(config.fold, source.fold, data)
    num_folds = None
    if fold is not None:
        num_folds = DEFAULT_NUM_FOLDS if source.num_folds is None else source.num_folds
    on_cuda = ctx.device.type == "cuda"
    plan = RunPlan(
        config=config, ctx=ctx, recipe=entry.recipe, epochs=epochs, batch_size=batch_size,
        channels_last=on_cuda if config.channels_last is None else config.channels_last,
        backbone=config.backbone or entry.backbone, source=source, fold=fold,
        num_folds=num_folds, run_dir=Path(), run_id="", resuming=config.resume,
        epochs_done=0, exclusive_folder=False,
        leaderboard=_leaderboard_path(config) if config.record and config.evaluate else None,
        workers=default_workers(ctx.device) if config.workers is None else config.workers)
    if ctx.is_main:
        _place(plan)
        if plan.leaderboard is not None:
            leaderboard.check_appendable(plan.leaderboard)
    placed = broadcast_object(ctx, (plan.run_dir, plan.run_id, plan.epochs_done,
                                    plan.exclusive_folder))
    plan.run_dir, plan.run_id, plan.epochs_done, plan.exclusive_folder = placed
    return plan


def _place(plan: RunPlan) -> None:
    """Choose the run folder and the run id (new, or the resumed run's)."""
    config = plan.config
    prefix = _run_prefix(config, plan.source, plan.fold)
    if config.resume:
        plan.run_dir = Path(config.out) if config.out is not None else newest_run(
            config.runs_root, prefix)
        saved_id, plan.epochs_done = check_resumable(plan.run_dir, plan.config_record())
        plan.run_id = saved_id
        return
    plan.run_id = new_run_id()
    if config.out is not None:
        plan.run_dir = Path(config.out)
        check_new_folder(plan.run_dir)
    else:
        plan.run_dir = config.runs_root / f"{prefix}-{plan.run_id}"
        plan.exclusive_folder = True


def default_cache_dir(config: RunConfig) -> Path:
    """--cache's folder: the config's, else $ADBENCH_CACHE, else ~/.cache/adbench."""
    if config.cache_dir is not None:
        return config.cache_dir
    return Path(os.environ.get("ADBENCH_CACHE", Path.home() / ".cache" / "adbench"))
