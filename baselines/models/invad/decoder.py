"""InvAD's feature-inversion decoder: a learned constant, styled by the fuser's maps.

From a learned constant (1, C0, S/16, S/16) the decoder runs a conv layer, then three
stages at strides 16, 8, 4 (C0, C0/2, C0/4 channels) of styled residual blocks. Each
stage first maps its 64-ch style map to a 16-ch one (two conv layers); every styled
conv layer-normalises its input per sample, modulates it spatially (x * gamma + beta,
both 3x3 convs of the style map) and convolves it. The first block of stages 2 and 3
upsamples with an unmodulated conv. The stage outputs are the reconstructed features.

Speed: the constant and its first conv layer are the same for every sample, so that
conv runs once at batch 1 and is broadcast over the batch (ADer repeats the constant
first); the function and its gradients are unchanged.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from baselines.models.invad.fuser import STYLE_CHANNELS
from baselines.models.invad.layers import (
    BiasLeakyReLU,
    ConvLayer,
    EqualConv2d,
    layer_norm_chw,
    upsampling_conv,
)

LATENT_STYLE_CHANNELS = 16
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


class ConstantInput(nn.Module):
    """The learned input tensor (1, C, H, W), N(0, 1) at init."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self) -> torch.Tensor:
        return self.input


class StyledConv(nn.Module):
    """Layer norm, optional spatial modulation, 3x3 equalised conv, biased leaky ReLU.

    modulate: x * gamma(style) + beta(style) after the norm, gamma and beta being 3x3
    equalised convs of the style map (gamma's bias starts at 1, beta's at 0). Both are
    computed by one conv with 2 * C_in outputs (gamma's channels first): the same
    function and parameter count as two convs, in half the kernel launches.
    upsample: the conv is a stride-2 transposed conv followed by the blur (2H x 2W out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        style_channels: int = LATENT_STYLE_CHANNELS,
        upsample: bool = False,
        modulate: bool = True,
    ) -> None:
        super().__init__()
        self.modulate = modulate
        if modulate:
            self.modulation = EqualConv2d(style_channels, 2 * in_channels, 3, bias_init=0.0)
            bias = self.modulation.bias
            assert bias is not None  # bias_init was given
            with torch.no_grad():
                bias[:in_channels].fill_(1.0)
        self.conv: nn.Module = (nn.Sequential(*upsampling_conv(in_channels, out_channels, 3))
                                if upsample else EqualConv2d(in_channels, out_channels, 3))
        self.act = BiasLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = layer_norm_chw(x)
        if self.modulate:
            gamma, beta = self.modulation(style).chunk(2, dim=1)
            x = x * gamma + beta
        return self.act(self.conv(x))


class StyledResBlock(nn.Module):
    """(styled conv -> styled conv) + 1x1 skip, divided by sqrt(2).

    With upsample, the first conv upsamples unmodulated and the skip is a 1x1 stride-2
    transposed conv followed by the blur.
    """

    def __init__(self, in_channels: int, out_channels: int, upsample: bool = False) -> None:
        super().__init__()
        self.conv1 = StyledConv(in_channels, out_channels, upsample=upsample,
                                modulate=not upsample)
        self.conv2 = StyledConv(out_channels, out_channels)
        if upsample:
            self.skip = nn.Sequential(*upsampling_conv(in_channels, out_channels, 1))
        else:
            self.skip = nn.Sequential(EqualConv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        main = self.conv2(self.conv1(x, style), style)
        return (main + self.skip(x)) * _INV_SQRT2


def style_adapter() -> nn.Sequential:
    """64-ch style map -> 16-ch latent style map: two 3x3 conv layers."""
    return nn.Sequential(
        ConvLayer(STYLE_CHANNELS, STYLE_CHANNELS), ConvLayer(STYLE_CHANNELS, LATENT_STYLE_CHANNELS)
    )


class InversionDecoder(nn.Module):
    """Reconstructs the encoder's features [F1, F2, F3] from the three style maps.

    channels: the encoder's (C1, C2, C3), e.g. (256, 512, 1024); the decoder runs them
    from C3 down. blocks: styled residual blocks per stage. latent_size: S / 16.
    """

    def __init__(self, channels: tuple[int, int, int], blocks: int, latent_size: int) -> None:
        super().__init__()
        stage_channels = list(reversed(channels))
        self.input = ConstantInput(stage_channels[0], latent_size)
        self.conv1 = nn.Sequential(ConvLayer(stage_channels[0], stage_channels[0]))
        self.convs_latent = nn.ModuleList(style_adapter() for _ in stage_channels)
        self.convs = nn.ModuleList()
        previous = stage_channels[0]
        for index, out_channels in enumerate(stage_channels):
            stage = [StyledResBlock(previous, out_channels, upsample=index > 0)]
            stage += [StyledResBlock(out_channels, out_channels) for _ in range(blocks - 1)]
            self.convs.append(nn.ModuleList(stage))
            previous = out_channels

    def forward(self, styles: list[torch.Tensor]) -> list[torch.Tensor]:
        """styles: the fuser's maps at strides 16, 8, 4. Returns [F1', F2', F3']."""
        batch = styles[0].shape[0]
        x = self.conv1(self.input())
        x = x.expand(batch, -1, -1, -1)
        outputs = []
        for adapter, stage, style in zip(self.convs_latent, self.convs, styles, strict=True):
            latent = adapter(style)
            for block in cast(nn.ModuleList, stage):
                x = block(x, latent)
            outputs.append(x)
        return outputs[::-1]
