"""A run's leaderboard rows: one per metric definition, each carrying the run's id.

Rows go to `--leaderboard` (default `$ADBENCH_LEADERBOARD`, else ./leaderboard.csv), which
`plan_run` checks before training starts; appending is idempotent per (run_id,
definition), so re-evaluating a run (`--resume` on a finished one) appends nothing twice
(docs/leaderboard.md).
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

import leaderboard
from adcommon import __version__
from metrics import METRIC_KEYS, ScoreResult

if TYPE_CHECKING:
    from adbench.pipeline.plan import RunPlan
    from baselines.training import TrainStats


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _device_name(plan: RunPlan) -> str:
    ctx = plan.ctx
    name = torch.cuda.get_device_name(ctx.device) if ctx.device.type == "cuda" else "cpu"
    return name if ctx.world_size == 1 else f"{name} x{ctx.world_size}"


def leaderboard_rows(plan: RunPlan, results: list[ScoreResult], stats: TrainStats
                     ) -> list[dict[str, Any]]:
    """One row per scored definition, in the columns of docs/leaderboard.md ("The CSV")."""
    config = plan.config
    shared = {
        "method": config.name, "dataset": plan.source.name,
        "fold": "" if plan.fold is None else plan.fold,
        "num_folds": "" if plan.num_folds is None else plan.num_folds,
        "image_size": config.image_size, "epochs": plan.epochs,
        "backbone": plan.backbone or "", "weights": config.weights if plan.backbone else "none",
        "seed": config.seed, "precision": config.precision,
        "train_seconds": round(stats.train_seconds, 3),
        "images_per_second": round(stats.images_per_second, 2),
        "device": _device_name(plan), "torch": torch.__version__,
        "adbench_version": __version__, "git_commit": _git_commit(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": "run", "run_id": plan.run_id,
    }
    return [{**shared, **{key: result["mean"].get(key) for key in METRIC_KEYS},
             "definition": result["definition"]} for result in results]


def append_rows(path: Path, rows: list[dict[str, Any]]) -> int:
    """Append the rows not yet recorded for their (run_id, definition); how many were."""
    return sum(bool(leaderboard.append_row(path, row)) for row in rows)
