"""InvAD's building blocks, written as plain PyTorch operations.

StyleGAN2-style layers as InvAD uses them, minus the reference's detours: one shared
conv weight is applied with an ordinary conv (not a per-sample grouped conv), the blur
is a depthwise conv2d and the biased leaky ReLU a plain add + leaky_relu (no custom CUDA
kernels), and the per-sample layer norm is F.group_norm with one group (not a
LayerNorm module rebuilt on every call). tests/test_invad_equivalence.py shows each
replacement computes the reference's function. Constant tensors (the blur kernel) are
buffers, so a forward pass allocates nothing but activations.

- Equalised learning rate: weights are stored as N(0, 1) / lr_mul and multiplied by
  lr_mul / sqrt(fan_in) at run time, fan_in = C_in * k * k.
- Biased leaky ReLU: act(x) = leaky_relu(x + b, 0.2) * sqrt(2).
- Upsampling: a stride-2 transposed conv (padding 0: 2H + k - 2 pixels) followed by a
  blur with the [1, 3, 3, 1] outer-product kernel, normalised to sum 1 and times 4
  (the zero-inserted samples take a quarter of the mass), padded back to 2H pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2
ACT_GAIN = math.sqrt(2.0)
BLUR_TAPS = (1.0, 3.0, 3.0, 1.0)
UPSAMPLE_FACTOR = 2


def bias_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """leaky_relu(x + bias, 0.2) * sqrt(2), the bias broadcast over channels (dim 1)."""
    return F.leaky_relu(x + bias.view(1, -1, 1, 1), LEAKY_SLOPE) * ACT_GAIN


def layer_norm_chw(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Normalise each sample over (C, H, W), no affine: group_norm with a single group."""
    return F.group_norm(x, 1, eps=eps)


def blur_kernel_2d(upsample_factor: int = UPSAMPLE_FACTOR) -> torch.Tensor:
    """The 4 x 4 blur kernel: outer([1,3,3,1])^T, normalised to sum 1, times factor^2."""
    taps = torch.tensor(BLUR_TAPS, dtype=torch.float64)
    kernel = torch.outer(taps, taps)
    return (kernel / kernel.sum() * upsample_factor**2).float()


def upsample_blur_padding(kernel_size: int) -> int:
    """Per-side blur padding bringing a stride-2 transposed conv's 2H + k - 2 back to 2H.

    The blur removes len(taps) - 1 = 3 pixels, so both sides together need 5 - k:
    1 for k = 3 (the 3x3 conv layers), 2 for k = 1 (the residual skips).
    """
    total = len(BLUR_TAPS) + 1 - kernel_size
    if total % 2:
        raise ValueError(f"no symmetric blur padding for kernel size {kernel_size}")
    return total // 2


class BiasLeakyReLU(nn.Module):
    """The biased leaky ReLU with its per-channel bias (zeros at init)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_leaky_relu(x, self.bias)


class Blur(nn.Module):
    """Depthwise FIR blur with the upsampling kernel and symmetric padding `padding`."""

    def __init__(self, channels: int, padding: int) -> None:
        super().__init__()
        self.padding = padding
        self.channels = channels
        kernel = blur_kernel_2d().view(1, 1, 4, 4).repeat(channels, 1, 1, 1)
        self.kernel: torch.Tensor
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The kernel is symmetric, so correlation (conv2d) equals the FIR convolution.
        return F.conv2d(x, self.kernel, padding=self.padding, groups=self.channels)


class EqualConv2d(nn.Module):
    """Conv with equalised learning rate; 'same' padding for odd kernels.

    bias_init: None for no bias, else the bias's initial value (e.g. 1 for a gain).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias_init: float | None = None,
        lr_mul: float = 1.0,
    ) -> None:
        super().__init__()
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.randn(shape) / lr_mul)
        self.scale = lr_mul / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.bias = None if bias_init is None else nn.Parameter(
            torch.full((out_channels,), float(bias_init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualConvTranspose2d(nn.Module):
    """Stride-2 transposed conv without bias, padding 0, equalised learning rate.

    The weight is stored as conv_transpose2d takes it, (C_in, C_out, k, k); fan_in is
    still C_in * k * k, as for the forward conv it replaces.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, lr_mul: float = 1.0
    ) -> None:
        super().__init__()
        shape = (in_channels, out_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.randn(shape) / lr_mul)
        self.scale = lr_mul / math.sqrt(in_channels * kernel_size**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(x, self.weight * self.scale, stride=UPSAMPLE_FACTOR)


def upsampling_conv(
    in_channels: int, out_channels: int, kernel_size: int, lr_mul: float = 1.0
) -> list[nn.Module]:
    """[stride-2 transposed conv, blur]: H x W -> 2H x 2W, no bias, no activation."""
    return [
        EqualConvTranspose2d(in_channels, out_channels, kernel_size, lr_mul),
        Blur(out_channels, upsample_blur_padding(kernel_size)),
    ]


class ConvLayer(nn.Sequential):
    """Equalised 3x3 conv without bias, then the biased leaky ReLU (children 0, 1)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(
            EqualConv2d(in_channels, out_channels, kernel_size), BiasLeakyReLU(out_channels)
        )


class UpConvLayer(nn.Sequential):
    """Upsampling conv layer: transposed conv, blur, biased leaky ReLU (children 0, 1, 2)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, lr_mul: float = 1.0
    ) -> None:
        super().__init__(
            *upsampling_conv(in_channels, out_channels, kernel_size, lr_mul),
            BiasLeakyReLU(out_channels),
        )
