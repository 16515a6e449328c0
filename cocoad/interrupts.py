"""Keep Ctrl-C (SIGINT) out of the few places where it must not land.

- `sigint_deferred()`: around the renames that put a finished fold in place. A Ctrl-C
  meanwhile is remembered and raised as KeyboardInterrupt when the block ends. It swaps
  the Python-level handler (which always runs in the main thread), so it works whatever
  other threads exist; outside the main thread KeyboardInterrupt is never raised anyway.
- `sigint_blocked()`: around forking the mask workers. The signal mask is inherited, so
  the workers are born with SIGINT blocked and cannot be killed by a Ctrl-C before they
  have set it to be ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Raise a Ctrl-C that arrives during the block only once the block is done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the block (a no-op without signal masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
