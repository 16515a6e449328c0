"""TF-EfficientNet-B4 in plain PyTorch, with timm's parameter names (so timm's
`tf_efficientnet_b4_aa` file loads as is), as UniAD's frozen multi-scale trunk.

EfficientNet-B4 = the B0 stages scaled by width 1.4 and depth 1.8: a 3 x 3 stride-2 stem
(48 channels) and seven stages (`blocks.0` .. `blocks.6`) of depthwise-separable (DS) or
inverted-residual (IR) blocks with squeeze-excite, SiLU, BatchNorm eps 1e-3 (the TF port's).
TensorFlow's "same" padding: stride-1 convs pad (k - 1) / 2 on every side; stride-2 convs
pad p = max((ceil(H / 2) - 1) * 2 + k - H, 0) per dimension, floor(p / 2) before and the
rest after (`SameConv2d`), so an even input gets one more row and column at the end.
`EfficientNetTrunk.forward` returns the outputs of stages 0, 1, 2 and 4 (strides 2, 4, 8,
16); stages 5 and 6 are built (they are in the file and in ADer's parameter table) but
never run. docs/baselines.md, "UniAD".
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3
STEM_CHANNELS = 48
SE_RATIO = 0.25  # squeeze-excite width = a quarter of the block's input channels


class StageSpec(NamedTuple):
    """One stage: block type, kernel, stride of its first block, expansion, output
    channels, number of blocks."""

    kind: str  # "ds" (depthwise separable) or "ir" (inverted residual)
    kernel: int
    stride: int
    expand: int
    out: int
    blocks: int


B4_STAGES = (
    StageSpec("ds", 3, 1, 1, 24, 2),
    StageSpec("ir", 3, 2, 6, 32, 4),
    StageSpec("ir", 5, 2, 6, 56, 4),
    StageSpec("ir", 3, 2, 6, 112, 6),
    StageSpec("ir", 5, 1, 6, 160, 6),
    StageSpec("ir", 5, 2, 6, 272, 8),
    StageSpec("ir", 3, 1, 6, 448, 2),
)
OUT_STAGES = (0, 1, 2, 4)  # stages whose outputs are the trunk's features
OUT_CHANNELS = tuple(B4_STAGES[i].out for i in OUT_STAGES)  # (24, 32, 56, 160)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one dimension: (before, after)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """A conv with TensorFlow's "same" padding: symmetric (k - 1) / 2 for stride 1 (the
    conv's own padding), computed from the input size and asymmetric for stride 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 groups: int = 1, bias: bool = False) -> None:
        super().__init__(in_channels, out_channels, kernel, stride,
                         padding=(kernel - 1) // 2 if stride == 1 else 0, groups=groups,
                         bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        return super().forward(F.pad(x, (left, right, top, bottom)))


def _norm_act(channels: int) -> tuple[nn.BatchNorm2d, nn.SiLU]:
    return nn.BatchNorm2d(channels, eps=BN_EPS), nn.SiLU()


class SqueezeExcite(nn.Module):
    """x * sigmoid(expand(SiLU(reduce(spatial mean of x)))), 1 x 1 convs with biases."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.act1 = nn.SiLU()
        self.conv_expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * scale.sigmoid()


class DepthwiseSeparable(nn.Module):
    """DS block: depthwise k x k, BN + SiLU, squeeze-excite, 1 x 1 to the output, BN;
    plus the input when stride 1 and in = out."""

    def __init__(self, in_channels: int, out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = SameConv2d(in_channels, in_channels, kernel, stride, groups=in_channels)
        self.bn1, self.act1 = _norm_act(in_channels)
        self.se = SqueezeExcite(in_channels, int(in_channels * SE_RATIO))
        self.conv_pw = nn.Conv2d(in_channels, out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out, eps=BN_EPS)
        self.residual = stride == 1 and in_channels == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(self.act1(self.bn1(self.conv_dw(x))))
        y = self.bn2(self.conv_pw(y))
        return x + y if self.residual else y


class InvertedResidual(nn.Module):
    """IR block: 1 x 1 to expand x in, BN + SiLU, depthwise k x k, BN + SiLU,
    squeeze-excite (width in / 4), 1 x 1 to the output, BN; plus the input when stride 1
    and in = out."""

    def __init__(self, in_channels: int, out: int, kernel: int, stride: int,
                 expand: int) -> None:
        super().__init__()
        mid = in_channels * expand
        self.conv_pw = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn1, self.act1 = _norm_act(mid)
        self.conv_dw = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self.bn2, self.act2 = _norm_act(mid)
        self.se = SqueezeExcite(mid, int(in_channels * SE_RATIO))
        self.conv_pwl = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out, eps=BN_EPS)
        self.residual = stride == 1 and in_channels == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv_pw(x)))
        y = self.se(self.act2(self.bn2(self.conv_dw(y))))
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.residual else y


def _stage(spec: StageSpec, in_channels: int) -> nn.Sequential:
    blocks: list[nn.Module] = []
    for index in range(spec.blocks):
        stride = spec.stride if index == 0 else 1
        if spec.kind == "ds":
            blocks.append(DepthwiseSeparable(in_channels, spec.out, spec.kernel, stride))
        else:
            blocks.append(InvertedResidual(in_channels, spec.out, spec.kernel, stride,
                                           spec.expand))
        in_channels = spec.out
    return nn.Sequential(*blocks)


class EfficientNetTrunk(nn.Module):
    """TF-EfficientNet-B4 stem + 7 stages (timm's names: conv_stem, bn1, blocks.i.j);
    forward -> the outputs of stages 0, 1, 2, 4: 24 @ S/2, 32 @ S/4, 56 @ S/8, 160 @ S/16.

    PyTorch's default initialisation: the weights are meant to come from a file (with
    `--weights none` the deeper features are random and small, for smoke runs only).
    """

    def __init__(self, stages: tuple[StageSpec, ...] = B4_STAGES) -> None:
        super().__init__()
        self.conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self.bn1, self.act1 = _norm_act(STEM_CHANNELS)
        in_channels, built = STEM_CHANNELS, []
        for spec in stages:
            built.append(_stage(spec, in_channels))
            in_channels = spec.out
        self.blocks = nn.Sequential(*built)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.act1(self.bn1(self.conv_stem(images)))
        features = []
        for index in range(max(OUT_STAGES) + 1):  # stages 5 and 6 are never run
            x = self.blocks[index](x)
            if index in OUT_STAGES:
                features.append(x)
        return features
