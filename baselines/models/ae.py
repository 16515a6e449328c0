"""AE: the plain convolutional autoencoder on normalised pixels (docs/baselines.md, "AE").

Encoder: 4 stride-2 conv blocks (32, 64, 128, 256 channels, norm + LeakyReLU 0.2);
bottleneck: 1x1 convs 256 -> 64 -> 256; decoder: mirrored stride-2 transposed convs
back to 3 channels (the last without norm or activation). Loss: MSE on pixels.
Map: per-pixel squared error averaged over channels, Gaussian smoothing sigma 4.
No pretrained weights: the baseline that tells whether feature-space methods earn
their cost. `norm="group"` swaps BatchNorm for GroupNorm (no batch statistics), which
makes DDP on CPU (where SyncBatchNorm is unavailable) equal to one process exactly.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from baselines.base import AnomalyModel, ModelOptionError
from baselines.smoothing import gaussian_blur

ENCODER_CHANNELS = (32, 64, 128, 256)
BOTTLENECK_CHANNELS = 64


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(8, channels)
    raise ValueError(f"unknown norm {kind!r} (batch | group)")


def _block(layer: nn.Module, channels: int, norm: str) -> nn.Sequential:
    return nn.Sequential(layer, _norm(norm, channels), nn.LeakyReLU(0.2))


class ConvAutoencoder(AnomalyModel):
    """The AE baseline; inputs (B, 3, S, S) with S divisible by 16."""

    def __init__(self, image_size: int = 256, norm: str = "batch") -> None:
        super().__init__()
        if image_size % 16:
            raise ModelOptionError(f"ae needs an image size divisible by 16, got {image_size}")
        self.image_size = image_size
        widths = (3, *ENCODER_CHANNELS)
        self.encoder = nn.Sequential(*(
            _block(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=False), c_out, norm)
            for c_in, c_out in pairwise(widths)
        ))
        top = ENCODER_CHANNELS[-1]
        self.bottleneck = nn.Sequential(
            _block(nn.Conv2d(top, BOTTLENECK_CHANNELS, 1, bias=False), BOTTLENECK_CHANNELS, norm),
            _block(nn.Conv2d(BOTTLENECK_CHANNELS, top, 1, bias=False), top, norm),
        )
        up = widths[::-1]  # 256, 128, 64, 32, 3
        self.decoder = nn.Sequential(
            *(
                _block(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                       c_out, norm)
                for c_in, c_out in pairwise(up[:-1])
            ),
            nn.ConvTranspose2d(up[-2], up[-1], 4, stride=2, padding=1),
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(images, reconstructions)."""
        return images, self.decoder(self.bottleneck(self.encoder(images)))

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, reconstructions = outputs
        return F.mse_loss(reconstructions.float(), images.float())

    def anomaly_map(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        images, reconstructions = outputs
        error = (reconstructions.float() - images.float()).pow(2).mean(dim=1)
        return gaussian_blur(error, sigma=4.0)


def build(image_size: int = 256, weights: str = "none", backbone: str | None = None
          ) -> ConvAutoencoder:
    """The registry factory. AE has no encoder to pretrain: `weights` and `backbone`
    are accepted for a uniform interface and ignored."""
    del weights, backbone
    return ConvAutoencoder(image_size=image_size)
