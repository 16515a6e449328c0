"""Crash-safe file writing: write to a temporary name in the same folder, then rename.

An interrupted run therefore never leaves a half-written file under a final name.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

TEMP_MARK = ".cocoad-tmp-"


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's contents, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary sibling and os.replace."""
    temp = path.with_name(f"{TEMP_MARK}{os.getpid()}-{path.name}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path) -> None:
    """Delete temporary files that a killed earlier run left in `folder`."""
    if folder.is_dir():
        for leftover in folder.glob(f"{TEMP_MARK}*"):
            leftover.unlink(missing_ok=True)
