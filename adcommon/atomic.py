"""Crash-safe file writing shared by every package: write a temporary sibling, then rename.

An interrupted or failed write never leaves a half-written file under its final name.
Part of the leaf package `adcommon`: every package may use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

TEMP_MARK = ".adbench-tmp-"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write; when the block ends normally it is
    renamed onto `path` (os.replace, atomic on one file system), if it raises it is removed.
    """
    path = Path(path)
    temp = path.with_name(f"{TEMP_MARK}{os.getpid()}-{path.name}")
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through `atomic_path`."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)


def write_all_atomic(files: Mapping[Path, bytes]) -> None:
    """Write every file or none: all are written under temporary names first and renamed
    into place only once every write has succeeded."""
    with ExitStack() as stack:
        for path, data in files.items():
            stack.enter_context(atomic_path(path)).write_bytes(data)

