"""Gaussian smoothing of anomaly maps on the device, computing scipy's gaussian_filter.

scipy.ndimage.gaussian_filter(x, sigma, truncate=4.0, mode="reflect") applies a 1-D
kernel exp(-k^2 / 2 sigma^2), k = -r..r with r = int(truncate * sigma + 0.5),
normalised to sum 1, along each axis, extending the input by half-sample symmetric
reflection (d c b a | a b c d | d c b a). We do the same with an index gather for the
border and two depthwise 1-D convolutions, so maps never leave the GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.precision import no_autocast


def gaussian_kernel_1d(sigma: float, truncate: float = 4.0) -> torch.Tensor:
    """scipy's normalised 1-D Gaussian weights, float64, length 2r + 1."""
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def reflect_indices(length: int, radius: int, device: torch.device) -> torch.Tensor:
    """Indices of a length-`length` axis extended by `radius` on each side, scipy 'reflect'."""
    positions = torch.arange(-radius, length + radius, device=device) % (2 * length)
    return torch.where(positions >= length, 2 * length - 1 - positions, positions)


def gaussian_blur(maps: torch.Tensor, sigma: float = 4.0, truncate: float = 4.0) -> torch.Tensor:
    """Smooth (B, H, W) maps as scipy.ndimage.gaussian_filter(sigma, truncate, 'reflect') would.

    Each map is filtered on its own (the batch axis is not smoothed); dtype is kept,
    also inside an autocast region (which would otherwise run the convs in bf16/fp16).
    """
    kernel = gaussian_kernel_1d(sigma, truncate).to(device=maps.device, dtype=maps.dtype)
    radius = (kernel.numel() - 1) // 2
    _, height, width = maps.shape
    x = maps.unsqueeze(1)
    with no_autocast(maps):
        x = x.index_select(2, reflect_indices(height, radius, maps.device))
        x = F.conv2d(x, kernel.view(1, 1, -1, 1))
        x = x.index_select(3, reflect_indices(width, radius, maps.device))
        x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return x.squeeze(1)
