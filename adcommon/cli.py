"""What the `cocoad` and `adbench` commands share: the rule for user errors, a quick exit.

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


def exit_without_final_collection() -> None:
    """At exit, leave the objects then alive to reference counting alone: the
    interpreter's final garbage collections walk numba's ~10^5 typing objects, 0.3 s of
    every `adbench score` (docs/performance.md). Only objects in reference cycles are
    left uncollected, and the process ends; atexit handlers and `weakref.finalize`
    callbacks (spill files) still run."""
    atexit.register(gc.freeze)
