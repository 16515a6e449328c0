"""What the `cocoad` and `adbench` commands share: the rule for user errors, less GC work.

Inside `one_line_errors()`, an `InputError` becomes click's one-line "Error: ..." and
exit status 1, with no traceback; every other exception is a bug and propagates with
its traceback (docs/architecture.md, "Errors").
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

import click

from adcommon.errors import InputError


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn user errors raised in the block into a one-line click error."""
    try:
        yield
    except InputError as error:
        raise click.ClickException(str(error).splitlines()[0] if str(error) else
                                   type(error).__name__) from None


def collect_only_new_objects() -> None:
    """Leave the objects alive now, and those alive at exit, out of garbage collection.

    A command's imports (numba above all) leave ~10^5 objects that live to the end; each
    full collection walks them again, and the interpreter's final collections walk
    them at exit: about 0.4 s of every `adbench score` (docs/performance.md). Frozen
    objects are still freed by reference counting, but a reference cycle among them is
    never collected: call this only in a process that runs one command and ends (the
    console scripts), never from a library call. atexit handlers and
    `weakref.finalize` callbacks (spill files) still run."""
    gc.freeze()
    atexit.register(gc.freeze)
