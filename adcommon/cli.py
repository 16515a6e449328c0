"""What the `cocoad` and `adbench` commands share: the rule for user errors, warnings as
one line each, less GC work.

Inside `one_line_errors()`, an `InputError` becomes click's one-line "Error: ..." and
exit status 1, with no traceback; every other exception is a bug and propagates with
its traceback (docs/architecture.md, "Errors").
"""

from __future__ import annotations

import atexit
import gc
import warnings
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


@contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Show every warning raised in the block, repeats included, as one line
    `warning: MESSAGE` on stderr (no file name, no source line)."""

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        click.echo(f"warning: {message}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show_warning
        yield


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
