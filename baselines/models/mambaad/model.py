"""MambaAD as one AnomalyModel: frozen ResNet teacher, fusion, Mamba decoder.

A frozen ResNet34 gives F1, F2, F3 (strides 4, 8, 16); the fusion (`mff_oce`) squeezes
them into one map at stride 32; the decoder (`net_s`), hybrid blocks of Hilbert-curve
selective scans and depthwise-conv branches, rebuilds the three scales. Trained on normal
images to reproduce the teacher (MSE), it fails where the image is unlike them: the map is
where its features point away from the teacher's. Module names follow ADer's parameter
table (net_t, mff_oce, net_s); docs/baselines.md, "MambaAD", describes the method.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from baselines.backbones import FeatureEncoder
from baselines.base import AnomalyModel, ModelOptionError
from baselines.cosine import ADER_MAP_DIVISOR, feature_mse, smoothed_cosine_map
from baselines.models.mambaad.decoder import MambaDecoder
from baselines.models.mambaad.fusion import MultiScaleFusion

LOSS_WEIGHT = 5.0


class MambaADOutputs(NamedTuple):
    """Teacher and decoder features, both ordered shallow to deep (strides 4, 8, 16)."""

    teacher: list[torch.Tensor]
    student: list[torch.Tensor]


def check_image_size(image_size: int) -> None:
    """S must be 32 times a power of two (the Hilbert grids), at least 64 (the first
    stage's instance norms need more than one pixel)."""
    grid = image_size // 32
    if image_size % 32 or grid < 2 or grid & (grid - 1):
        raise ModelOptionError("MambaAD needs an image size of 32 times a power of two, "
                               f"at least 64 (64, 128, 256, ...), got {image_size}")


class MambaAD(AnomalyModel):
    """Teacher `net_t` (frozen), fusion `mff_oce`, decoder `net_s`. Each hybrid block's
    depthwise 3x3 unit is built for ADer's parameter count but never run."""

    has_unused_parameters = True

    def __init__(self, image_size: int, weights: str, backbone: str) -> None:
        super().__init__()
        check_image_size(image_size)
        self.image_size = image_size
        self.net_t = FeatureEncoder(backbone, weights)
        self.mff_oce = MultiScaleFusion(self.net_t.channels)
        self.net_s = MambaDecoder(self.net_t.channels, image_size // 32)

    def forward(self, images: torch.Tensor) -> MambaADOutputs:
        teacher = self.net_t(images)
        return MambaADOutputs(teacher, self.net_s(self.mff_oce(teacher)))

    def loss(self, outputs: MambaADOutputs) -> torch.Tensor:
        """5 x the sum over scales of mean((F_i - F_i')^2) over B x C x H x W."""
        return LOSS_WEIGHT * feature_mse(outputs.teacher, outputs.student)

    def anomaly_map(self, outputs: MambaADOutputs) -> torch.Tensor:
        """(B, S, S) float32: (sum over scales of 1 - cos over channels, bilinearly resized,
        align_corners=True) / 9, Gaussian-smoothed (sigma 4): ADer's values."""
        return smoothed_cosine_map(outputs.teacher, outputs.student, self.image_size,
                                   ADER_MAP_DIVISOR)
