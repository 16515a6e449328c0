"""Typed lists of arrays for the kernels, built by cached kernels.

The engine hands each kernel one array per run in a `numba.typed.List`. Built from
Python, such a list has its constructor and `append` compiled on first use in every
process (numba does not cache them: ~0.2 s per element type, three types per walk);
built by the cached kernels below, it is loaded from numba's cache in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit
from numba.typed import List


@njit(cache=True)
def _list_of(first):
    out = List()
    out.append(first)
    return out


@njit(cache=True)
def _append(out, item):
    out.append(item)


def kernel_list(arrays: Sequence[np.ndarray]) -> List:
    """A typed list of `arrays` (at least one; one dtype, 1-D, contiguous)."""
    if not arrays:
        raise ValueError("a kernel list needs at least one array")
    out = _list_of(arrays[0])
    for array in arrays[1:]:
        _append(out, array)
    return out
