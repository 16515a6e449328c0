"""The eight scan orders of MambaAD's SSM layers: a Hilbert curve over the grid, read in
four arrangements of the grid and each also backwards.

On an s x s grid (s a power of two) with positions numbered row-major, `hilbert_order(s)`
lists the positions along the 2-D Hilbert curve as the MIT-licensed `numpy-hilbert-curve`
package orders them (its `decode(arange(s^2), 2, log2 s)` gives coordinates (a0, a1) per
curve index; position = a0 + s * a1). Our implementation is Skilling's transform ("Programming
the Hilbert curve", 2004), vectorised over all curve indices; tests check it against the
package and against published test vectors.

`direction_table(order, s)` turns the curve into the (8, s^2) table pi of docs/baselines.md:
pi_j = flatten(G_j)[order] for the arrangements G_0 = P (positions), G_1 = P transposed,
G_2 = rot90(P), G_3 = rot90(P) transposed, and pi_(4+j) = pi_j reversed. Direction k reads
position pi_k[t] at step t, and writes its output back there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _is_power_of_two(size: int) -> bool:
    return size >= 1 and size & (size - 1) == 0


def hilbert_order(size: int) -> np.ndarray:
    """Row-major position ids (int64, length size^2) along the Hilbert curve of a
    size x size grid, size a power of two."""
    if not _is_power_of_two(size):
        raise ValueError(f"a Hilbert scan needs a power-of-two grid, got {size}")
    bits = size.bit_length() - 1
    index = np.arange(size * size, dtype=np.int64)
    # the index's bits, most significant first, alternate between the two axes
    axes = [np.zeros_like(index), np.zeros_like(index)]
    for level in range(bits):
        for axis in (0, 1):
            bit = (index >> (2 * (bits - 1 - level) + 1 - axis)) & 1
            axes[axis] |= bit << (bits - 1 - level)
    # Gray decoding
    carry = axes[1] >> 1
    axes[1] ^= axes[0]
    axes[0] ^= carry
    # undo the excess rotations and reflections, from the finest level up
    level_bit = 2
    while level_bit < size:
        low = level_bit - 1
        for axis in (1, 0):
            set_here = (axes[axis] & level_bit) != 0
            swap = np.where(set_here, 0, (axes[0] ^ axes[axis]) & low)
            axes[0] ^= np.where(set_here, low, 0) ^ swap
            if axis:
                axes[axis] ^= swap
        level_bit <<= 1
    return axes[0] + size * axes[1]


def direction_table(order: Tensor, size: int) -> Tensor:
    """The (8, size^2) scan table pi from the Hilbert order (a 1-D int64 tensor): where
    each of the eight directions reads at each step."""
    row, col = order // size, order % size
    last = size - 1
    forward = torch.stack([
        order,                      # G_0 = P
        col * size + row,           # G_1 = P^T
        col * size + last - row,    # G_2 = rot90(P)
        row * size + last - col,    # G_3 = rot90(P)^T
    ])
    return torch.cat([forward, forward.flip(-1)])
