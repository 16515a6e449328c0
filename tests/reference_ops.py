"""Plain numpy transcriptions of the resampling and pooling operations the models use,
written from their published definitions (float64), for the tests to compare against."""

from __future__ import annotations

import math

import numpy as np


def _linear_matrix(n: int, size: int) -> np.ndarray:
    """Bilinear weights, align_corners=True: output i samples input i * (n - 1) / (size - 1)."""
    position = np.arange(size) * (n - 1) / max(size - 1, 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n - 1)
    frac = position - low
    matrix = np.zeros((size, n))
    np.add.at(matrix, (np.arange(size), low), 1.0 - frac)
    np.add.at(matrix, (np.arange(size), high), frac)
    return matrix


def bilinear_align_corners(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an (H, W) array to (size, size), bilinear with align_corners=True."""
    return _linear_matrix(image.shape[0], size) @ image @ _linear_matrix(image.shape[1], size).T


def _cubic(x: float, a: float) -> float:
    """Keys' cubic convolution kernel with parameter a."""
    x = abs(x)
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def bicubic_antialias_matrix(n: int, size: int, a: float = -0.5) -> np.ndarray:
    """(size, n) weights of the antialiased ("area-aware") bicubic resize of PIL, which
    PyTorch's antialias=True follows (align_corners=False): output i is centred at
    (i + 0.5) * n / size; when shrinking, the kernel is stretched by n / size (so it
    averages over the source pixels it covers); each row is normalised to sum 1."""
    scale = n / size
    stretch = max(scale, 1.0)
    support = 2.0 * stretch
    matrix = np.zeros((size, n))
    for i in range(size):
        center = (i + 0.5) * scale
        first = max(math.trunc(center - support + 0.5), 0)
        last = min(math.trunc(center + support + 0.5), n)
        for j in range(first, last):
            matrix[i, j] = _cubic((j - center + 0.5) / stretch, a)
        matrix[i] /= matrix[i].sum()
    return matrix


def pooled_max_loops(image: np.ndarray, window: int) -> float:
    """Max over every window x window patch (stride 1, no padding) of the patch mean."""
    height, width = image.shape
    return max(float(image[i:i + window, j:j + window].mean())
               for i in range(height - window + 1) for j in range(width - window + 1))
