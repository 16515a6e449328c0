"""MambaAD's decoder (ADer's "MambaUPNet"): hybrid blocks of SSM layers and conv branches
that rebuild the teacher's three scales from the fused map at stride 32.

Channels-last maps (b, H, W, C) throughout. Four stages i = 0..3 with C = 2 C3, C3, C2, C1
(512, 256, 128, 64 for ResNet34) on grids s = S/32 * 2^i; stages 1-3 start with a patch
expansion (2x the grid, half the channels). ADer's depths (3, 4, 6, 3) are cut into hybrid
blocks of 3 SSM layers where the depth divides by 3, else of 2. Stages 3, 2, 1 are the
outputs (channels-first): C1 @ S/4, C2 @ S/8, C3 @ S/16.

A hybrid block (ADer's "ConvBNSSMBlock") on x: its SSM layers in turn, beside two conv
branches of (conv, InstanceNorm, SiLU) units, 1x1 -> depthwise 5x5 -> 1x1 and
1x1 -> depthwise 7x7 -> 1x1; a 1x1 conv merges [ssm, 5x5, 7x7] and x is added. ADer's
names: conv1b5 / conv1a5 before and after conv55, conv1b3 / conv1a3 before and after
conv77; its conv33 unit is built but never used (kept for the parameter count).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from baselines.models.mambaad.ssm import SSMLayer

DEPTHS = (3, 4, 6, 3)  # SSM layers per stage, ADer's depths_decoder
DROP_PATH_RATE = 0.2


def blocks_of(depth: int) -> list[int]:
    """SSM layers per hybrid block: blocks of 3 if the depth divides by 3, else of 2."""
    size = 3 if depth % 3 == 0 else 2
    if depth % size:
        raise ValueError(f"a stage depth of {depth} cannot be cut into blocks of 2 or 3")
    return [size] * (depth // size)


def drop_path_rates(depths: tuple[int, ...] = DEPTHS, rate: float = DROP_PATH_RATE
                    ) -> list[list[float]]:
    """The drop-path rate of each hybrid block, per stage: linspace(0, rate, sum(depths))
    reversed; block j of stage i takes entry j of the stage's slice (as ADer does)."""
    rates = torch.linspace(0, rate, sum(depths), device="cpu").flip(0).tolist()
    starts = [sum(depths[:i]) for i in range(len(depths))]
    return [[rates[start + j] for j in range(len(blocks_of(depth)))]
            for start, depth in zip(starts, depths, strict=True)]


def _conv_unit(channels: int, kernel: int, depthwise: bool) -> nn.Sequential:
    """conv (1x1 with bias, or depthwise k x k without), InstanceNorm (no affine), SiLU."""
    conv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2,
                     groups=channels if depthwise else 1, bias=not depthwise)
    return nn.Sequential(conv, nn.InstanceNorm2d(channels), nn.SiLU())


def _init_block_convs(module: nn.Module) -> None:
    """Every conv: N(0, sqrt(2 / fan_out)), fan_out = k^2 * C_out / groups; biases 0."""
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels // conv.groups
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / fan_out))
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)


class HybridBlock(nn.Module):
    """SSM layers beside depthwise 5x5 and 7x7 conv branches, merged by a 1x1 conv, plus x."""

    def __init__(self, channels: int, grid: int, layers: int, drop_path: float) -> None:
        super().__init__()
        self.smm_blocks = nn.ModuleList(SSMLayer(channels, grid, drop_path)
                                        for _ in range(layers))
        self.conv1b3 = _conv_unit(channels, 1, depthwise=False)
        self.conv1a3 = _conv_unit(channels, 1, depthwise=False)
        self.conv1b5 = _conv_unit(channels, 1, depthwise=False)
        self.conv1a5 = _conv_unit(channels, 1, depthwise=False)
        self.conv33 = _conv_unit(channels, 3, depthwise=True)  # never used (ADer's count)
        self.conv55 = _conv_unit(channels, 5, depthwise=True)
        self.conv77 = _conv_unit(channels, 7, depthwise=True)
        self.finalconv11 = nn.Conv2d(3 * channels, channels, 1)
        _init_block_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        ssm = x
        for layer in self.smm_blocks:
            ssm = layer(ssm)
        spatial = x.permute(0, 3, 1, 2)
        branch5 = self.conv1a5(self.conv55(self.conv1b5(spatial)))
        branch7 = self.conv1a3(self.conv77(self.conv1b3(spatial)))
        merged = self.finalconv11(torch.cat([ssm.permute(0, 3, 1, 2), branch5, branch7], dim=1))
        return merged.permute(0, 2, 3, 1) + x


class PatchExpand(nn.Module):
    """(b, h, w, 2C) -> (b, 2h, 2w, C): Linear 2C -> 4C (no bias), each pixel's 4C vector
    read as (p1, p2, c) (c fastest) and written to pixel (2h + p1, 2w + p2); LayerNorm(C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.expand = nn.Linear(2 * channels, 4 * channels, bias=False)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        batch, height, width, _ = x.shape
        x = self.expand(x).view(batch, height, width, 2, 2, -1)
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(batch, 2 * height, 2 * width, -1)
        return self.norm(x)


class DecoderStage(nn.Module):
    """An optional patch expansion, then hybrid blocks (ADer's "VSSLayer_up")."""

    def __init__(self, channels: int, grid: int, depth: int, drop_paths: list[float],
                 expand: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            HybridBlock(channels, grid, layers, rate)
            for layers, rate in zip(blocks_of(depth), drop_paths, strict=True))
        self.upsample = PatchExpand(channels) if expand else None

    def forward(self, x: Tensor) -> Tensor:
        if self.upsample is not None:
            x = self.upsample(x)
        for block in self.blocks:
            x = block(x)
        return x


class MambaDecoder(nn.Module):
    """The fused (b, 2 C3, s, s) map -> [C1 @ 8s, C2 @ 4s, C3 @ 2s] (shallow to deep).

    channels: the teacher's (C1, C2, C3); grid: s = S / 32, a power of two.
    """

    def __init__(self, channels: tuple[int, int, int], grid: int) -> None:
        super().__init__()
        c1, c2, c3 = channels
        widths = (2 * c3, c3, c2, c1)
        self.layers_up = nn.ModuleList(
            DecoderStage(width, grid * 2**i, depth, rates, expand=i > 0)
            for i, (width, depth, rates) in enumerate(
                zip(widths, DEPTHS, drop_path_rates(), strict=True)))
        self.apply(_init_linear_and_norm)

    def forward(self, fused: Tensor) -> list[Tensor]:
        x = fused.permute(0, 2, 3, 1)
        outputs: list[Tensor] = []
        for i, stage in enumerate(self.layers_up):
            x = stage(x)
            if i:
                outputs.insert(0, x.permute(0, 3, 1, 2))
        return outputs


def _init_linear_and_norm(module: nn.Module) -> None:
    """The decoder-wide init: Linear weights truncated normal (std 0.02), biases 0;
    LayerNorm (1, 0). The scan's own tensors (W_x, W_dt, ...) are not Linear modules."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
