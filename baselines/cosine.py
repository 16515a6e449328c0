"""Cosine distances between teacher and student features: the loss and the map that the
distillation baselines share (RD, ViTAD; docs/baselines.md); and the feature MSE of the
reconstruction baselines (MambaAD, UniAD).

All are computed in at least float32, also inside the trainer's bf16 autocast region:
they sum many small terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from baselines.precision import at_least_fp32, no_autocast
from baselines.smoothing import gaussian_blur

MAP_SIGMA = 4.0  # Gaussian smoothing of the maps, as ADer's
ADER_MAP_DIVISOR = 9.0  # ADer's 3 maps x 3 unit weights: a constant that changes no metric


def flat_cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B,): cos(x[b], y[b]) with each sample's features flattened over C x H x W, in at
    least float32 (cosine eps 1e-8; the caller leaves autocast)."""
    return F.cosine_similarity(at_least_fp32(x).flatten(1), at_least_fp32(y).flatten(1), dim=1)


def channel_cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(B, H, W): the cosine over channels at each position, in at least float32 (cosine
    eps 1e-8; the caller leaves autocast)."""
    return F.cosine_similarity(at_least_fp32(x), at_least_fp32(y), dim=1)


def cosine_loss(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]
                ) -> torch.Tensor:
    """Sum over the pairs of the mean over samples of 1 - cos(t_b, s_b), where t_b and s_b
    are sample b's features flattened over C x H x W (cosine eps 1e-8)."""
    with no_autocast(teacher[0]):
        terms = [1.0 - flat_cosine(t, s).mean() for t, s in zip(teacher, student, strict=True)]
        return torch.stack(terms).sum()


def feature_mse(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]
                ) -> torch.Tensor:
    """Sum over the pairs of mean((s - t)^2) over all elements (B x C x H x W)."""
    with no_autocast(teacher[0]):
        terms = [F.mse_loss(at_least_fp32(s), at_least_fp32(t))
                 for t, s in zip(teacher, student, strict=True)]
        return torch.stack(terms).sum()


def cosine_map(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor], size: int
               ) -> torch.Tensor:
    """(B, size, size): the sum over the pairs of 1 - cosine over channels at each position,
    each resized to size x size (bilinear, align_corners=True). Not smoothed."""
    with no_autocast(teacher[0]):
        per_pair = [
            F.interpolate(1.0 - channel_cosine(t, s)[:, None], size=(size, size),
                          mode="bilinear", align_corners=True)
            for t, s in zip(teacher, student, strict=True)
        ]
        return torch.stack(per_pair).sum(dim=0).squeeze(1)


def smoothed_cosine_map(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor],
                        size: int, divisor: float = 1.0) -> torch.Tensor:
    """(B, size, size) float32: `cosine_map` divided by `divisor`, then Gaussian-smoothed
    (sigma 4, as scipy's gaussian_filter)."""
    total = cosine_map(teacher, student, size) / divisor
    return gaussian_blur(total, sigma=MAP_SIGMA).float()
