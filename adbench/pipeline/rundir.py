"""The run folder: a unique new one, or the one `--resume` continues, and its config.json.

A default run folder is `runs/<name>-<dataset>[-<fold>]-<UTC time>-<random id>`, created
with an exclusive mkdir, so runs started in the same second never share one. An existing
folder is taken only if it is empty (a new run) or holds a run of the same settings
(`--resume`); a folder with someone else's files is refused, never written into.
`config.json` records the settings and the run's `run_id`, which its leaderboard rows
carry so that re-evaluating a run appends nothing twice.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from adbench.pipeline.config import RunSetupError
from adbench.rundir_layout import CONFIG_NAME
from adcommon.atomic import write_atomic
from baselines.training import CHECKPOINT_NAME, CheckpointError, load_checkpoint

#: Settings that must match when a run is resumed.
RESUME_KEYS = ("name", "epochs", "batch_size", "image_size", "seed", "weights", "backbone",
               "amp")


def new_run_id() -> str:
    """A run's identity: UTC time and 32 random bits (unique, sortable, readable)."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


def read_config(run_dir: Path) -> dict[str, Any]:
    """RUN_DIR/config.json; CheckpointError naming the file if it is damaged."""
    path = run_dir / CONFIG_NAME
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a readable run configuration ({error})") from None
    if not isinstance(record, dict) or not isinstance(record.get("run_id"), str):
        raise CheckpointError(f"{path}: not an adbench run configuration (no run_id)")
    return record


def write_config(run_dir: Path, record: dict[str, Any]) -> None:
    """RUN_DIR/config.json, crash-safely."""
    write_atomic(run_dir / CONFIG_NAME, (json.dumps(record, indent=2) + "\n").encode())


def newest_run(runs_root: Path, prefix: str) -> Path:
    """The newest run folder `runs_root/<prefix>-*` that has a checkpoint (for --resume
    without --out)."""
    found = sorted(runs_root.glob(f"{prefix}-*/{CHECKPOINT_NAME}"),
                   key=lambda path: path.parent.name)
    if not found:
        raise RunSetupError(f"{runs_root}: no run {prefix}-* with a checkpoint to resume; "
                            "pass --out RUN_DIR")
    return found[-1].parent


def check_new_folder(run_dir: Path) -> None:
    """A new run may use `run_dir` only if it does not exist or is an empty folder."""
    if (run_dir / CONFIG_NAME).is_file():
        raise RunSetupError(f"{run_dir}: already holds a run; pass --resume to continue it "
                            "or --out to start a new one")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RunSetupError(f"{run_dir}: exists and is not an empty folder or an adbench run; "
                            "choose another --out")


def check_resumable(run_dir: Path, record: dict[str, Any]) -> tuple[str, int]:
    """The saved run's id and its finished epochs; RunSetupError / CheckpointError when
    there is nothing to resume or the settings differ."""
    if not (run_dir / CONFIG_NAME).is_file():
        raise RunSetupError(f"{run_dir}: no run to resume (no {CONFIG_NAME})")
    saved = read_config(run_dir)
    changed = [key for key in RESUME_KEYS if saved.get(key) != record.get(key)]
    if changed:
        raise CheckpointError(f"{run_dir / CONFIG_NAME}: cannot resume with different "
                              f"{', '.join(changed)} (saved {[saved.get(k) for k in changed]})")
    checkpoint = run_dir / CHECKPOINT_NAME
    if not checkpoint.is_file():
        raise RunSetupError(f"{run_dir}: no {CHECKPOINT_NAME} to resume (the run stopped before "
                            "its first epoch ended); start it again in a new folder")
    return saved["run_id"], int(load_checkpoint(checkpoint)["epoch"])


def create_run_folder(run_dir: Path, exclusive: bool) -> None:
    """Make the run folder: atomically new when `exclusive` (default names), else allowing
    the empty folder `check_new_folder` accepted."""
    try:
        run_dir.mkdir(parents=True, exist_ok=not exclusive)
    except FileExistsError:
        raise RunSetupError(f"{run_dir}: already exists; start the run again") from None
    except OSError as error:
        raise RunSetupError(f"{run_dir}: cannot create the run folder ({error.strerror})"
                            ) from None
