"""RD++'s trainable projection layers (ADer's `proj_layer`), one per teacher scale.

Between the frozen teacher and RD's fusion, each scale's features (c channels) pass
through four 3 x 3 convs with bias, padding 1, c -> c/2 -> c/4 -> c/2 -> c, each followed
by InstanceNorm (no affine parameters, no running statistics) and LeakyReLU (0.01).
Module names (`proj_a.proj.0`, `.3`, `.6`, `.9`) follow ADer's parameter table; at 256
with WRN50-2 the three hold 737,856 + 2,950,272 + 11,798,784 parameters.
PyTorch's default initialisation (docs/baselines.md, "RD++").
"""

from __future__ import annotations

import torch
from torch import nn

WIDTH_FACTORS = (2, 4, 2, 1)  # conv i outputs c / factor[i]


class ScaleProjection(nn.Module):
    """c -> c/2 -> c/4 -> c/2 -> c, each a 3 x 3 conv + InstanceNorm + LeakyReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = channels
        for factor in WIDTH_FACTORS:
            out = channels // factor
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.InstanceNorm2d(out),
                       nn.LeakyReLU()]
            width = out
        self.proj = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(features)


class MultiScaleProjection(nn.Module):
    """One ScaleProjection per teacher scale (`proj_a`, `proj_b`, `proj_c`: strides 4, 8,
    16), applied to [F1, F2, F3]."""

    def __init__(self, channels: tuple[int, int, int]) -> None:
        super().__init__()
        self.proj_a, self.proj_b, self.proj_c = (ScaleProjection(c) for c in channels)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        projections = (self.proj_a, self.proj_b, self.proj_c)
        return [project(f) for project, f in zip(projections, features, strict=True)]
