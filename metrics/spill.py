"""Temporary files for run data that does not fit the memory bound.

A `SpillFile` is one file in the spill folder (`tmp`, default the system's temporary
folder), deleted as soon as nothing refers to it any more: when its run is dropped, when
the scorer holding it is closed or garbage-collected, when an exception or Ctrl-C unwinds
the stack, and at interpreter exit at the latest (`weakref.finalize`). Runs are
immutable once written, so two scorers (after `Scorer.merge`) may share one file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from pathlib import Path

import numpy as np


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class SpillFile:
    """Arrays written back to back into one temporary file, read back by byte range."""

    def __init__(self, arrays: list[np.ndarray], folder: str | Path | None) -> None:
        fd, path = tempfile.mkstemp(prefix="adbench-spill-", suffix=".bin",
                                    dir=None if folder is None else str(folder))
        self.path = path
        self._finalizer = weakref.finalize(self, _remove, path)
        self.offsets: list[int] = []
        position = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for array in arrays:
                    self.offsets.append(position)
                    data = np.ascontiguousarray(array).data.cast("B")
                    handle.write(data)
                    position += data.nbytes
        except BaseException:
            self.remove()
            raise
        self.nbytes = position

    def read_into(self, position: int, out: np.ndarray) -> None:
        """Fill `out` (C-contiguous) with the file's bytes from `position` on."""
        view = out.reshape(-1).data.cast("B")
        with open(self.path, "rb") as handle:
            handle.seek(position)
            got = handle.readinto(view)
        if got != view.nbytes:
            raise OSError(f"spill file {self.path} is shorter than written")

    def remove(self) -> None:
        """Delete the file now (idempotent)."""
        self._finalizer()
