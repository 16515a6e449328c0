"""The trainer shared by every baseline: one train step, the schedule, checkpoints, DDP.

Nothing here knows a model: it calls `forward`, `loss` and `trainable_parameters` of the
AnomalyModel contract and reads the hyper-parameters from the registry's Recipe, so a new
baseline needs no change here. The same `TrainStep` object runs in the trainer and in
`benchmarks/train_speed.py`, so the benchmark measures the real loop.

Schedule (docs/baselines.md): Adam or AdamW with lr = recipe.lr * B / ref_batch per
parameter group, stepped per iteration, lr x 0.1 from iteration int(decay_at * total) on
(or constant), gradient-norm clipping at recipe.clip_grad_norm, drop_last, and optionally
an update only every k-th batch.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from adcommon.atomic import atomic_path
from adcommon.errors import InputError
from baselines.base import AnomalyModel
from baselines.registry import Recipe

CHECKPOINT_NAME = "checkpoint.pt"


class NonFiniteLossError(InputError):
    """The training loss became NaN or infinite: the run stops, the message says what to do."""


class CheckpointError(InputError):
    """A checkpoint does not fit the model or the run it is resumed into."""


# ---------------------------------------------------------------- distributed setup
@dataclass(frozen=True)
class DistContext:
    """Where this process runs: its rank among world_size processes and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str) -> DistContext:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK in the
    environment): nccl on CUDA, gloo on the CPU. Without torchrun: one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext(0, 1, torch.device(device))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    if not dist.is_initialized():  # long timeout: building a --cache on rank 0 takes a while
        dist.init_process_group("nccl" if device == "cuda" else "gloo",
                                timeout=timedelta(hours=2))
    return DistContext(dist.get_rank(), dist.get_world_size(), target)


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op with one)."""
    if ctx.distributed:
        dist.barrier()


def broadcast_object(ctx: DistContext, value: Any) -> Any:
    """Rank 0's `value` on every process (e.g. the run folder it chose)."""
    if not ctx.distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- optimiser and step
def decays(name: str, parameter: nn.Parameter) -> bool:
    """ADer's weight-decay filter: every tensor of 2+ dimensions not named `*.bias`."""
    return parameter.ndim >= 2 and not name.endswith(".bias")


def optimizer_groups(model: AnomalyModel, recipe: Recipe, batch_size: int
                     ) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: the model's learning-rate groups (lr = the
    recipe's rate at this batch size x the group's factor), each split by the decay
    filter when the recipe applies a weight decay (AdamW)."""
    base_lr = recipe.lr_for(batch_size)
    groups: list[dict[str, Any]] = []
    for group in model.parameter_groups():
        lr = base_lr * group.lr_scale
        if recipe.weight_decay and recipe.optimizer == "adamw":
            decay = [p for n, p in group.named_parameters if decays(n, p)]
            keep = [p for n, p in group.named_parameters if not decays(n, p)]
            groups += [{"params": decay, "lr": lr, "weight_decay": recipe.weight_decay},
                       {"params": keep, "lr": lr, "weight_decay": 0.0}]
        else:
            groups.append({"params": [p for _, p in group.named_parameters], "lr": lr,
                           "weight_decay": 0.0})
    return [group for group in groups if group["params"]]


def make_optimizer(model: AnomalyModel, recipe: Recipe, batch_size: int
                   ) -> torch.optim.Optimizer:
    """Adam or AdamW (the recipe's) over the model's parameter groups, lr scaled to the
    global batch size; Adam gets no weight decay (ADer's Adam recipes declare one that
    never reaches the optimiser), AdamW decays ADer's decay group (`decays`).

    On CUDA the fused implementation (one kernel for all parameters, same update rule)."""
    groups = optimizer_groups(model, recipe, batch_size)
    fused = all(p.is_cuda for group in groups for p in group["params"])
    kind = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return kind(groups, lr=recipe.lr_for(batch_size), betas=recipe.betas, eps=recipe.eps,
                fused=fused or None)


def make_scheduler(optimizer: torch.optim.Optimizer, total_iterations: int, decay_at: float,
                   schedule: str = "step") -> torch.optim.lr_scheduler.LambdaLR:
    """Per iteration: "step" keeps lr x 1 before iteration int(decay_at * total) and x 0.1
    from it on; "constant" keeps lr x 1 throughout."""
    milestone = (int(decay_at * total_iterations) if schedule == "step"
                 else total_iterations + 1)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda iteration: 1.0 if iteration < milestone else 0.1)


class TrainStep:
    """One iteration: forward + loss (bf16 autocast if amp, optionally compiled),
    backward, gradient-norm clipping, optimiser step, scheduler step. With a recipe's
    `update_every` k > 1 only iterations 0, k, 2k, ... (counted over the whole run) do
    that; the others run `model.refresh` (batch statistics only) and return None.

    `forward_module` is what images go through (the DDP wrapper under torchrun, else the
    model itself); `model.loss` turns its outputs into the scalar loss. Returns the
    detached loss without synchronising, so the caller decides when to read it.

    Compiling on one CUDA device uses torch.compile's "reduce-overhead" mode: forward and
    backward replay as CUDA graphs, which removes the kernel-launch gaps that otherwise
    bound these models' steps (`compile_mode` overrides the choice, for benchmarks).
    """

    def __init__(self, model: AnomalyModel, optimizer: torch.optim.Optimizer,
                 scheduler: torch.optim.lr_scheduler.LRScheduler, recipe: Recipe, amp: bool,
                 compile_model: bool = False, forward_module: nn.Module | None = None,
                 compile_mode: str | None = None) -> None:
        self.model = model
        self.forward_module = forward_module or model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.clip_grad_norm = recipe.clip_grad_norm
        self.update_every = recipe.update_every
        self.amp = amp
        self.parameters = model.trainable_parameters()
        if compile_mode is None:
            on_one_gpu = (next(model.parameters()).is_cuda
                          and not isinstance(self.forward_module, DistributedDataParallel))
            compile_mode = "reduce-overhead" if on_one_gpu else "default"
        self.cuda_graphs = compile_model and compile_mode == "reduce-overhead"
        self.forward_loss = (torch.compile(self._forward_loss, mode=compile_mode)
                             if compile_model else self._forward_loss)

    def _forward_loss(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.loss(self.forward_module(images))

    def __call__(self, images: torch.Tensor, iteration: int = 0) -> torch.Tensor | None:
        if iteration % self.update_every:
            with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
                self.model.refresh(images)
            self.scheduler.step()
            return None
        self.optimizer.zero_grad(set_to_none=True)
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = self.forward_loss(images)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, self.clip_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        # a CUDA-graph output is overwritten by the next replay: hand out a copy
        return loss.detach().clone() if self.cuda_graphs else loss.detach()


def make_train_step(model: AnomalyModel, recipe: Recipe, batch_size: int, total_iterations: int,
                    amp: bool, compile_model: bool = False,
                    forward_module: nn.Module | None = None,
                    compile_mode: str | None = None) -> TrainStep:
    """The optimiser, the schedule and the step of docs/baselines.md for `model`, in one object."""
    optimizer = make_optimizer(model, recipe, batch_size)
    scheduler = make_scheduler(optimizer, total_iterations, recipe.decay_at, recipe.schedule)
    return TrainStep(model, optimizer, scheduler, recipe, amp, compile_model, forward_module,
                     compile_mode)


def prepare_model(model: AnomalyModel, ctx: DistContext, channels_last: bool
                  ) -> tuple[AnomalyModel, nn.Module]:
    """Move the model to the device (channels_last if asked); under DDP on CUDA convert
    BatchNorm to SyncBatchNorm (statistics over the global batch, as one process would
    compute them) and wrap it, looking for parameters without gradients where the model
    declares some (`AnomalyModel.has_unused_parameters`). On CUDA, cuDNN picks its fastest
    kernels for the fixed input size (cudnn.benchmark). Returns (model, module to call in
    the train step)."""
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = model.to(ctx.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if not ctx.distributed:
        return model, model
    if ctx.device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return model, DistributedDataParallel(
        model, device_ids=ids, find_unused_parameters=model.has_unused_parameters)


# ---------------------------------------------------------------- checkpoints
def frozen_prefixes(model: nn.Module) -> list[str]:
    """Top-most submodules whose parameters are all frozen (pretrained encoders): their
    weights come from the weights file, so checkpoints leave them out."""
    prefixes: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(p + ".") for p in prefixes):
            continue
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            prefixes.append(name)
    return prefixes


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict without its frozen submodules."""
    prefixes = tuple(p + "." for p in frozen_prefixes(model))
    return {k: v for k, v in model.state_dict().items() if not k.startswith(prefixes)}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a `trainable_state`; every non-frozen key must be present and none extra."""
    prefixes = tuple(p + "." for p in frozen_prefixes(model))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(prefixes)]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"checkpoint does not fit the model (missing {missing[:3]}, "
                              f"unexpected {result.unexpected_keys[:3]})")


def rng_states() -> dict[str, Any]:
    """Every random generator's state, so a resumed run draws what the original would."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of `rng_states`."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def atomic_torch_save(obj: Any, path: Path) -> None:
    """torch.save crash-safely (`adcommon.atomic.atomic_path`). A write error (a full
    disk) surfaces as the OSError naming `path`, not as torch's RuntimeError around it."""
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        try:
            torch.save(obj, handle)
        except RuntimeError as error:
            cause = error.__context__
            if isinstance(cause, OSError):
                raise OSError(cause.errno, cause.strerror, str(path)) from None
            raise


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "rng", "epoch", "train_seconds",
                   "images_seen", "loss")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by `train_model`; CheckpointError naming the file when it is
    truncated, unreadable or not one of ours."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch.load raises many types on a damaged file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason}); start the run "
                              "again without --resume, in a new folder") from None
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        raise CheckpointError(f"{path}: not an adbench checkpoint")
    return state


# ---------------------------------------------------------------- the loop
class JsonLog:
    """Appends one JSON object per line to RUN_DIR/log.jsonl (main process only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, event: str, **fields: Any) -> None:
        if self.enabled:
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")


@dataclass
class TrainSettings:
    """What the loop needs besides the model and the data."""

    recipe: Recipe
    epochs: int
    batch_size: int  # global, over all processes
    amp: bool
    compile_model: bool = False
    channels_last: bool = False
    progress: bool = True
    log_every: int = 10  # iterations between loss reads (a device sync) and log lines
    on_epoch_end: Callable[[int, float], None] | None = None  # (epoch, mean loss)


@dataclass
class TrainStats:
    """What the leaderboard row needs from training."""

    train_seconds: float
    images_per_second: float
    final_loss: float


def _check_finite(loss: torch.Tensor, epoch: int, iteration: int, run_dir: Path) -> float:
    value = float(loss)
    if not np.isfinite(value):
        raise NonFiniteLossError(
            f"training loss is {value} at epoch {epoch + 1}, iteration {iteration + 1}; "
            "try --no-amp or a smaller --batch-size (the lr scales with it); "
            f"the last good checkpoint is {run_dir / CHECKPOINT_NAME}")
    return value


def train_model(model: AnomalyModel, forward_module: nn.Module, loader: DataLoader,
                settings: TrainSettings, ctx: DistContext, run_dir: Path, resume: bool,
                to_input: Callable[[torch.Tensor], torch.Tensor]) -> TrainStats:
    """Train for settings.epochs, checkpointing after every epoch (main process), and
    resuming from RUN_DIR/checkpoint.pt if `resume`. Sample order depends only on
    (seed, epoch) and every RNG state is checkpointed, so a resumed run ends where an
    uninterrupted one would."""
    iterations_per_epoch = len(loader)
    step = make_train_step(model, settings.recipe, settings.batch_size,
                           settings.epochs * iterations_per_epoch, settings.amp,
                           settings.compile_model, forward_module)
    log = JsonLog(run_dir / "log.jsonl", ctx.is_main)
    checkpoint_path = run_dir / CHECKPOINT_NAME
    start_epoch, train_seconds, images_seen, last_loss = 0, 0.0, 0, float("nan")
    log.write("start", world_size=ctx.world_size, device=str(ctx.device),
              batch_size=settings.batch_size, per_process_batch=loader.batch_size,
              iterations_per_epoch=iterations_per_epoch, epochs=settings.epochs,
              amp=settings.amp, compile=settings.compile_model)
    if resume and checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path)
        load_trainable_state(model, state["model"])
        step.optimizer.load_state_dict(state["optimizer"])
        step.scheduler.load_state_dict(state["scheduler"])
        restore_rng_states(state["rng"])
        start_epoch, train_seconds = state["epoch"], state["train_seconds"]
        images_seen, last_loss = state["images_seen"], state["loss"]
        log.write("resume", epoch=start_epoch)
    for epoch in range(start_epoch, settings.epochs):
        model.train()
        cast(DistributedSampler, loader.sampler).set_epoch(epoch)
        started = time.perf_counter()
        losses: list[torch.Tensor] = []
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{settings.epochs}", leave=False,
                   disable=not (settings.progress and ctx.is_main), unit="batch")
        for iteration, (images, _) in enumerate(bar):
            loss = step(to_input(images), epoch * iterations_per_epoch + iteration)
            if loss is not None:
                losses.append(loss)
            if losses and ((iteration + 1) % settings.log_every == 0
                           or iteration + 1 == len(loader)):
                value = _check_finite(losses[-1], epoch, iteration, run_dir)
                rate = (iteration + 1) * settings.batch_size / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{value:.4g}", img_s=f"{rate:.0f}")
                log.write("iteration", epoch=epoch + 1, iteration=iteration + 1, loss=value,
                          lr=step.scheduler.get_last_lr()[0], images_per_second=rate)
        if ctx.device.type == "cuda":
            torch.cuda.synchronize(ctx.device)
        seconds = time.perf_counter() - started
        train_seconds += seconds
        images_seen += iterations_per_epoch * settings.batch_size
        if losses:  # an epoch may hold no update (update_every > iterations per epoch)
            last_loss = _check_finite(torch.stack(losses).mean(), epoch, len(losses) - 1,
                                      run_dir)
        log.write("epoch", epoch=epoch + 1, loss=last_loss, seconds=seconds,
                  images_per_second=iterations_per_epoch * settings.batch_size / seconds)
        if ctx.is_main:
            atomic_torch_save({"model": trainable_state(model),
                               "optimizer": step.optimizer.state_dict(),
                               "scheduler": step.scheduler.state_dict(), "rng": rng_states(),
                               "epoch": epoch + 1, "train_seconds": train_seconds,
                               "images_seen": images_seen, "loss": last_loss}, checkpoint_path)
        barrier(ctx)
        if settings.on_epoch_end is not None:
            settings.on_epoch_end(epoch + 1, last_loss)
    rate = images_seen / train_seconds if train_seconds > 0 else 0.0
    return TrainStats(train_seconds, rate, last_loss)
