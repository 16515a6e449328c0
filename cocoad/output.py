"""Write a fold's outputs all or nothing: stage every file, then move them in by renames.

Everything (the masks, the meta file, the manifest) is first written into a staging
folder beside the outputs, `.cocoad-staging-<pid>-P_K`. Only when all of it is written
is the old manifest removed, each mask renamed over its old version in the mask folder
(masks of the old build that are no longer anomalous are deleted), and the meta file
and the manifest (last) renamed into place, with Ctrl-C deferred over these renames
(they take milliseconds). So a build that fails while writing (a full disk, an I/O
error, Ctrl-C) leaves the fold's outputs as they were, and the staging folder is
removed (Ctrl-C deferred over that removal too); one that a killed build leaves behind
is removed by the next build of that fold. Renaming each mask over its old version costs
what rewriting it did; swapping whole folders would cost deleting every old mask,
several times more.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cocoad.errors import CocoadError
from cocoad.interrupts import sigint_deferred
from cocoad.layout import FoldOutputs

STAGING_MARK = ".cocoad-staging-"


def staging_folder(outputs: FoldOutputs, pid: int) -> Path:
    """Where process `pid` stages the fold's outputs."""
    return outputs.out / f"{STAGING_MARK}{pid}-{outputs.suffix}"


def remove_stale_staging(outputs: FoldOutputs) -> None:
    """Remove the staging folders of this fold that builds no longer running left behind."""
    for folder in outputs.out.glob(f"{STAGING_MARK}*-{outputs.suffix}"):
        pid = folder.name[len(STAGING_MARK):].split("-", 1)[0]
        if not (pid.isdigit() and _is_running(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)


def _is_running(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    return True


def write_fold_outputs(outputs: FoldOutputs, masks: dict[str, bytes], meta: bytes,
                       manifest: bytes) -> None:
    """Replace the fold's mask folder, meta file and manifest as a whole (see the module
    docstring); an OSError becomes a one-line CocoadError."""
    staging = staging_folder(outputs, os.getpid())
    committing = False
    try:
        remove_stale_staging(outputs)
        staged_masks = staging / "masks"
        staged_masks.mkdir(parents=True)
        for name, png in masks.items():
            (staged_masks / name).write_bytes(png)
        (staging / "meta").write_bytes(meta)
        (staging / "manifest").write_bytes(manifest)
        outputs.mask_dir.mkdir(exist_ok=True)
        with sigint_deferred():
            committing = True
            outputs.manifest.unlink(missing_ok=True)
            for name in masks:
                os.replace(staged_masks / name, outputs.mask_dir / name)
            for stale in outputs.mask_dir.glob("*.png"):
                if stale.name not in masks:
                    stale.unlink()
            os.replace(staging / "meta", outputs.meta)
            os.replace(staging / "manifest", outputs.manifest)
    except OSError as exc:
        state = ("it has no manifest now, so it reads as not built" if committing
                 else "its outputs were left as they were")
        raise CocoadError(f"{exc.filename or outputs.out}: cannot write fold {outputs.fold} "
                          f"({exc.strerror}); {state}") from None
    finally:
        with sigint_deferred():  # a Ctrl-C now would leave the folder half removed
            shutil.rmtree(staging, ignore_errors=True)
