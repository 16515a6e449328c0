"""InvAD (feature inversion for anomaly detection) as one AnomalyModel.

A frozen encoder gives features [F1, F2, F3] (strides 4, 8, 16); the fuser turns them
into style maps; the decoder regenerates the features from a learned constant under
those styles. Training minimises the MSE between the two on normal images; at test
time anomalies are where the regenerated features point elsewhere than the encoder's
(1 - cosine over all scales' channels), then Gaussian-smoothed at S x S.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from baselines.backbones import FeatureEncoder
from baselines.base import AnomalyModel, ModelOptionError
from baselines.models.invad.decoder import InversionDecoder
from baselines.models.invad.fuser import StyleFuser
from baselines.precision import at_least_fp32
from baselines.smoothing import gaussian_blur

LATENT_STRIDE = 16
MAP_STRIDE = 4
SMOOTHING_SIGMA = 4.0


class InvADOutputs(NamedTuple):
    """The encoder's features and their reconstruction, both [F1, F2, F3]."""

    encoder: list[torch.Tensor]
    decoder: list[torch.Tensor]


class InvAD(AnomalyModel):
    """Encoder (frozen) -> fuser -> inversion decoder; module names follow ADer's table.

    image_size: S (a multiple of 16); blocks: styled residual blocks per decoder stage;
    loss_weight: factor on the summed per-scale MSE.
    """

    def __init__(
        self,
        backbone: str,
        weights: str,
        image_size: int = 256,
        blocks: int = 2,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if image_size % LATENT_STRIDE:
            raise ModelOptionError(f"InvAD needs an image size divisible by 16, got {image_size}")
        self.image_size = image_size
        self.loss_weight = loss_weight
        self.net_encoder = FeatureEncoder(backbone, weights)
        channels = self.net_encoder.channels
        self.net_fuser = StyleFuser(channels)
        self.net_decoder = InversionDecoder(channels, blocks, image_size // LATENT_STRIDE)

    def forward(self, images: torch.Tensor) -> InvADOutputs:
        features = self.net_encoder(images)
        reconstruction = self.net_decoder(self.net_fuser(features))
        return InvADOutputs(features, reconstruction)

    def loss(self, outputs: InvADOutputs) -> torch.Tensor:
        """loss_weight * sum over scales of mean((F_i - F_i')^2) over B x C x H x W."""
        losses = [F.mse_loss(rec.float(), enc.float())
                  for enc, rec in zip(outputs.encoder, outputs.decoder, strict=True)]
        return torch.stack(losses).sum() * self.loss_weight

    def anomaly_map(self, outputs: InvADOutputs) -> torch.Tensor:
        """(B, S, S) float32: 1 - cosine of the channel-normalised, stacked scales, smoothed.

        Each scale is L2-normalised over channels and resized to S/4 x S/4 (64 at 256;
        bilinear, align_corners=True); the cosine is taken over the concatenation of
        all scales' channels, resized to S x S the same way and Gaussian-smoothed
        (sigma 4, as scipy's gaussian_filter). Computed in the features' precision, at
        least float32 (float64 features give an exact map, rounded once at the end).
        """
        size = self.image_size // MAP_STRIDE
        stacked = []
        for features in (outputs.encoder, outputs.decoder):
            scales = [
                F.interpolate(F.normalize(at_least_fp32(f), dim=1), size=(size, size),
                              mode="bilinear", align_corners=True)
                for f in features
            ]
            stacked.append(torch.cat(scales, dim=1))
        distance = 1.0 - F.cosine_similarity(stacked[0], stacked[1], dim=1)
        distance = F.interpolate(distance.unsqueeze(1), size=(self.image_size, self.image_size),
                                 mode="bilinear", align_corners=True).squeeze(1)
        return gaussian_blur(distance, SMOOTHING_SIGMA).float()
