"""What a run is asked to do: `RunConfig`, one field per `adbench run-baseline` flag."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from adcommon.errors import InputError


class RunSetupError(InputError):
    """Flags or a run folder that cannot make a run; one line naming what and why."""


@dataclass
class RunConfig:
    """Everything `adbench run-baseline` takes; None means the registry's / device's default
    (docs/baselines.md, "run-baseline")."""

    name: str
    data: Path | None = None  # meta file or MVTec-style root; None: COCO root's fold meta
    fold: int | None = None
    epochs: int | None = None  # default: the recipe's
    batch_size: int | None = None  # global batch; default: the recipe's (lr scales with it)
    image_size: int = 256
    device: str | None = None  # cuda if available, else cpu
    amp: bool = False  # bf16 autocast; fp32 (ADer's precision) unless asked
    weights: str = "default"  # default | none | PATH
    backbone: str | None = None  # override the registered encoder
    out: Path | None = None  # run folder; default runs/<name>-<dataset>[-<fold>]-<time>-<id>
    resume: bool = False
    leaderboard: Path | None = None  # default: leaderboard.default_path()
    record: bool = True  # append the leaderboard rows
    evaluate: bool = True  # False: stop after training (a later --resume evaluates)
    eval_every: int | None = None  # also score every E epochs into log.jsonl
    seed: int = 42
    compile: bool = False
    cache: bool = False
    cache_dir: Path | None = None  # default $ADBENCH_CACHE or ~/.cache/adbench
    workers: int | None = None
    channels_last: bool | None = None  # default on for CUDA
    progress: bool = True
    runs_root: Path = Path("runs")
    on_epoch_end: Callable[[int, float], None] | None = field(default=None, repr=False)

    @property
    def precision(self) -> str:
        """What the leaderboard records: "bf16" under autocast, else "fp32"."""
        return "bf16" if self.amp else "fp32"
