"""The command-line rule for user errors, shared by the `cocoad` and `adbench` commands.

Inside `one_line_errors()`, an `InputError` becomes click's one-line "Error: ..." and
exit status 1, with no traceback; every other exception is a bug and propagates with
its traceback (docs/architecture.md, "Errors").
"""

from __future__ import annotations

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
