"""Frozen multi-scale ResNet encoders (stem + layer1..3).

Their pretrained files are entries of the weights registry (`baselines.weights`, keyed
by the torchvision architecture name), resolved by `--weights default|none|PATH` there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import torch
import torchvision
from torch import nn

from baselines.weights import WeightsError, load_pretrained

#: Channels of layer1..3 of each supported torchvision ResNet.
ENCODER_CHANNELS: dict[str, tuple[int, int, int]] = {
    "wide_resnet50_2": (256, 512, 1024),
    "resnet34": (64, 128, 256),
    "resnet18": (64, 128, 256),
}


def encoder_channels(arch: str) -> tuple[int, int, int]:
    """layer1..3 channels of encoder `arch`; WeightsError naming the known ones otherwise."""
    if arch not in ENCODER_CHANNELS:
        raise WeightsError(f"unknown backbone {arch!r} "
                           f"(known: {', '.join(sorted(ENCODER_CHANNELS))})")
    return ENCODER_CHANNELS[arch]


_Frozen = TypeVar("_Frozen", bound="FrozenModule")


class FrozenModule(nn.Module):
    """A fixed reference network: `freeze()` turns gradients off and sets eval mode, and
    `train()` keeps it in eval mode whatever the caller asks (BatchNorm statistics stay
    frozen). Mix it in before the network's class."""

    def freeze(self) -> None:
        self.requires_grad_(False)
        self.eval()

    def train(self: _Frozen, mode: bool = True) -> _Frozen:
        """Stay in eval mode whatever the caller asks."""
        return super().train(False)


class FeatureEncoder(FrozenModule):
    """A frozen ResNet stem + layer1..3 returning [F1, F2, F3] at strides 4, 8, 16.

    Module names follow torchvision (conv1, bn1, layer1..3) so parameter tables match
    ADer's. Always in eval mode, no gradients: it is the fixed reference the models learn.
    """

    def __init__(self, arch: str, weights: str | Path = "default") -> None:
        super().__init__()
        self.channels = encoder_channels(arch)
        net = getattr(torchvision.models, arch)(weights=None)
        load_pretrained(net, arch, weights)
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.freeze()

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        f1 = self.layer1(x)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        return [f1, f2, f3]
