"""Run a build's heavy steps in child processes that end with it and never outlive it.

`Workers(tasks)` starts one process per task (a function and its arguments): the build
runs the train file's parse and the mask rendering this way, so its own main thread
only waits, and a Ctrl-C is acted on at once (a JSON parse in the main thread would
hold it for the parse's seconds). `results(on_result)` collects the tasks' return
values; leaving the `with` block, however it is left, kills and joins every process.
Guarantees (docs/cocoad.md, "When a command fails"):

- Ctrl-C reaches only the parent: the processes are started with SIGINT blocked, so they
  are born with it blocked, and they ignore it; the parent's KeyboardInterrupt kills them.
- A process dies with its parent, even a parent killed by SIGKILL: on Linux through
  PR_SET_PDEATHSIG, elsewhere a thread of the process that watches its parent's pid.
- Each task sends its result back in one message once it is done, so no process waits
  on its parent while it works.
- A task's CocoadError (MaskError included) comes back as itself; a bug comes back with
  its traceback.

On Linux the processes are forked (no start-up cost; the arguments are inherited, not
sent); elsewhere they are spawned, as multiprocessing does by default there.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any

from cocoad.errors import CocoadError
from cocoad.interrupts import sigint_blocked

Task = tuple[Callable[..., Any], tuple[Any, ...]]  # a function and its arguments

PR_SET_PDEATHSIG = 1  # linux/prctl.h
JOIN_SECONDS = 10.0  # a killed worker is gone in milliseconds; this only bounds the wait
PARENT_POLL_SECONDS = 0.2


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when its parent `parent_pid` ends, whichever way it ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0:
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)
            return
    threading.Thread(target=watch_parent, args=(parent_pid,), daemon=True).start()


def watch_parent(parent_pid: int) -> None:
    """End this process once its parent is no longer `parent_pid` (polling, any POSIX)."""
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _worker_main(connection: Connection, parent_pid: int, task: Task,
                 inherited: tuple[Connection, ...]) -> None:
    """A worker: ignore Ctrl-C, die with the parent, run the task, send one message.

    `inherited`: the parent's ends of the workers' pipes that a forked worker got a copy
    of; it closes them, so that a pipe's only reader is the parent and a worker whose
    parent is gone gets an error on sending instead of waiting forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    die_with_parent(parent_pid)
    for receiver in inherited:
        receiver.close()
    function, arguments = task
    message: tuple[str, object]
    try:
        message = ("result", function(*arguments))
    except CocoadError as exc:
        message = ("input error", exc)
    except Exception:
        message = ("bug", traceback.format_exc())
    with contextlib.suppress(OSError):  # OSError: the parent is gone
        connection.send(message)


def _exit_description(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        return f"killed by signal {-exitcode}; out of memory?"
    return f"exit status {exitcode}"


class Workers:
    """One child process per task; use as a context manager."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        self._tasks = list(tasks)
        self._forking = sys.platform.startswith("linux")
        self._context = multiprocessing.get_context("fork" if self._forking else "spawn")
        self._workers: list[tuple[BaseProcess, Connection]] = []

    def __enter__(self) -> Workers:
        try:
            with sigint_blocked():
                for task in self._tasks:
                    receiver, sender = self._context.Pipe(duplex=False)
                    receivers = [known for _, known in self._workers] + [receiver]
                    process = self._context.Process(  # type: ignore[attr-defined]
                        target=_worker_main, daemon=True,
                        args=(sender, os.getpid(), task,
                              tuple(receivers) if self._forking else ()))
                    self._workers.append((process, receiver))
                    process.start()
                    sender.close()
        except OSError as exc:
            self._stop()
            raise CocoadError(f"cannot start the build's worker processes ({exc.strerror})"
                              ) from None
        except BaseException:
            self._stop()
            raise
        return self

    def results(self, on_result: Callable[[int, Any], object]) -> list[Any]:
        """Every task's return value, in task order; `on_result(index, value)` as each
        arrives. A task's CocoadError is raised here."""
        pending: dict[object, int] = {receiver: index
                                      for index, (_, receiver) in enumerate(self._workers)}
        results: list[Any] = [None] * len(self._workers)
        while pending:
            for ready in wait(list(pending)):  # type: ignore[arg-type]
                index = pending.pop(ready)
                process, receiver = self._workers[index]
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    process.join(JOIN_SECONDS)
                    raise CocoadError("a worker process of the build ended unexpectedly "
                                      f"({_exit_description(process.exitcode)})") from None
                if kind == "input error":
                    raise payload
                if kind == "bug":
                    raise RuntimeError(f"a worker process of the build failed:\n{payload}")
                results[index] = payload
                on_result(index, payload)
        return results

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        """Kill the workers that are still running and wait (bounded) until they are gone."""
        for process, _ in self._workers:
            if process.pid is not None and process.exitcode is None:
                process.kill()
        for process, receiver in self._workers:
            if process.pid is not None:
                process.join(JOIN_SECONDS)
            receiver.close()
