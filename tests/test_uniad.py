"""UniAD: ADer's parameter table, the TF-EfficientNet-B4 trunk (TF "same" padding, timm's
outputs with the same weights, the weights file), the neighbourhood mask against a loop,
the transformer's layers against plain transcriptions (float64, eval mode), the feature
jitter, and loss, map and image score against transcriptions.

The table below is the "#parameters or shape" column of the fvcore table in ADer's fold-0
COCO-AD log (uniad_coco_0_100e.log), every row at 256 x 256 but `net_ad.upsample` (ADer's
parameter-free upsampling module for the map; ours resizes in `anomaly_map`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from fvcore_tables import n_frozen, n_params, table_mismatches, table_rows
from reference_ops import bilinear_align_corners, pooled_max_loops

from baselines import build_model, get_baseline
from baselines.models.uniad import UniAD, build
from baselines.models.uniad.efficientnet import EfficientNetTrunk, SameConv2d, same_padding
from baselines.models.uniad.model import UniADOutputs
from baselines.models.uniad.transformer import (
    DecoderLayer,
    EncoderLayer,
    ReconstructionTransformer,
    feature_jitter,
    neighbourhood_mask,
)
from baselines.training import make_train_step
from baselines.weights import WeightsError

UNIAD_TABLE = """
model 24.522M
net_backbone 16.742M
net_backbone.conv_stem 1.296K
net_backbone.conv_stem.weight (48,3,3,3)
net_backbone.bn1 96
net_backbone.bn1.weight (48,)
net_backbone.bn1.bias (48,)
net_backbone.blocks 16.741M
net_backbone.blocks.0 4.146K
net_backbone.blocks.0.0 2.94K
net_backbone.blocks.0.0.conv_dw 0.432K
net_backbone.blocks.0.0.bn1 96
net_backbone.blocks.0.0.se 1.212K
net_backbone.blocks.0.0.conv_pw 1.152K
net_backbone.blocks.0.0.bn2 48
net_backbone.blocks.0.1 1.206K
net_backbone.blocks.0.1.conv_dw 0.216K
net_backbone.blocks.0.1.bn1 48
net_backbone.blocks.0.1.se 0.318K
net_backbone.blocks.0.1.conv_pw 0.576K
net_backbone.blocks.0.1.bn2 48
net_backbone.blocks.1 66.238K
net_backbone.blocks.1.0 11.878K
net_backbone.blocks.1.0.conv_pw 3.456K
net_backbone.blocks.1.0.bn1 0.288K
net_backbone.blocks.1.0.conv_dw 1.296K
net_backbone.blocks.1.0.bn2 0.288K
net_backbone.blocks.1.0.se 1.878K
net_backbone.blocks.1.0.conv_pwl 4.608K
net_backbone.blocks.1.0.bn3 64
net_backbone.blocks.1.1 18.12K
net_backbone.blocks.1.1.conv_pw 6.144K
net_backbone.blocks.1.1.bn1 0.384K
net_backbone.blocks.1.1.conv_dw 1.728K
net_backbone.blocks.1.1.bn2 0.384K
net_backbone.blocks.1.1.se 3.272K
net_backbone.blocks.1.1.conv_pwl 6.144K
net_backbone.blocks.1.1.bn3 64
net_backbone.blocks.1.2 18.12K
net_backbone.blocks.1.2.conv_pw 6.144K
net_backbone.blocks.1.2.bn1 0.384K
net_backbone.blocks.1.2.conv_dw 1.728K
net_backbone.blocks.1.2.bn2 0.384K
net_backbone.blocks.1.2.se 3.272K
net_backbone.blocks.1.2.conv_pwl 6.144K
net_backbone.blocks.1.2.bn3 64
net_backbone.blocks.1.3 18.12K
net_backbone.blocks.1.3.conv_pw 6.144K
net_backbone.blocks.1.3.bn1 0.384K
net_backbone.blocks.1.3.conv_dw 1.728K
net_backbone.blocks.1.3.bn2 0.384K
net_backbone.blocks.1.3.se 3.272K
net_backbone.blocks.1.3.conv_pwl 6.144K
net_backbone.blocks.1.3.bn3 64
net_backbone.blocks.2 0.198M
net_backbone.blocks.2.0 25.848K
net_backbone.blocks.2.0.conv_pw 6.144K
net_backbone.blocks.2.0.bn1 0.384K
net_backbone.blocks.2.0.conv_dw 4.8K
net_backbone.blocks.2.0.bn2 0.384K
net_backbone.blocks.2.0.se 3.272K
net_backbone.blocks.2.0.conv_pwl 10.752K
net_backbone.blocks.2.0.bn3 0.112K
net_backbone.blocks.2.1 57.246K
net_backbone.blocks.2.1.conv_pw 18.816K
net_backbone.blocks.2.1.bn1 0.672K
net_backbone.blocks.2.1.conv_dw 8.4K
net_backbone.blocks.2.1.bn2 0.672K
net_backbone.blocks.2.1.se 9.758K
net_backbone.blocks.2.1.conv_pwl 18.816K
net_backbone.blocks.2.1.bn3 0.112K
net_backbone.blocks.2.2 57.246K
net_backbone.blocks.2.2.conv_pw 18.816K
net_backbone.blocks.2.2.bn1 0.672K
net_backbone.blocks.2.2.conv_dw 8.4K
net_backbone.blocks.2.2.bn2 0.672K
net_backbone.blocks.2.2.se 9.758K
net_backbone.blocks.2.2.conv_pwl 18.816K
net_backbone.blocks.2.2.bn3 0.112K
net_backbone.blocks.2.3 57.246K
net_backbone.blocks.2.3.conv_pw 18.816K
net_backbone.blocks.2.3.bn1 0.672K
net_backbone.blocks.2.3.conv_dw 8.4K
net_backbone.blocks.2.3.bn2 0.672K
net_backbone.blocks.2.3.se 9.758K
net_backbone.blocks.2.3.conv_pwl 18.816K
net_backbone.blocks.2.3.bn3 0.112K
net_backbone.blocks.3 1.06M
net_backbone.blocks.3.0 70.798K
net_backbone.blocks.3.0.conv_pw 18.816K
net_backbone.blocks.3.0.bn1 0.672K
net_backbone.blocks.3.0.conv_dw 3.024K
net_backbone.blocks.3.0.bn2 0.672K
net_backbone.blocks.3.0.se 9.758K
net_backbone.blocks.3.0.conv_pwl 37.632K
net_backbone.blocks.3.0.bn3 0.224K
net_backbone.blocks.3.1 0.198M
net_backbone.blocks.3.1.conv_pw 75.264K
net_backbone.blocks.3.1.bn1 1.344K
net_backbone.blocks.3.1.conv_dw 6.048K
net_backbone.blocks.3.1.bn2 1.344K
net_backbone.blocks.3.1.se 38.332K
net_backbone.blocks.3.1.conv_pwl 75.264K
net_backbone.blocks.3.1.bn3 0.224K
net_backbone.blocks.3.2 0.198M
net_backbone.blocks.3.2.conv_pw 75.264K
net_backbone.blocks.3.2.bn1 1.344K
net_backbone.blocks.3.2.conv_dw 6.048K
net_backbone.blocks.3.2.bn2 1.344K
net_backbone.blocks.3.2.se 38.332K
net_backbone.blocks.3.2.conv_pwl 75.264K
net_backbone.blocks.3.2.bn3 0.224K
net_backbone.blocks.3.3 0.198M
net_backbone.blocks.3.3.conv_pw 75.264K
net_backbone.blocks.3.3.bn1 1.344K
net_backbone.blocks.3.3.conv_dw 6.048K
net_backbone.blocks.3.3.bn2 1.344K
net_backbone.blocks.3.3.se 38.332K
net_backbone.blocks.3.3.conv_pwl 75.264K
net_backbone.blocks.3.3.bn3 0.224K
net_backbone.blocks.3.4 0.198M
net_backbone.blocks.3.4.conv_pw 75.264K
net_backbone.blocks.3.4.bn1 1.344K
net_backbone.blocks.3.4.conv_dw 6.048K
net_backbone.blocks.3.4.bn2 1.344K
net_backbone.blocks.3.4.se 38.332K
net_backbone.blocks.3.4.conv_pwl 75.264K
net_backbone.blocks.3.4.bn3 0.224K
net_backbone.blocks.3.5 0.198M
net_backbone.blocks.3.5.conv_pw 75.264K
net_backbone.blocks.3.5.bn1 1.344K
net_backbone.blocks.3.5.conv_dw 6.048K
net_backbone.blocks.3.5.bn2 1.344K
net_backbone.blocks.3.5.se 38.332K
net_backbone.blocks.3.5.conv_pwl 75.264K
net_backbone.blocks.3.5.bn3 0.224K
net_backbone.blocks.4 2.307M
net_backbone.blocks.4.0 0.241M
net_backbone.blocks.4.0.conv_pw 75.264K
net_backbone.blocks.4.0.bn1 1.344K
net_backbone.blocks.4.0.conv_dw 16.8K
net_backbone.blocks.4.0.bn2 1.344K
net_backbone.blocks.4.0.se 38.332K
net_backbone.blocks.4.0.conv_pwl 0.108M
net_backbone.blocks.4.0.bn3 0.32K
net_backbone.blocks.4.1 0.413M
net_backbone.blocks.4.1.conv_pw 0.154M
net_backbone.blocks.4.1.bn1 1.92K
net_backbone.blocks.4.1.conv_dw 24K
net_backbone.blocks.4.1.bn2 1.92K
net_backbone.blocks.4.1.se 77.8K
net_backbone.blocks.4.1.conv_pwl 0.154M
net_backbone.blocks.4.1.bn3 0.32K
net_backbone.blocks.4.2 0.413M
net_backbone.blocks.4.2.conv_pw 0.154M
net_backbone.blocks.4.2.bn1 1.92K
net_backbone.blocks.4.2.conv_dw 24K
net_backbone.blocks.4.2.bn2 1.92K
net_backbone.blocks.4.2.se 77.8K
net_backbone.blocks.4.2.conv_pwl 0.154M
net_backbone.blocks.4.2.bn3 0.32K
net_backbone.blocks.4.3 0.413M
net_backbone.blocks.4.3.conv_pw 0.154M
net_backbone.blocks.4.3.bn1 1.92K
net_backbone.blocks.4.3.conv_dw 24K
net_backbone.blocks.4.3.bn2 1.92K
net_backbone.blocks.4.3.se 77.8K
net_backbone.blocks.4.3.conv_pwl 0.154M
net_backbone.blocks.4.3.bn3 0.32K
net_backbone.blocks.4.4 0.413M
net_backbone.blocks.4.4.conv_pw 0.154M
net_backbone.blocks.4.4.bn1 1.92K
net_backbone.blocks.4.4.conv_dw 24K
net_backbone.blocks.4.4.bn2 1.92K
net_backbone.blocks.4.4.se 77.8K
net_backbone.blocks.4.4.conv_pwl 0.154M
net_backbone.blocks.4.4.bn3 0.32K
net_backbone.blocks.4.5 0.413M
net_backbone.blocks.4.5.conv_pw 0.154M
net_backbone.blocks.4.5.bn1 1.92K
net_backbone.blocks.4.5.conv_dw 24K
net_backbone.blocks.4.5.bn2 1.92K
net_backbone.blocks.4.5.se 77.8K
net_backbone.blocks.4.5.conv_pwl 0.154M
net_backbone.blocks.4.5.bn3 0.32K
net_backbone.blocks.5 8.636M
net_backbone.blocks.5.0 0.521M
net_backbone.blocks.5.0.conv_pw 0.154M
net_backbone.blocks.5.0.bn1 1.92K
net_backbone.blocks.5.0.conv_dw 24K
net_backbone.blocks.5.0.bn2 1.92K
net_backbone.blocks.5.0.se 77.8K
net_backbone.blocks.5.0.conv_pwl 0.261M
net_backbone.blocks.5.0.bn3 0.544K
net_backbone.blocks.5.1 1.159M
net_backbone.blocks.5.1.conv_pw 0.444M
net_backbone.blocks.5.1.bn1 3.264K
net_backbone.blocks.5.1.conv_dw 40.8K
net_backbone.blocks.5.1.bn2 3.264K
net_backbone.blocks.5.1.se 0.224M
net_backbone.blocks.5.1.conv_pwl 0.444M
net_backbone.blocks.5.1.bn3 0.544K
net_backbone.blocks.5.2 1.159M
net_backbone.blocks.5.2.conv_pw 0.444M
net_backbone.blocks.5.2.bn1 3.264K
net_backbone.blocks.5.2.conv_dw 40.8K
net_backbone.blocks.5.2.bn2 3.264K
net_backbone.blocks.5.2.se 0.224M
net_backbone.blocks.5.2.conv_pwl 0.444M
net_backbone.blocks.5.2.bn3 0.544K
net_backbone.blocks.5.3 1.159M
net_backbone.blocks.5.3.conv_pw 0.444M
net_backbone.blocks.5.3.bn1 3.264K
net_backbone.blocks.5.3.conv_dw 40.8K
net_backbone.blocks.5.3.bn2 3.264K
net_backbone.blocks.5.3.se 0.224M
net_backbone.blocks.5.3.conv_pwl 0.444M
net_backbone.blocks.5.3.bn3 0.544K
net_backbone.blocks.5.4 1.159M
net_backbone.blocks.5.4.conv_pw 0.444M
net_backbone.blocks.5.4.bn1 3.264K
net_backbone.blocks.5.4.conv_dw 40.8K
net_backbone.blocks.5.4.bn2 3.264K
net_backbone.blocks.5.4.se 0.224M
net_backbone.blocks.5.4.conv_pwl 0.444M
net_backbone.blocks.5.4.bn3 0.544K
net_backbone.blocks.5.5 1.159M
net_backbone.blocks.5.5.conv_pw 0.444M
net_backbone.blocks.5.5.bn1 3.264K
net_backbone.blocks.5.5.conv_dw 40.8K
net_backbone.blocks.5.5.bn2 3.264K
net_backbone.blocks.5.5.se 0.224M
net_backbone.blocks.5.5.conv_pwl 0.444M
net_backbone.blocks.5.5.bn3 0.544K
net_backbone.blocks.5.6 1.159M
net_backbone.blocks.5.6.conv_pw 0.444M
net_backbone.blocks.5.6.bn1 3.264K
net_backbone.blocks.5.6.conv_dw 40.8K
net_backbone.blocks.5.6.bn2 3.264K
net_backbone.blocks.5.6.se 0.224M
net_backbone.blocks.5.6.conv_pwl 0.444M
net_backbone.blocks.5.6.bn3 0.544K
net_backbone.blocks.5.7 1.159M
net_backbone.blocks.5.7.conv_pw 0.444M
net_backbone.blocks.5.7.bn1 3.264K
net_backbone.blocks.5.7.conv_dw 40.8K
net_backbone.blocks.5.7.bn2 3.264K
net_backbone.blocks.5.7.se 0.224M
net_backbone.blocks.5.7.conv_pwl 0.444M
net_backbone.blocks.5.7.bn3 0.544K
net_backbone.blocks.6 4.47M
net_backbone.blocks.6.0 1.421M
net_backbone.blocks.6.0.conv_pw 0.444M
net_backbone.blocks.6.0.bn1 3.264K
net_backbone.blocks.6.0.conv_dw 14.688K
net_backbone.blocks.6.0.bn2 3.264K
net_backbone.blocks.6.0.se 0.224M
net_backbone.blocks.6.0.conv_pwl 0.731M
net_backbone.blocks.6.0.bn3 0.896K
net_backbone.blocks.6.1 3.049M
net_backbone.blocks.6.1.conv_pw 1.204M
net_backbone.blocks.6.1.bn1 5.376K
net_backbone.blocks.6.1.conv_dw 24.192K
net_backbone.blocks.6.1.bn2 5.376K
net_backbone.blocks.6.1.se 0.605M
net_backbone.blocks.6.1.conv_pwl 1.204M
net_backbone.blocks.6.1.bn3 0.896K
net_ad 7.779M
net_ad.pos_embed 4.096K
net_ad.pos_embed.row_embed 2.048K
net_ad.pos_embed.row_embed.weight (16,128)
net_ad.pos_embed.col_embed 2.048K
net_ad.pos_embed.col_embed.weight (16,128)
net_ad.transformer 7.635M
net_ad.transformer.encoder.layers 3.159M
net_ad.transformer.encoder.layers.0 0.79M
net_ad.transformer.encoder.layers.0.self_attn 0.263M
net_ad.transformer.encoder.layers.0.linear1 0.263M
net_ad.transformer.encoder.layers.0.linear2 0.262M
net_ad.transformer.encoder.layers.0.norm1 0.512K
net_ad.transformer.encoder.layers.0.norm2 0.512K
net_ad.transformer.encoder.layers.1 0.79M
net_ad.transformer.encoder.layers.1.self_attn 0.263M
net_ad.transformer.encoder.layers.1.linear1 0.263M
net_ad.transformer.encoder.layers.1.linear2 0.262M
net_ad.transformer.encoder.layers.1.norm1 0.512K
net_ad.transformer.encoder.layers.1.norm2 0.512K
net_ad.transformer.encoder.layers.2 0.79M
net_ad.transformer.encoder.layers.2.self_attn 0.263M
net_ad.transformer.encoder.layers.2.linear1 0.263M
net_ad.transformer.encoder.layers.2.linear2 0.262M
net_ad.transformer.encoder.layers.2.norm1 0.512K
net_ad.transformer.encoder.layers.2.norm2 0.512K
net_ad.transformer.encoder.layers.3 0.79M
net_ad.transformer.encoder.layers.3.self_attn 0.263M
net_ad.transformer.encoder.layers.3.linear1 0.263M
net_ad.transformer.encoder.layers.3.linear2 0.262M
net_ad.transformer.encoder.layers.3.norm1 0.512K
net_ad.transformer.encoder.layers.3.norm2 0.512K
net_ad.transformer.decoder 4.476M
net_ad.transformer.decoder.layers 4.476M
net_ad.transformer.decoder.layers.0 1.119M
net_ad.transformer.decoder.layers.1 1.119M
net_ad.transformer.decoder.layers.2 1.119M
net_ad.transformer.decoder.layers.3 1.119M
net_ad.transformer.decoder.norm 0.512K
net_ad.transformer.decoder.norm.weight (256,)
net_ad.transformer.decoder.norm.bias (256,)
net_ad.input_proj 69.888K
net_ad.input_proj.weight (256,272)
net_ad.input_proj.bias (256,)
net_ad.output_proj 69.904K
net_ad.output_proj.weight (272,256)
net_ad.output_proj.bias (272,)
net_merge -
"""


@pytest.fixture(scope="module")
def uniad256() -> UniAD:
    with torch.device("meta"):
        return build(256, weights="none")


@pytest.fixture(scope="module")
def tiny() -> UniAD:
    torch.manual_seed(0)
    return build(64, weights="none")


# ---------------------------------------------------------------- parity
def test_every_row_of_aders_table(uniad256: UniAD) -> None:
    assert not table_mismatches(uniad256, table_rows(UNIAD_TABLE))


def test_exact_counts_frozen_backbone_and_no_integer_tensors(uniad256: UniAD) -> None:
    assert n_params(uniad256) == 24_521_560
    assert n_params(uniad256.net_backbone) == 16_742_216
    assert n_params(uniad256.net_ad) == 7_779_344
    assert n_params(uniad256.net_backbone.blocks[5:]) == 13_106_232
    frozen = n_frozen(uniad256)
    assert frozen == 16_742_216
    assert {name.split(".")[0] for name, _ in uniad256.named_parameters()} == {
        "net_backbone", "net_ad"}
    assert uniad256.net_ad.mask.dtype == torch.bool
    assert "net_ad.mask" not in uniad256.state_dict()  # rebuilt, never checkpointed


@pytest.mark.parametrize("size", [64, 128])
def test_other_sizes_change_only_the_token_tables(size: int) -> None:
    with torch.device("meta"):
        model = build(size, weights="none")
    grid = size // 16
    # query tables 4 x g^2 x 256, row and column tables 2 x g x 128
    expected = 24_521_560 - 4 * (256 - grid * grid) * 256 - 2 * (16 - grid) * 128
    assert n_params(model) == expected


def test_image_size_and_backbone_checks() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        build(80, weights="none")
    with pytest.raises(ValueError, match="--backbone"):
        build(64, weights="none", backbone="resnet18")


def test_registry_recipe_is_aders() -> None:
    entry = get_baseline("uniad")
    recipe = entry.recipe
    assert (recipe.lr, recipe.ref_batch, recipe.batch_size, recipe.betas) == (
        1e-4, 8, 8, (0.9, 0.999))
    assert (recipe.optimizer, recipe.weight_decay, recipe.eps, recipe.schedule,
            recipe.decay_at, recipe.epochs) == ("adamw", 1e-4, 1e-8, "step", 0.8, 100)
    assert entry.backbone == "tf_efficientnet_b4.aa_in1k"


# ---------------------------------------------------------------- TF "same" padding
def test_same_padding_values() -> None:
    assert same_padding(64, 3, 2) == (0, 1)
    assert same_padding(64, 5, 2) == (1, 2)
    assert same_padding(65, 3, 2) == (1, 1)
    assert same_padding(65, 5, 2) == (2, 2)
    assert same_padding(64, 5, 1) == (2, 2)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("size", [8, 9, 16, 31])
def test_stride2_same_conv_against_explicit_pad(kernel: int, size: int) -> None:
    """TF: p = max((ceil(H/2) - 1) * 2 + k - H, 0), floor(p/2) before, the rest after."""
    torch.manual_seed(kernel * size)
    conv = SameConv2d(4, 4, kernel, stride=2, groups=4).double()
    x = torch.randn(2, 4, size, size + 1, dtype=torch.float64)
    pads = []
    for length in (x.shape[-1], x.shape[-2]):  # F.pad order: last dimension first
        total = max((math.ceil(length / 2) - 1) * 2 + kernel - length, 0)
        pads += [total // 2, total - total // 2]
    expected = F.conv2d(F.pad(x, pads), conv.weight, stride=2, groups=4)
    torch.testing.assert_close(conv(x), expected, rtol=1e-12, atol=1e-12)
    assert conv(x).shape[-2:] == (math.ceil(size / 2), math.ceil((size + 1) / 2))


def test_stride1_same_conv_pads_symmetrically() -> None:
    conv = SameConv2d(3, 3, 5, stride=1, groups=3).double()
    x = torch.randn(1, 3, 10, 10, dtype=torch.float64)
    expected = F.conv2d(F.pad(x, [2, 2, 2, 2]), conv.weight, groups=3)
    torch.testing.assert_close(conv(x), expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- trunk and weights
def _randomise(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random weights and BatchNorm statistics of a realistic scale (so every block
    matters), as a state dict."""
    torch.manual_seed(seed)
    state = {}
    for key, value in module.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape)
        elif key.endswith(("bn1.weight", "bn2.weight", "bn3.weight")) or key == "bn1.weight":
            state[key] = 1.0 + 0.1 * torch.randn(value.shape)
        else:
            fan_in = max(value[0].numel(), 1) if value.ndim > 1 else 10
            state[key] = torch.randn(value.shape) / math.sqrt(fan_in)
    return state


def test_trunk_matches_timm_with_the_same_weights(tmp_path: Path) -> None:
    """Our trunk loaded from timm's classification model's file (its conv_head, bn2 and
    classifier left over) gives timm's four feature maps (features_only, out_indices
    0-3), float64, at 64 px and at an odd size."""
    timm = pytest.importorskip("timm")
    classifier = timm.create_model("tf_efficientnet_b4", pretrained=False)
    state = _randomise(classifier, 1)
    path = tmp_path / "tf_b4.pth"
    torch.save(state, path)
    ours = build(64, weights=str(path)).net_backbone.double()
    reference = timm.create_model("tf_efficientnet_b4", pretrained=False, features_only=True,
                                  out_indices=(0, 1, 2, 3))
    reference.load_state_dict({k: v for k, v in state.items()
                               if not k.startswith(("conv_head", "bn2", "classifier"))})
    reference = reference.double().eval()
    for size in (64, 71):
        images = torch.randn(2, 3, size, size, dtype=torch.float64)
        with torch.no_grad():
            expected = reference(images)
        got = ours(images)
        assert [f.shape[1] for f in got] == [24, 32, 56, 160]
        for a, b in zip(got, expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9 * float(b.abs().max()))


def test_weights_file_leaves_out_the_classifier_and_checks_the_rest(tmp_path: Path) -> None:
    trunk = EfficientNetTrunk()
    state = _randomise(trunk, 2)
    state |= {"conv_head.weight": torch.zeros(1792, 448, 1, 1), "bn2.weight": torch.ones(1792),
              "classifier.weight": torch.zeros(1000, 1792)}
    path = tmp_path / "b4.pth"
    torch.save(state, path)
    backbone = build(64, weights=str(path)).net_backbone
    torch.testing.assert_close(backbone.state_dict()["blocks.6.1.conv_pwl.weight"],
                               state["blocks.6.1.conv_pwl.weight"])
    assert not backbone.training and not any(p.requires_grad for p in backbone.parameters())
    del state["blocks.3.2.se.conv_expand.bias"]
    torch.save(state, path)
    with pytest.raises(WeightsError) as raised:
        build(64, weights=str(path))
    assert "\n" not in str(raised.value) and "blocks.3.2.se.conv_expand.bias" in str(raised.value)


def test_stages_5_and_6_are_never_run(tiny: UniAD) -> None:
    calls = []
    hooks = [stage.register_forward_hook(lambda *_, i=i: calls.append(i))
             for i, stage in enumerate(tiny.net_backbone.blocks)]
    try:
        features = tiny.net_backbone(torch.randn(1, 3, 64, 64))
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == [0, 1, 2, 3, 4]
    assert [tuple(f.shape) for f in features] == [
        (1, 24, 32, 32), (1, 32, 16, 16), (1, 56, 8, 8), (1, 160, 4, 4)]


def test_merge_resizes_with_align_corners_and_concatenates(tiny: UniAD) -> None:
    g = torch.Generator().manual_seed(3)
    features = [torch.randn(1, c, s, s, dtype=torch.float64, generator=g)
                for c, s in ((2, 32), (3, 16), (2, 8), (1, 4))]
    merged = tiny.net_merge(features)
    assert merged.shape == (1, 8, 4, 4)
    expected = np.concatenate([[bilinear_align_corners(f[0, c].numpy(), 4)
                                for c in range(f.shape[1])] for f in features])
    np.testing.assert_allclose(merged[0].numpy(), expected, rtol=1e-12, atol=1e-12)
    # ADer's merge: upsampling modules with scale factors 1/8, 1/4, 1/2, 1
    ader = torch.cat([torch.nn.UpsamplingBilinear2d(scale_factor=factor)(f) for f, factor
                      in zip(features, (1 / 8, 1 / 4, 1 / 2, 1), strict=True)], dim=1)
    torch.testing.assert_close(merged, ader, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- mask and transformer
def mask_by_loops(grid: int, half: int) -> np.ndarray:
    blocked = np.zeros((grid * grid, grid * grid), dtype=bool)
    for h1 in range(grid):
        for w1 in range(grid):
            for h2 in range(max(h1 - half, 0), min(h1 + half + 1, grid)):
                for w2 in range(max(w1 - half, 0), min(w1 + half + 1, grid)):
                    blocked[h1 * grid + w1, h2 * grid + w2] = True
    return blocked


@pytest.mark.parametrize(("grid", "half"), [(2, 0), (4, 1), (8, 2), (16, 4), (5, 2)])
def test_neighbourhood_mask_against_loops(grid: int, half: int) -> None:
    np.testing.assert_array_equal(neighbourhood_mask(grid, half).numpy(),
                                  mask_by_loops(grid, half))


def test_mask_half_width_is_a_quarter_of_the_grid(tiny: UniAD) -> None:
    """256 px: a 9 x 9 window on the 16 x 16 grid (ADer's neighbour size 8)."""
    mask = ReconstructionTransformer(272, 16).mask
    np.testing.assert_array_equal(mask.numpy(), mask_by_loops(16, 4))
    assert int(mask[0].sum()) == 5 * 5 and int(mask[8 * 16 + 8].sum()) == 81
    np.testing.assert_array_equal(tiny.net_ad.mask.numpy(), mask_by_loops(4, 1))


def layer_norm(x: np.ndarray, norm: torch.nn.LayerNorm) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + norm.eps) * norm.weight.detach().numpy() + \
        norm.bias.detach().numpy()


def attention(query: np.ndarray, key: np.ndarray, value: np.ndarray,
              mha: torch.nn.MultiheadAttention, blocked: np.ndarray) -> np.ndarray:
    """softmax(q k^T / sqrt(d) + mask) v per head, ADer's float mask: -inf where blocked."""
    w = mha.in_proj_weight.detach().numpy()
    b = mha.in_proj_bias.detach().numpy()
    width, heads = w.shape[1], mha.num_heads
    q, k, v = (x @ w[i * width:(i + 1) * width].T + b[i * width:(i + 1) * width]
               for i, x in enumerate((query, key, value)))
    d = width // heads
    additive = np.where(blocked, -np.inf, 0.0)
    out = np.zeros_like(q)
    for batch in range(q.shape[0]):
        for h in range(heads):
            part = slice(h * d, (h + 1) * d)
            scores = q[batch, :, part] @ k[batch, :, part].T / np.sqrt(d) + additive
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            out[batch, :, part] = scores / scores.sum(-1, keepdims=True) @ v[batch, :, part]
    return out @ mha.out_proj.weight.detach().numpy().T + mha.out_proj.bias.detach().numpy()


def linear(x: np.ndarray, layer: torch.nn.Linear) -> np.ndarray:
    return x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy()


def encoder_reference(layer: EncoderLayer, x: np.ndarray, pos: np.ndarray,
                      blocked: np.ndarray) -> np.ndarray:
    x = layer_norm(x + attention(x + pos, x + pos, x, layer.self_attn, blocked), layer.norm1)
    hidden = linear(np.maximum(linear(x, layer.linear1), 0.0), layer.linear2)
    return layer_norm(x + hidden, layer.norm2)


def decoder_reference(layer: DecoderLayer, previous: np.ndarray, memory: np.ndarray,
                      pos: np.ndarray, blocked: np.ndarray) -> np.ndarray:
    t = np.broadcast_to(layer.learned_embed.weight.detach().numpy(), memory.shape)
    t = layer_norm(t + attention(t + pos, memory + pos, memory, layer.self_attn, blocked),
                   layer.norm1)
    t = layer_norm(t + attention(t + pos, previous + pos, previous, layer.multihead_attn,
                                 blocked), layer.norm2)
    hidden = linear(np.maximum(linear(t, layer.linear1), 0.0), layer.linear2)
    return layer_norm(t + hidden, layer.norm3)


@pytest.fixture(scope="module")
def transformer64() -> ReconstructionTransformer:
    """net_ad at 64 px (grid 4, half-width 1) in float64, eval mode, random LayerNorms."""
    torch.manual_seed(4)
    net = ReconstructionTransformer(272, 4).double().eval()
    for module in net.modules():
        if isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.normal_(module.weight, 1.0, 0.1)
            torch.nn.init.normal_(module.bias, 0.0, 0.1)
        if isinstance(module, torch.nn.MultiheadAttention):
            torch.nn.init.normal_(module.in_proj_bias, 0.0, 0.1)
    return net


def test_position_embedding_puts_the_column_half_first(transformer64) -> None:
    pos = transformer64.pos_embed().detach().numpy()
    rows = transformer64.pos_embed.row_embed.weight.detach().numpy()
    cols = transformer64.pos_embed.col_embed.weight.detach().numpy()
    for h in range(4):
        for w in range(4):
            np.testing.assert_array_equal(pos[h * 4 + w], np.concatenate([cols[w], rows[h]]))


def test_encoder_and_decoder_layers_against_transcriptions(transformer64) -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 16, 256, dtype=torch.float64, generator=g)
    previous = torch.randn(2, 16, 256, dtype=torch.float64, generator=g)
    pos = transformer64.pos_embed().detach()
    mask = transformer64.mask
    blocked = mask.numpy()
    encoder = transformer64.transformer.encoder.layers[1]
    decoder = transformer64.transformer.decoder.layers[2]
    with torch.no_grad():
        np.testing.assert_allclose(encoder(x, pos, mask).numpy(),
                                   encoder_reference(encoder, x.numpy(), pos.numpy(), blocked),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(
            decoder(previous, x, pos, mask).numpy(),
            decoder_reference(decoder, previous.numpy(), x.numpy(), pos.numpy(), blocked),
            rtol=1e-10, atol=1e-10)


def test_whole_reconstruction_against_transcription(transformer64) -> None:
    """input_proj, 4 encoder layers, 4 decoder layers (the second attention reads the
    previous layer's output, the first layer's the encoder output), final norm,
    output_proj; no jitter in eval mode."""
    features = torch.randn(2, 272, 4, 4, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        got = transformer64(features).numpy()
    blocked = transformer64.mask.numpy()
    pos = transformer64.pos_embed().detach().numpy()
    tokens = features.flatten(2).transpose(1, 2).numpy()
    x = linear(tokens, transformer64.input_proj)
    for layer in transformer64.transformer.encoder.layers:
        x = encoder_reference(layer, x, pos, blocked)
    out = x
    for layer in transformer64.transformer.decoder.layers:
        out = decoder_reference(layer, out, x, pos, blocked)
    out = linear(layer_norm(out, transformer64.transformer.decoder.norm),
                 transformer64.output_proj)
    expected = out.transpose(0, 2, 1).reshape(2, 272, 4, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_initialisation_follows_ader() -> None:
    """Linear layers xavier-uniform with zero bias, each its own draw; each stack's layers
    start from copies of one layer for what ADer does not re-initialise (query tables,
    attention input projections); position tables in [0, 1)."""
    torch.manual_seed(7)
    net = ReconstructionTransformer(272, 16).requires_grad_(False)
    encoders = cast(list[EncoderLayer], list(net.transformer.encoder.layers))
    decoders = cast(list[DecoderLayer], list(net.transformer.decoder.layers))
    stacks: tuple[list[EncoderLayer] | list[DecoderLayer], ...] = (encoders, decoders)
    for stack in stacks:
        for layer in stack[1:]:
            assert torch.equal(layer.self_attn.in_proj_weight, stack[0].self_attn.in_proj_weight)
            assert not torch.equal(layer.linear1.weight, stack[0].linear1.weight)
            assert not torch.equal(layer.self_attn.out_proj.weight,
                                   stack[0].self_attn.out_proj.weight)
    for layer in decoders[1:]:
        assert torch.equal(layer.learned_embed.weight, decoders[0].learned_embed.weight)
    assert abs(float(decoders[0].learned_embed.weight.std()) - 1.0) < 0.02
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            bound = math.sqrt(6.0 / (module.in_features + module.out_features))
            assert float(module.weight.abs().max()) <= bound
            assert float(module.weight.abs().max()) > 0.95 * bound
            assert not module.bias.any()
    for table in (net.pos_embed.row_embed.weight, net.pos_embed.col_embed.weight):
        assert float(table.min()) >= 0.0 and float(table.max()) < 1.0


# ---------------------------------------------------------------- jitter
def test_feature_jitter_formula() -> None:
    tokens = torch.randn(2, 5, 272, dtype=torch.float64)
    torch.manual_seed(8)
    jittered = feature_jitter(tokens)
    torch.manual_seed(8)
    noise = torch.randn(2, 5, 272, dtype=torch.float64)
    expected = tokens + noise * tokens.norm(dim=-1, keepdim=True) / 272 * 20
    torch.testing.assert_close(jittered, expected, rtol=1e-12, atol=1e-12)


def test_jitter_only_in_train_mode_and_never_on_the_target(tiny: UniAD) -> None:
    images = torch.randn(2, 3, 64, 64)
    tiny.eval()
    with torch.no_grad():
        first, second = tiny(images), tiny(images)
    torch.testing.assert_close(first.reconstruction, second.reconstruction, rtol=0, atol=0)
    tiny.train()
    try:
        torch.manual_seed(9)
        noisy = tiny(images)
        torch.manual_seed(9)
        again = tiny(images)
    finally:
        tiny.eval()
    torch.testing.assert_close(noisy.target, first.target, rtol=0, atol=0)
    torch.testing.assert_close(noisy.reconstruction, again.reconstruction, rtol=0, atol=0)
    assert not torch.allclose(noisy.reconstruction, first.reconstruction)
    assert not noisy.target.requires_grad


# ---------------------------------------------------------------- loss, map, score
def test_loss_map_and_score_against_transcriptions(tiny: UniAD) -> None:
    g = torch.Generator().manual_seed(10)
    target = torch.randn(3, 272, 4, 4, dtype=torch.float64, generator=g)
    rebuilt = torch.randn(3, 272, 4, 4, dtype=torch.float64, generator=g)
    out = UniADOutputs(target, rebuilt)
    difference = (rebuilt - target).numpy()
    assert float(tiny.loss(out)) == pytest.approx(float(np.mean(difference ** 2)), rel=1e-12)
    maps = tiny.anomaly_map(out)
    assert maps.dtype == torch.float32 and maps.shape == (3, 64, 64)
    # scored in float64: a float32 16 x 16 mean sums 256 terms in an order that depends on
    # the CPU's kernels (~sqrt(256) eps32 apart); the float32 scores of a run are checked
    # in test_pipeline_baselines
    scores = tiny.image_score(out, maps.double())
    assert scores.dtype == torch.float64
    # ADer: an upsampling module with scale factor 16 on the distance map
    ader = torch.nn.UpsamplingBilinear2d(scale_factor=16)(
        (rebuilt - target).square().sum(1, keepdim=True).sqrt())
    torch.testing.assert_close(maps, ader[:, 0].float(), rtol=1e-6, atol=1e-6)
    for b in range(3):
        distance = np.sqrt((difference[b] ** 2).sum(0))
        expected = bilinear_align_corners(distance, 64)  # no smoothing
        np.testing.assert_allclose(maps[b].numpy(), expected, rtol=1e-6, atol=0)
        assert float(scores[b]) == pytest.approx(pooled_max_loops(maps[b].double().numpy(), 16),
                                                 rel=1e-12)


def test_training_steps_lower_the_loss() -> None:
    """The recipe's AdamW (at a higher lr: batch 200 scales it to 2.5e-3); the backbone
    does not move, every transformer parameter does."""
    torch.manual_seed(11)
    model = build(64, weights="none")
    model.train()
    step = make_train_step(model, get_baseline("uniad").recipe, batch_size=200,
                           total_iterations=100, amp=False)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    images = torch.randn(4, 3, 64, 64)
    losses = [float(cast(torch.Tensor, step(images))) for _ in range(10)]
    assert losses[-1] < 0.5 * losses[0]
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter, before[name]) == name.startswith("net_backbone."), name


def test_one_training_step_and_maps_at_128() -> None:
    torch.manual_seed(12)
    model = build(128, weights="none").train()
    step = make_train_step(model, get_baseline("uniad").recipe, batch_size=2,
                           total_iterations=1, amp=False)
    images = torch.randn(2, 3, 128, 128)
    loss = step(images)
    assert loss is not None and torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        out = model(images)
        maps = model.anomaly_map(out)
        scores = model.image_score(out, maps)
    assert maps.shape == (2, 128, 128) and torch.isfinite(maps).all()
    assert scores.shape == (2,) and bool((scores <= maps.flatten(1).amax(1)).all())


def test_forward_loss_and_map_compile_without_graph_breaks(tiny: UniAD) -> None:
    def step(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = tiny(images)
        return tiny.loss(out), tiny.anomaly_map(out)

    tiny.train()
    try:
        explanation = torch._dynamo.explain(step)(torch.randn(2, 3, 64, 64))
    finally:
        tiny.eval()
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_registry_builds_it() -> None:
    with torch.device("meta"):
        assert isinstance(build_model("uniad", image_size=64, weights="none"), UniAD)
