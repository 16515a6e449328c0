"""One baseline run, end to end: data -> train -> maps + gts -> metrics.json -> leaderboard row.

`run_baseline(RunConfig(...))` is the Python API behind `adbench run-baseline` (and the
demo). It works the same in one process and under `torchrun` (DDP): every process trains
on its share of each global batch; the main process writes checkpoints, runs inference,
scores and records. Model-specific code lives only in the model files and the registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import adbench
from adcommon.atomic import write_atomic
from adcommon.errors import InputError
from adcommon.paths import default_coco_root
from baselines.base import AnomalyModel
from baselines.data import (
    DataError,
    DataSource,
    ImageCache,
    ImageDataset,
    default_workers,
    load_source,
    make_loader,
    to_model_input,
)
from baselines.inference import write_maps
from baselines.registry import Recipe, build_model, get_baseline
from baselines.training import (
    CHECKPOINT_NAME,
    CheckpointError,
    DistContext,
    JsonLog,
    TrainSettings,
    TrainStats,
    barrier,
    broadcast_object,
    init_distributed,
    prepare_model,
    seed_everything,
    train_model,
)
from cocoad.categories import NUM_CATEGORIES
from cocoad.folds import DEFAULT_NUM_FOLDS
from cocoad.layout import FoldOutputs


class RunSetupError(InputError):
    """Flags that cannot make a run (a batch not divisible by the processes, no CUDA)."""


#: Config fields that must match when a run is resumed.
_RESUME_KEYS = ("name", "epochs", "batch_size", "image_size", "seed", "weights", "backbone")


@dataclass
class RunConfig:
    """Everything `adbench run-baseline` takes; None means the registry's / device's default."""

    name: str
    data: Path | None = None  # meta file or MVTec-style root; None: COCO root's fold meta
    fold: int | None = None
    epochs: int | None = None  # default: the recipe's
    batch_size: int | None = None  # global batch; default: the recipe's (lr scales with it)
    image_size: int = 256
    device: str | None = None  # cuda if available, else cpu
    amp: bool | None = None  # bf16 autocast; default on for CUDA
    weights: str = "default"  # default | none | PATH
    backbone: str | None = None  # override the registered encoder
    out: Path | None = None  # run folder; default runs/<name>-<dataset>[-<fold>]-<time>
    resume: bool = False
    leaderboard: Path | None = None  # default: leaderboard.default_path()
    record: bool = True  # append the leaderboard row
    evaluate: bool = True  # False: stop after training (a later --resume evaluates)
    seed: int = 42
    compile: bool = False
    cache: bool = False
    cache_dir: Path | None = None  # default $ADBENCH_CACHE or ~/.cache/adbench
    workers: int | None = None
    channels_last: bool | None = None  # default on for CUDA
    progress: bool = True
    runs_root: Path = Path("runs")
    on_epoch_end: Callable[[int, float], None] | None = field(default=None, repr=False)


@dataclass
class RunResult:
    """Where the run wrote its outputs and what it measured."""

    run_dir: Path
    maps_dir: Path
    gts_dir: Path
    metrics_path: Path
    metrics: dict[str, Any]
    row: dict[str, Any] | None
    leaderboard_path: Path | None
    train_seconds: float
    images_per_second: float
    image_scores: Path | None = None  # image_scores.csv, for models with their own score


def resolve_data(config: RunConfig) -> Path:
    """--data, else COCO-AD fold --fold (default 0) of 4 in $COCO_ROOT (or data/coco)."""
    if config.data is not None:
        return Path(config.data)
    fold = config.fold or 0
    path = FoldOutputs(default_coco_root(), NUM_CATEGORIES // DEFAULT_NUM_FOLDS, fold).meta
    if not path.is_file():
        raise DataError(f"{path}: not found; build it with `cocoad build --fold {fold}` "
                        "or pass --data META|ROOT")
    return path


def _run_prefix(config: RunConfig, source: DataSource, fold: int | None) -> str:
    return f"{config.name}-{source.name}" + ("" if fold is None else f"-{fold}")


def resolve_run_dir(config: RunConfig, source: DataSource, fold: int | None) -> Path:
    """--out; with --resume and no --out, the newest matching run that has a checkpoint;
    else a new runs/<name>-<dataset>[-<fold>]-<UTC time> folder."""
    if config.out is not None:
        return Path(config.out)
    prefix = _run_prefix(config, source, fold)
    if config.resume:
        candidates = sorted(config.runs_root.glob(f"{prefix}-*/{CHECKPOINT_NAME}"))
        if candidates:
            return candidates[-1].parent
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return config.runs_root / f"{prefix}-{stamp}"


def _config_record(config: RunConfig, epochs: int, batch_size: int, backbone: str | None
                   ) -> dict[str, Any]:
    record = {k: v for k, v in asdict(config).items() if k != "on_epoch_end"}
    record.update(epochs=epochs, batch_size=batch_size, backbone=backbone)
    return json.loads(json.dumps(record, default=str))


def _check_run_dir(run_dir: Path, record: dict[str, Any], resume: bool) -> None:
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        return
    if not resume:
        raise DataError(f"{run_dir}: already holds a run; pass --resume to continue it "
                        "or --out to start a new one")
    saved = json.loads(config_path.read_text())
    changed = [k for k in _RESUME_KEYS if saved.get(k) != record.get(k)]
    if changed:
        raise CheckpointError(f"{config_path}: cannot resume with different "
                              f"{', '.join(changed)} (saved {[saved.get(k) for k in changed]})")


def _write_config(run_dir: Path, record: dict[str, Any]) -> None:
    """RUN_DIR/config.json, crash-safely (`adcommon.atomic`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "config.json", (json.dumps(record, indent=2) + "\n").encode())


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass
class RunPlan:
    """The run's settings once defaults are resolved against the registry and the device."""

    config: RunConfig
    ctx: DistContext
    recipe: Recipe
    epochs: int
    batch_size: int  # global
    amp: bool
    channels_last: bool
    backbone: str | None
    source: DataSource
    fold: int | None
    run_dir: Path
    workers: int

    @property
    def per_process_batch(self) -> int:
        return self.batch_size // self.ctx.world_size

    def to_input(self, images: torch.Tensor) -> torch.Tensor:
        """A loader's uint8 batch as the model's normalised input on this device."""
        return to_model_input(images, self.ctx.device, self.channels_last)


def _resolve_fold(requested: int | None, named: int | None, meta: Path) -> int | None:
    """The fold of a COCO-AD meta file: the one its name `meta_P_K.json` says, else --fold.
    A --fold that contradicts the name is an error rather than silently overridden."""
    if requested is not None and named is not None and requested != named:
        raise DataError(f"{meta}: its name says fold {named}, but --fold {requested} was given")
    return named if named is not None else requested


def plan_run(config: RunConfig, ctx: DistContext) -> RunPlan:
    """Resolve and check every setting (nothing is written yet)."""
    entry = get_baseline(config.name)
    epochs = config.epochs if config.epochs is not None else entry.recipe.epochs
    batch_size = config.batch_size if config.batch_size is not None else entry.recipe.batch_size
    if epochs < 1 or batch_size < 1 or config.image_size < 1:
        raise RunSetupError("--epochs, --batch-size and --image-size must be at least 1")
    if config.workers is not None and config.workers < 0:
        raise RunSetupError("--workers must be at least 0")
    if batch_size % ctx.world_size:
        raise RunSetupError(f"--batch-size {batch_size} is the global batch: it must be divisible "
                         f"by the {ctx.world_size} processes")
    on_cuda = ctx.device.type == "cuda"
    data = resolve_data(config)
    if config.fold is not None and data.is_dir():
        raise DataError(f"{data}: --fold applies to COCO-AD meta files, not to an "
                        "MVTec AD / VisA root")
    source = load_source(data)
    fold = _resolve_fold(config.fold, source.fold, data)
    return RunPlan(
        config=config, ctx=ctx, recipe=entry.recipe, epochs=epochs, batch_size=batch_size,
        amp=on_cuda if config.amp is None else config.amp,
        channels_last=on_cuda if config.channels_last is None else config.channels_last,
        backbone=config.backbone or entry.backbone, source=source, fold=fold,
        run_dir=Path(broadcast_object(ctx, resolve_run_dir(config, source, fold))),
        workers=default_workers(ctx.device) if config.workers is None else config.workers)


def _device_name(ctx: DistContext) -> str:
    name = torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else "cpu"
    return name if ctx.world_size == 1 else f"{name} x{ctx.world_size}"


def leaderboard_row(plan: RunPlan, metrics: dict[str, Any], stats: TrainStats
                    ) -> dict[str, Any]:
    """One row in the columns of docs/leaderboard.md ("The CSV") plus `definition`."""
    from metrics import METRIC_KEYS

    config = plan.config
    return {
        "method": config.name, "dataset": plan.source.name,
        "fold": "" if plan.fold is None else plan.fold, "image_size": config.image_size,
        "epochs": plan.epochs, "backbone": plan.backbone or "",
        "weights": config.weights if plan.backbone else "none", "seed": config.seed,
        **{key: metrics["mean"].get(key) for key in METRIC_KEYS},
        "train_seconds": round(stats.train_seconds, 3),
        "images_per_second": round(stats.images_per_second, 2),
        "device": _device_name(plan.ctx), "torch": torch.__version__,
        "adbench_version": adbench.__version__, "git_commit": _git_commit(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": "run", "definition": metrics.get("definition", "adbench-1"),
    }


def _datasets(plan: RunPlan) -> tuple[ImageDataset, ImageDataset]:
    """Train and test datasets, through the uint8 cache if asked (built first by one
    process per machine, then opened by the others)."""
    config, source, ctx = plan.config, plan.source, plan.ctx
    if not source.train:
        raise DataError("no training images found")
    if not source.test:
        raise DataError("no test images found")
    if len(source.train) < plan.batch_size:
        raise DataError(f"{len(source.train)} training images are fewer than one batch "
                        f"({plan.batch_size}); lower --batch-size")
    if not config.cache:
        return (ImageDataset(source.train, config.image_size),
                ImageDataset(source.test, config.image_size))
    folder = config.cache_dir or Path(os.environ.get("ADBENCH_CACHE",
                                                     Path.home() / ".cache" / "adbench"))
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


def run_baseline(config: RunConfig) -> RunResult | None:
    """Train, infer, score and record one baseline. Returns the result on the main process
    (None on the other DDP processes, and when config.evaluate is False).
    Raises an `InputError` (one line) on bad input."""
    get_baseline(config.name)  # an unknown name fails before anything starts
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RunSetupError("--device cuda: no CUDA device available (use --device cpu)")
    ctx = init_distributed(device)
    try:
        return _run(plan_run(config, ctx))
    finally:
        if ctx.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _run(plan: RunPlan) -> RunResult | None:
    config, ctx, run_dir = plan.config, plan.ctx, plan.run_dir
    record = _config_record(config, plan.epochs, plan.batch_size, plan.backbone)
    _check_run_dir(run_dir, record, config.resume)
    train_set, test_set = _datasets(plan)
    seed_everything(config.seed)
    # built before the run folder is written: a bad --weights or --image-size must not leave
    # a config.json that blocks the corrected re-run
    model = build_model(config.name, image_size=config.image_size, weights=config.weights,
                        backbone=config.backbone)
    barrier(ctx)  # every process has checked the run folder before config.json appears
    if ctx.is_main:
        _write_config(run_dir, record)
    model, forward_module = prepare_model(model, ctx, plan.channels_last)
    loader = make_loader(train_set, plan.per_process_batch, train=True, seed=config.seed,
                         workers=plan.workers, pin_memory=ctx.device.type == "cuda",
                         rank=ctx.rank, world_size=ctx.world_size)
    settings = TrainSettings(plan.recipe, plan.epochs, plan.batch_size, plan.amp,
                             config.compile, plan.channels_last, config.progress,
                             on_epoch_end=config.on_epoch_end)
    stats = train_model(model, forward_module, loader, settings, ctx, run_dir, config.resume,
                        plan.to_input)
    # no collective after training: the other processes leave while rank 0 evaluates
    return _evaluate(plan, model, test_set, stats) if ctx.is_main and config.evaluate else None


def _evaluate(plan: RunPlan, model: AnomalyModel, test_set: ImageDataset, stats: TrainStats
              ) -> RunResult:
    """Maps + gts, the same scoring as `adbench score`, metrics.json, the leaderboard row."""
    import metrics as metric_suite

    started = time.perf_counter()
    maps_dir, gts_dir, image_scores = write_maps(
        model, test_set, plan.run_dir, plan.per_process_batch, plan.to_input, plan.amp,
        plan.workers, plan.ctx.device.type == "cuda", plan.config.progress)
    scores = metric_suite.score_folders(maps_dir, gts_dir, image_scores=image_scores)
    metrics_path = plan.run_dir / "metrics.json"
    metric_suite.write_json(scores, metrics_path)
    JsonLog(plan.run_dir / "log.jsonl", True).write(
        "evaluated", seconds=time.perf_counter() - started, mean=scores["mean"])
    row, board = None, None
    if plan.config.record:
        import leaderboard

        board = (Path(plan.config.leaderboard) if plan.config.leaderboard
                 else leaderboard.default_path())
        row = leaderboard_row(plan, scores, stats)
        leaderboard.append_row(board, row)
    return RunResult(plan.run_dir, maps_dir, gts_dir, metrics_path, scores, row, board,
                     stats.train_seconds, stats.images_per_second, image_scores)
