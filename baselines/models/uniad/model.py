"""UniAD as ADer's COCO-AD benchmark configures it (`uniad_256_100e`).

A frozen TF-EfficientNet-B4 trunk (`net_backbone`) gives features at strides 2, 4, 8 and
16; the merge (`net_merge`, no parameters) resizes each to S/16 x S/16 (bilinear,
align_corners=True) and concatenates them: X (B, 272, S/16, S/16), the target. The
reconstruction transformer (`net_ad`) rebuilds X from a jittered copy with attention
that cannot look at a token's neighbourhood. Loss: MSE(X^, X); map: |X^ - X|_2 over
channels, resized to S x S (docs/baselines.md, "UniAD").

Module names follow ADer's parameter table: 24,521,560 parameters at 256 (backbone
16,742,216 frozen, of which 13,106,232 in the never-run stages 5 and 6; net_ad 7,779,344).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from baselines.backbones import FrozenModule
from baselines.base import AnomalyModel, ModelOptionError
from baselines.cosine import feature_mse
from baselines.image_scores import pooled_max
from baselines.models.uniad.efficientnet import OUT_CHANNELS, EfficientNetTrunk
from baselines.models.uniad.transformer import ReconstructionTransformer
from baselines.precision import at_least_fp32, no_autocast
from baselines.weights import load_pretrained

BACKBONE_WEIGHTS = "tf_efficientnet_b4.aa_in1k"
STRIDE = 16  # of the merged map


class UniADOutputs(NamedTuple):
    """The merged features X (the target) and their reconstruction X^, (B, 272, g, g)."""

    target: torch.Tensor
    reconstruction: torch.Tensor


class FrozenBackbone(FrozenModule, EfficientNetTrunk):
    """The trunk with the pretrained file loaded (its classifier, head conv and head BN
    left out), always in eval mode and without gradients (`net_backbone`)."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        load_pretrained(self, BACKBONE_WEIGHTS, weights)
        self.freeze()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        return super().forward(images)


class Merge(nn.Module):
    """ADer's `net_merge`: every feature map resized to g x g (bilinear, align_corners=True:
    the function of ADer's upsampling by 1/8, 1/4, 1/2, 1), concatenated on channels."""

    def __init__(self, grid: int) -> None:
        super().__init__()
        self.grid = grid

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        size = (self.grid, self.grid)
        return torch.cat([F.interpolate(f, size=size, mode="bilinear", align_corners=True)
                          for f in features], dim=1)


class UniAD(AnomalyModel):
    """UniAD: frozen `net_backbone`, parameter-free `net_merge`, trainable `net_ad`."""

    def __init__(self, image_size: int, weights: str | Path) -> None:
        super().__init__()
        if image_size % 32 or image_size < 32:
            raise ModelOptionError(f"UniAD needs an image size divisible by 32, got {image_size}")
        self.image_size = image_size
        grid = image_size // STRIDE
        self.net_backbone = FrozenBackbone(weights)
        self.net_merge = Merge(grid)
        self.net_ad = ReconstructionTransformer(sum(OUT_CHANNELS), grid)

    def forward(self, images: torch.Tensor) -> UniADOutputs:
        target = self.net_merge(self.net_backbone(images)).detach()
        return UniADOutputs(target, self.net_ad(target))

    def loss(self, outputs: UniADOutputs) -> torch.Tensor:
        """Mean squared error over all elements of X^ - X."""
        return feature_mse([outputs.target], [outputs.reconstruction])

    def anomaly_map(self, outputs: UniADOutputs) -> torch.Tensor:
        """(B, S, S) float32: |X^ - X|_2 over channels, bilinear to S x S
        (align_corners=True); no smoothing."""
        with no_autocast(outputs.target):
            error = at_least_fp32(outputs.reconstruction) - at_least_fp32(outputs.target)
            distance = error.square().sum(dim=1, keepdim=True).sqrt()
            size = (self.image_size, self.image_size)
            return F.interpolate(distance, size=size, mode="bilinear",
                                 align_corners=True).squeeze(1).float()

    def image_score(self, outputs: UniADOutputs, maps: torch.Tensor) -> torch.Tensor:
        """ADer's score for UniAD: the maximum of the 16 x 16 mean-pooled map."""
        return pooled_max(maps)
