"""InvAD's fuser: the encoder's three scales -> three 64-channel style maps.

Each scale Fi is brought to stride 16 by a conv whose kernel equals its stride (4, 2, 1)
plus BatchNorm (eps 1e-6); the three are concatenated, squeezed to 64 channels by a 1x1
conv + BN (eps 1e-6, as ADer builds it) + ReLU and refined by one ResNet bottleneck
(64 -> 16 -> 16 -> 64; torchvision's, whose BNs keep eps 1e-5). Three
sequential stages then emit the style maps at strides 16, 8 and 4: two conv layers at
stride 16; an upsampling conv layer (lr multiplier 0.01) and a conv layer for each of
the next two.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from baselines.models.invad.layers import ConvLayer, UpConvLayer

STYLE_CHANNELS = 64
BOTTLENECK_WIDTH = 16
FUSER_BN_EPS = 1e-6  # the downsampling BNs and conv_cat's; not the bottleneck's
UPSAMPLE_LR_MUL = 0.01
SCALE_STRIDES = (4, 2, 1)  # kernel = stride bringing strides 4, 8, 16 to 16


def downsample(channels: int, stride: int) -> nn.Sequential:
    """Conv (kernel = stride, bias) + BatchNorm(eps 1e-6), channels kept."""
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(channels, channels, kernel_size=stride, stride=stride, bias=True),
        norm=nn.BatchNorm2d(channels, eps=FUSER_BN_EPS),
    ))


class StyleFuser(nn.Module):
    """Encoder features [F1, F2, F3] -> style maps [stride 16, stride 8, stride 4]."""

    def __init__(self, channels: tuple[int, int, int]) -> None:
        super().__init__()
        self.downsamples = nn.ModuleList(
            downsample(c, s) for c, s in zip(channels, SCALE_STRIDES, strict=True)
        )
        self.conv_cat = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(sum(channels), STYLE_CHANNELS, kernel_size=1, bias=False),
            norm=nn.BatchNorm2d(STYLE_CHANNELS, eps=FUSER_BN_EPS),
            relu=nn.ReLU(inplace=True),
        ))
        self.conv_bottle = nn.Sequential(Bottleneck(STYLE_CHANNELS, BOTTLENECK_WIDTH))
        c = STYLE_CHANNELS
        self.convs = nn.ModuleList([
            nn.Sequential(ConvLayer(c, c), ConvLayer(c, c)),
            nn.Sequential(UpConvLayer(c, c, lr_mul=UPSAMPLE_LR_MUL), ConvLayer(c, c)),
            nn.Sequential(UpConvLayer(c, c, lr_mul=UPSAMPLE_LR_MUL), ConvLayer(c, c)),
        ])

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        fused = torch.cat([down(f) for down, f in zip(self.downsamples, features, strict=True)],
                          dim=1)
        x = self.conv_bottle(self.conv_cat(fused))
        styles = []
        for stage in self.convs:
            x = stage(x)
            styles.append(x)
        return styles
