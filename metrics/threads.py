"""The thread pool the numba kernels run on (they release the GIL).

Plain `nogil` kernels on a thread pool compile in a fraction of the time numba's
`parallel=True` takes, and cold start is part of the user's wait.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numba

T = TypeVar("T")


def n_threads() -> int:
    """Threads for the kernels: NUMBA_NUM_THREADS (default: the number of cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def in_threads(kernel: Callable[..., T], n_tasks: int, *args: object) -> list[T]:
    """kernel(i, *args) for i < n_tasks on up to `n_threads()` threads; the results in
    task order (a kernel's exception is raised here)."""
    if n_tasks == 1 or n_threads() == 1:
        return [kernel(i, *args) for i in range(n_tasks)]
    with ThreadPoolExecutor(max_workers=min(n_threads(), n_tasks)) as pool:
        return list(pool.map(lambda i: kernel(i, *args), range(n_tasks)))
