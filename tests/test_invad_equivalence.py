"""InvAD's plain operations compute the same functions as the reference's detours.

ADer applies one shared conv weight as a per-sample grouped conv, blurs with the
upfirdn2d CUDA kernel, activates with the fused_bias_act CUDA kernel and rebuilds a
LayerNorm module on every call. Each test below transcribes the reference operation
directly (in float64, random inputs and weights) and checks that our module computes
the same values (relative error < 1e-5); gradients are compared where the speed-up
changes how they are accumulated.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baselines.models.invad.decoder import InversionDecoder, StyledConv, StyledResBlock
from baselines.models.invad.layers import (
    BiasLeakyReLU,
    Blur,
    EqualConv2d,
    UpConvLayer,
    blur_kernel_2d,
    layer_norm_chw,
)

TOLERANCE = 1e-5
BATCH = 3


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def assert_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    assert ours.shape == reference.shape
    error = (ours - reference).abs().max() / reference.abs().max()
    assert error < TOLERANCE, float(error)


def randomise(module: torch.nn.Module) -> torch.nn.Module:
    """float64, every parameter random (biases included, not their init values)."""
    module = module.double()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_()
    return module


# --- direct transcriptions of the reference operations ---------------------------------

def grouped_conv_reference(x: torch.Tensor, weight: torch.Tensor, padding: int) -> torch.Tensor:
    """The shared weight repeated per sample, the batch folded into channels, groups = B."""
    batch, channels, height, width = x.shape
    repeated = weight.unsqueeze(0).repeat(batch, 1, 1, 1, 1)  # (B, out, in, k, k)
    out = F.conv2d(x.reshape(1, batch * channels, height, width),
                   repeated.reshape(-1, *weight.shape[1:]), padding=padding, groups=batch)
    return out.reshape(batch, -1, *out.shape[2:])


def grouped_conv_transpose_reference(x: torch.Tensor, weight_oikk: torch.Tensor) -> torch.Tensor:
    """Upsampling as ADer does it: per-sample weights (B, out, in, k, k), transposed to
    (B * in, out, k, k), stride-2 conv_transpose2d with groups = B, padding 0."""
    batch, channels, height, width = x.shape
    repeated = weight_oikk.unsqueeze(0).repeat(batch, 1, 1, 1, 1)
    transposed = repeated.transpose(1, 2).reshape(batch * channels, -1, *weight_oikk.shape[2:])
    out = F.conv_transpose2d(x.reshape(1, batch * channels, height, width), transposed,
                             stride=2, padding=0, groups=batch)
    return out.reshape(batch, -1, *out.shape[2:])


def upfirdn2d_reference(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]):
    """upfirdn2d: insert up - 1 zeros after every sample, pad (pad0, pad1) on both axes,
    then FIR-filter each channel with the flipped kernel (a true convolution)."""
    batch, channels, height, width = x.shape
    planes = x.reshape(-1, height, 1, width, 1)
    planes = F.pad(planes, (0, up - 1, 0, 0, 0, up - 1))
    planes = planes.reshape(-1, 1, height * up, width * up)
    planes = F.pad(planes, (pad[0], pad[1], pad[0], pad[1]))
    flipped = torch.flip(kernel, [0, 1]).view(1, 1, *kernel.shape)
    out = F.conv2d(planes, flipped)
    return out.reshape(batch, channels, *out.shape[2:])


def fused_bias_act_reference(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """fused_bias_act(act='lrelu', alpha=0.2, gain=sqrt 2): per element,
    y = x + b; y = y if y > 0 else 0.2 y; return sqrt(2) y."""
    y = x + bias.view(1, -1, 1, 1)
    return torch.where(y > 0, y, 0.2 * y) * math.sqrt(2.0)


def fresh_layer_norm_reference(x: torch.Tensor) -> torch.Tensor:
    """A new nn.LayerNorm over (C, H, W), no affine, built for this call."""
    norm = torch.nn.LayerNorm(x.shape[1:], eps=1e-5, elementwise_affine=False)
    return norm.to(x.dtype)(x)


def styled_conv_reference(conv: StyledConv, x: torch.Tensor, style: torch.Tensor):
    """A styled conv the reference's way: fresh LayerNorm, grouped convs, fused act."""
    x = fresh_layer_norm_reference(x)
    if conv.modulate:
        # ADer's two convs, gamma and beta: the halves of our merged modulation conv.
        weights = (conv.modulation.weight * conv.modulation.scale).chunk(2)
        biases = conv.modulation.bias.view(1, -1, 1, 1).chunk(2, dim=1)
        gamma = grouped_conv_reference(style, weights[0], 1) + biases[0]
        beta = grouped_conv_reference(style, weights[1], 1) + biases[1]
        x = x * gamma + beta
    if isinstance(conv.conv, EqualConv2d):
        x = grouped_conv_reference(x, conv.conv.weight * conv.conv.scale, 1)
    else:
        transpose, blur = conv.conv
        weight_oikk = (transpose.weight * transpose.scale).transpose(0, 1)
        x = upfirdn2d_reference(grouped_conv_transpose_reference(x, weight_oikk),
                                blur.kernel[0, 0], up=1, pad=(1, 1))
    return fused_bias_act_reference(x, conv.act.bias)


# --- the tests ----------------------------------------------------------------------------

def test_modulation_starts_as_identity_gain_and_zero_shift() -> None:
    conv = StyledConv(4, 4, style_channels=3)
    gamma_bias, beta_bias = conv.modulation.bias.chunk(2)
    assert torch.equal(gamma_bias, torch.ones(4)) and torch.equal(beta_bias, torch.zeros(4))


def test_plain_conv_equals_per_sample_grouped_conv() -> None:
    conv = randomise(EqualConv2d(6, 5, 3))
    x = torch.randn(BATCH, 6, 9, 9, dtype=torch.float64)
    assert_close(conv(x), grouped_conv_reference(x, conv.weight * conv.scale, padding=1))


def test_blur_kernel_is_the_normalised_outer_product_times_four() -> None:
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    expected = torch.outer(taps, taps) / 64 * 4
    assert torch.equal(blur_kernel_2d(), expected)


@pytest.mark.parametrize("padding", [1, 2])
def test_depthwise_blur_equals_upfirdn2d(padding: int) -> None:
    blur = Blur(4, padding).double()
    x = torch.randn(BATCH, 4, 11, 11, dtype=torch.float64)
    kernel = blur_kernel_2d().double()
    assert_close(blur(x), upfirdn2d_reference(x, kernel, up=1, pad=(padding, padding)))


def test_upsampling_conv_layer_equals_grouped_transpose_and_upfirdn2d() -> None:
    layer = randomise(UpConvLayer(4, 5, lr_mul=0.01))
    transpose, _blur, act = layer
    x = torch.randn(BATCH, 4, 8, 8, dtype=torch.float64)
    weight_oikk = (transpose.weight * transpose.scale).transpose(0, 1)
    upsampled = upfirdn2d_reference(grouped_conv_transpose_reference(x, weight_oikk),
                                    blur_kernel_2d().double(), up=1, pad=(1, 1))
    out = layer(x)
    assert out.shape == (BATCH, 5, 16, 16)
    assert_close(out, fused_bias_act_reference(upsampled, act.bias))


def test_transposed_conv_is_zero_insertion_then_convolution() -> None:
    """Independent of the grouped form: conv_transpose2d(stride 2) = upfirdn2d with up=2,
    full padding (k - 1) and the conv kernel itself as the FIR filter (one channel)."""
    layer = randomise(UpConvLayer(1, 1))
    transpose = layer[0]
    x = torch.randn(BATCH, 1, 7, 7, dtype=torch.float64)
    weight = (transpose.weight * transpose.scale)[0, 0]
    reference = upfirdn2d_reference(x, weight, up=2, pad=(2, 2))[..., :-1, :-1]
    assert_close(transpose(x), reference)


def test_bias_leaky_relu_equals_fused_bias_act_values_and_gradients() -> None:
    act = randomise(BiasLeakyReLU(7))
    x = torch.randn(BATCH, 7, 5, 5, dtype=torch.float64, requires_grad=True)
    ours = act(x)
    reference = fused_bias_act_reference(x, act.bias)
    assert_close(ours, reference)
    upstream = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, (x, act.bias), upstream)
    reference_grads = torch.autograd.grad(reference, (x, act.bias), upstream)
    for a, b in zip(ours_grads, reference_grads, strict=True):
        assert_close(a, b)


def test_group_norm_equals_fresh_layer_norm() -> None:
    x = torch.randn(BATCH, 6, 7, 5, dtype=torch.float64) * 3 + 2
    assert_close(layer_norm_chw(x), fresh_layer_norm_reference(x))


@pytest.mark.parametrize("upsample", [False, True])
def test_styled_conv_equals_reference_transcription(upsample: bool) -> None:
    conv = randomise(StyledConv(4, 6, style_channels=3, upsample=upsample,
                                modulate=not upsample))
    x = torch.randn(BATCH, 4, 6, 6, dtype=torch.float64)
    style = torch.randn(BATCH, 3, 6, 6, dtype=torch.float64)
    assert_close(conv(x, style), styled_conv_reference(conv, x, style))


def test_upsampling_res_block_equals_reference_transcription() -> None:
    block = randomise(StyledResBlock(8, 4, upsample=True))
    x = torch.randn(BATCH, 8, 5, 5, dtype=torch.float64)
    style = torch.randn(BATCH, 16, 10, 10, dtype=torch.float64)
    main = styled_conv_reference(block.conv2, styled_conv_reference(block.conv1, x, style), style)
    transpose, blur = block.skip
    skip_weight = (transpose.weight * transpose.scale).transpose(0, 1)
    skip = upfirdn2d_reference(grouped_conv_transpose_reference(x, skip_weight),
                               blur.kernel[0, 0], up=1, pad=(2, 2))
    assert_close(block(x, style), (main + skip) / math.sqrt(2.0))


def test_constant_conv_once_equals_repeating_the_constant_first() -> None:
    """The decoder convolves its constant at batch 1 and broadcasts; ADer repeats the
    constant over the batch first. Same outputs and same gradients."""
    decoder = randomise(InversionDecoder((4, 8, 16), blocks=1, latent_size=3))
    styles = [torch.randn(BATCH, 64, s, s, dtype=torch.float64) for s in (3, 6, 12)]
    ours = decoder(styles)
    ours_grads = torch.autograd.grad(sum(o.square().sum() for o in ours),
                                     list(decoder.parameters()))

    def repeated_forward() -> list[torch.Tensor]:
        x = decoder.input().repeat(BATCH, 1, 1, 1)
        (layer,) = decoder.conv1
        x = fused_bias_act_reference(grouped_conv_reference(x, layer[0].weight * layer[0].scale,
                                                            1), layer[1].bias)
        outputs = []
        for adapter, stage, style in zip(decoder.convs_latent, decoder.convs, styles,
                                         strict=True):
            latent = adapter(style)
            for block in stage:
                x = block(x, latent)
            outputs.append(x)
        return outputs[::-1]

    reference = repeated_forward()
    reference_grads = torch.autograd.grad(sum(o.square().sum() for o in reference),
                                          list(decoder.parameters()))
    for a, b in zip(ours, reference, strict=True):
        assert_close(a, b)
    for a, b in zip(ours_grads, reference_grads, strict=True):
        assert_close(a, b)
