"""Parity with ADer's published MambaAD parameter table, module by module.

The table below is the "#parameters or shape" column of the fvcore table printed in ADer's
fold-0 COCO-AD training log (mambaad_coco_0_100e.log): every row of the fusion and the
decoder, and the teacher down to its stages (fvcore folds a chain of single-child modules
into one row: `net_s.layers_up` stands for `net_s` and its only child), compared by
tests/fvcore_tables.py. As in ADer's table, a count includes the integer scan-order
tables (ADer stores them as integer parameters; ours are int64 buffers). Built with
random weights at 256 x 256 on the meta device (no storage).
"""

from __future__ import annotations

import pytest
import torch
from fvcore_tables import fvcore_size, n_frozen, n_params, table_mismatches, table_rows

from baselines.models.mambaad import MambaAD, build
from baselines.models.mambaad.ssm import SSMLayer

ADER_MAMBAAD_TABLE = """
model 25.667M
net_t 8.17M
net_t.conv1 9.408K
net_t.bn1 0.128K
net_t.layer1 0.222M
net_t.layer2 1.116M
net_t.layer3 6.822M
mff_oce 1.458M
mff_oce.bn_layer 0.94M
mff_oce.bn_layer.0 0.379M
mff_oce.bn_layer.0.conv1 32.768K
mff_oce.bn_layer.0.conv1.weight (128,256,1,1)
mff_oce.bn_layer.0.bn1 0.256K
mff_oce.bn_layer.0.bn1.weight (128,)
mff_oce.bn_layer.0.bn1.bias (128,)
mff_oce.bn_layer.0.conv2 0.147M
mff_oce.bn_layer.0.conv2.weight (128,128,3,3)
mff_oce.bn_layer.0.bn2 0.256K
mff_oce.bn_layer.0.bn2.weight (128,)
mff_oce.bn_layer.0.bn2.bias (128,)
mff_oce.bn_layer.0.conv3 65.536K
mff_oce.bn_layer.0.conv3.weight (512,128,1,1)
mff_oce.bn_layer.0.bn3 1.024K
mff_oce.bn_layer.0.bn3.weight (512,)
mff_oce.bn_layer.0.bn3.bias (512,)
mff_oce.bn_layer.0.downsample 0.132M
mff_oce.bn_layer.0.downsample.0 0.131M
mff_oce.bn_layer.0.downsample.1 1.024K
mff_oce.bn_layer.1 0.28M
mff_oce.bn_layer.1.conv1 65.536K
mff_oce.bn_layer.1.conv1.weight (128,512,1,1)
mff_oce.bn_layer.1.bn1 0.256K
mff_oce.bn_layer.1.bn1.weight (128,)
mff_oce.bn_layer.1.bn1.bias (128,)
mff_oce.bn_layer.1.conv2 0.147M
mff_oce.bn_layer.1.conv2.weight (128,128,3,3)
mff_oce.bn_layer.1.bn2 0.256K
mff_oce.bn_layer.1.bn2.weight (128,)
mff_oce.bn_layer.1.bn2.bias (128,)
mff_oce.bn_layer.1.conv3 65.536K
mff_oce.bn_layer.1.conv3.weight (512,128,1,1)
mff_oce.bn_layer.1.bn3 1.024K
mff_oce.bn_layer.1.bn3.weight (512,)
mff_oce.bn_layer.1.bn3.bias (512,)
mff_oce.bn_layer.2 0.28M
mff_oce.bn_layer.2.conv1 65.536K
mff_oce.bn_layer.2.conv1.weight (128,512,1,1)
mff_oce.bn_layer.2.bn1 0.256K
mff_oce.bn_layer.2.bn1.weight (128,)
mff_oce.bn_layer.2.bn1.bias (128,)
mff_oce.bn_layer.2.conv2 0.147M
mff_oce.bn_layer.2.conv2.weight (128,128,3,3)
mff_oce.bn_layer.2.bn2 0.256K
mff_oce.bn_layer.2.bn2.weight (128,)
mff_oce.bn_layer.2.bn2.bias (128,)
mff_oce.bn_layer.2.conv3 65.536K
mff_oce.bn_layer.2.conv3.weight (512,128,1,1)
mff_oce.bn_layer.2.bn3 1.024K
mff_oce.bn_layer.2.bn3.weight (512,)
mff_oce.bn_layer.2.bn3.bias (512,)
mff_oce.conv1 73.728K
mff_oce.conv1.weight (128,64,3,3)
mff_oce.bn1 0.256K
mff_oce.bn1.weight (128,)
mff_oce.bn1.bias (128,)
mff_oce.conv2 0.295M
mff_oce.conv2.weight (256,128,3,3)
mff_oce.bn2 0.512K
mff_oce.bn2.weight (256,)
mff_oce.bn2.bias (256,)
mff_oce.conv21 16.512K
mff_oce.conv21.weight (128,128,1,1)
mff_oce.conv21.bias (128,)
mff_oce.bn21 0.256K
mff_oce.bn21.weight (128,)
mff_oce.bn21.bias (128,)
mff_oce.conv31 65.792K
mff_oce.conv31.weight (256,256,1,1)
mff_oce.conv31.bias (256,)
mff_oce.bn31 0.512K
mff_oce.bn31.weight (256,)
mff_oce.bn31.bias (256,)
mff_oce.convf 65.792K
mff_oce.convf.weight (256,256,1,1)
mff_oce.convf.bias (256,)
mff_oce.bnf 0.512K
mff_oce.bnf.weight (256,)
mff_oce.bnf.bias (256,)
net_s.layers_up 16.038M
net_s.layers_up.0.blocks.0 9.441M
net_s.layers_up.0.blocks.0.smm_blocks 7.561M
net_s.layers_up.0.blocks.0.smm_blocks.0 2.52M
net_s.layers_up.0.blocks.0.smm_blocks.0.ln_1 1.024K
net_s.layers_up.0.blocks.0.smm_blocks.0.self_attention 2.519M
net_s.layers_up.0.blocks.0.smm_blocks.1 2.52M
net_s.layers_up.0.blocks.0.smm_blocks.1.ln_1 1.024K
net_s.layers_up.0.blocks.0.smm_blocks.1.self_attention 2.519M
net_s.layers_up.0.blocks.0.smm_blocks.2 2.52M
net_s.layers_up.0.blocks.0.smm_blocks.2.ln_1 1.024K
net_s.layers_up.0.blocks.0.smm_blocks.2.self_attention 2.519M
net_s.layers_up.0.blocks.0.conv1b3 0.263M
net_s.layers_up.0.blocks.0.conv1b3.0 0.263M
net_s.layers_up.0.blocks.0.conv1b3.0.weight (512,512,1,1)
net_s.layers_up.0.blocks.0.conv1b3.0.bias (512,)
net_s.layers_up.0.blocks.0.conv1a3 0.263M
net_s.layers_up.0.blocks.0.conv1a3.0 0.263M
net_s.layers_up.0.blocks.0.conv1a3.0.weight (512,512,1,1)
net_s.layers_up.0.blocks.0.conv1a3.0.bias (512,)
net_s.layers_up.0.blocks.0.conv1b5 0.263M
net_s.layers_up.0.blocks.0.conv1b5.0 0.263M
net_s.layers_up.0.blocks.0.conv1b5.0.weight (512,512,1,1)
net_s.layers_up.0.blocks.0.conv1b5.0.bias (512,)
net_s.layers_up.0.blocks.0.conv1a5 0.263M
net_s.layers_up.0.blocks.0.conv1a5.0 0.263M
net_s.layers_up.0.blocks.0.conv1a5.0.weight (512,512,1,1)
net_s.layers_up.0.blocks.0.conv1a5.0.bias (512,)
net_s.layers_up.0.blocks.0.conv33.0 4.608K
net_s.layers_up.0.blocks.0.conv33.0.weight (512,1,3,3)
net_s.layers_up.0.blocks.0.conv55 12.8K
net_s.layers_up.0.blocks.0.conv55.0 12.8K
net_s.layers_up.0.blocks.0.conv55.0.weight (512,1,5,5)
net_s.layers_up.0.blocks.0.conv77 25.088K
net_s.layers_up.0.blocks.0.conv77.0 25.088K
net_s.layers_up.0.blocks.0.conv77.0.weight (512,1,7,7)
net_s.layers_up.0.blocks.0.finalconv11 0.787M
net_s.layers_up.0.blocks.0.finalconv11.weight (512,1536,1,1)
net_s.layers_up.0.blocks.0.finalconv11.bias (512,)
net_s.layers_up.1 4.432M
net_s.layers_up.1.blocks 3.908M
net_s.layers_up.1.blocks.0 1.954M
net_s.layers_up.1.blocks.0.smm_blocks 1.473M
net_s.layers_up.1.blocks.0.conv1b3 65.792K
net_s.layers_up.1.blocks.0.conv1a3 65.792K
net_s.layers_up.1.blocks.0.conv1b5 65.792K
net_s.layers_up.1.blocks.0.conv1a5 65.792K
net_s.layers_up.1.blocks.0.conv33.0 2.304K
net_s.layers_up.1.blocks.0.conv55 6.4K
net_s.layers_up.1.blocks.0.conv77 12.544K
net_s.layers_up.1.blocks.0.finalconv11 0.197M
net_s.layers_up.1.blocks.1 1.954M
net_s.layers_up.1.blocks.1.smm_blocks 1.473M
net_s.layers_up.1.blocks.1.conv1b3 65.792K
net_s.layers_up.1.blocks.1.conv1a3 65.792K
net_s.layers_up.1.blocks.1.conv1b5 65.792K
net_s.layers_up.1.blocks.1.conv1a5 65.792K
net_s.layers_up.1.blocks.1.conv33.0 2.304K
net_s.layers_up.1.blocks.1.conv55 6.4K
net_s.layers_up.1.blocks.1.conv77 12.544K
net_s.layers_up.1.blocks.1.finalconv11 0.197M
net_s.layers_up.1.upsample 0.525M
net_s.layers_up.1.upsample.expand 0.524M
net_s.layers_up.1.upsample.expand.weight (1024,512)
net_s.layers_up.1.upsample.norm 0.512K
net_s.layers_up.1.upsample.norm.weight (256,)
net_s.layers_up.1.upsample.norm.bias (256,)
net_s.layers_up.2 1.816M
net_s.layers_up.2.blocks 1.685M
net_s.layers_up.2.blocks.0 0.842M
net_s.layers_up.2.blocks.0.smm_blocks 0.717M
net_s.layers_up.2.blocks.0.conv1b3 16.512K
net_s.layers_up.2.blocks.0.conv1a3 16.512K
net_s.layers_up.2.blocks.0.conv1b5 16.512K
net_s.layers_up.2.blocks.0.conv1a5 16.512K
net_s.layers_up.2.blocks.0.conv33.0 1.152K
net_s.layers_up.2.blocks.0.conv55 3.2K
net_s.layers_up.2.blocks.0.conv77 6.272K
net_s.layers_up.2.blocks.0.finalconv11 49.28K
net_s.layers_up.2.blocks.1 0.842M
net_s.layers_up.2.blocks.1.smm_blocks 0.717M
net_s.layers_up.2.blocks.1.conv1b3 16.512K
net_s.layers_up.2.blocks.1.conv1a3 16.512K
net_s.layers_up.2.blocks.1.conv1b5 16.512K
net_s.layers_up.2.blocks.1.conv1a5 16.512K
net_s.layers_up.2.blocks.1.conv33.0 1.152K
net_s.layers_up.2.blocks.1.conv55 3.2K
net_s.layers_up.2.blocks.1.conv77 6.272K
net_s.layers_up.2.blocks.1.finalconv11 49.28K
net_s.layers_up.2.upsample 0.131M
net_s.layers_up.2.upsample.expand 0.131M
net_s.layers_up.2.upsample.expand.weight (512,256)
net_s.layers_up.2.upsample.norm 0.256K
net_s.layers_up.2.upsample.norm.weight (128,)
net_s.layers_up.2.upsample.norm.bias (128,)
net_s.layers_up.3 0.349M
net_s.layers_up.3.blocks.0 0.316M
net_s.layers_up.3.blocks.0.smm_blocks 0.281M
net_s.layers_up.3.blocks.0.smm_blocks.0 93.824K
net_s.layers_up.3.blocks.0.smm_blocks.1 93.824K
net_s.layers_up.3.blocks.0.smm_blocks.2 93.824K
net_s.layers_up.3.blocks.0.conv1b3 4.16K
net_s.layers_up.3.blocks.0.conv1b3.0 4.16K
net_s.layers_up.3.blocks.0.conv1a3 4.16K
net_s.layers_up.3.blocks.0.conv1a3.0 4.16K
net_s.layers_up.3.blocks.0.conv1b5 4.16K
net_s.layers_up.3.blocks.0.conv1b5.0 4.16K
net_s.layers_up.3.blocks.0.conv1a5 4.16K
net_s.layers_up.3.blocks.0.conv1a5.0 4.16K
net_s.layers_up.3.blocks.0.conv33.0 0.576K
net_s.layers_up.3.blocks.0.conv33.0.weight (64,1,3,3)
net_s.layers_up.3.blocks.0.conv55 1.6K
net_s.layers_up.3.blocks.0.conv55.0 1.6K
net_s.layers_up.3.blocks.0.conv77 3.136K
net_s.layers_up.3.blocks.0.conv77.0 3.136K
net_s.layers_up.3.blocks.0.finalconv11 12.352K
net_s.layers_up.3.blocks.0.finalconv11.weight (64,192,1,1)
net_s.layers_up.3.blocks.0.finalconv11.bias (64,)
net_s.layers_up.3.upsample 32.896K
net_s.layers_up.3.upsample.expand 32.768K
net_s.layers_up.3.upsample.expand.weight (256,128)
net_s.layers_up.3.upsample.norm 0.128K
net_s.layers_up.3.upsample.norm.weight (64,)
net_s.layers_up.3.upsample.norm.bias (64,)
net_s 16.038M
"""

EXACT = {"model": 25_666_624, "net_t": 8_170_304, "mff_oce": 1_458_304, "net_s": 16_038_016}


def counted(module: torch.nn.Module) -> int:
    """ADer's count: floating-point parameters plus integer tensors of more than one
    element (the scan orders), parameters or buffers."""
    floats = sum(p.numel() for p in module.parameters() if p.is_floating_point())
    tables = sum(t.numel() for t in [*module.parameters(), *module.buffers()]
                 if not t.is_floating_point() and t.numel() > 1)
    return floats + tables


@pytest.fixture(scope="module")
def model() -> MambaAD:
    with torch.device("meta"):
        return build(256, weights="none")


def test_size_format_matches_the_logs_examples() -> None:
    assert [fvcore_size(n) for n in (2_520_192, 25_666_624, 16_038_016)] == [
        "2.52M", "25.667M", "16.038M"]


def test_every_row_of_aders_table(model: MambaAD) -> None:
    rows = table_rows(ADER_MAMBAAD_TABLE)
    assert len(rows) == 213
    assert table_mismatches(model, rows, index_tables=True) == []
    # without the scan orders (39,296 entries) the counts that hold them are off
    assert ("model", "25.667M", "25.627M") in table_mismatches(model, rows)


def test_exact_totals_frozen_teacher_and_index_entries(model: MambaAD) -> None:
    assert counted(model) == EXACT["model"]
    for name in ("net_t", "mff_oce", "net_s"):
        assert counted(model.get_submodule(name)) == EXACT[name], name
    frozen = n_frozen(model)
    assert frozen == EXACT["net_t"]
    tables = [b for b in model.buffers() if not b.is_floating_point() and b.numel() > 1]
    assert sum(b.numel() for b in tables) == 39_296
    assert n_params(model.net_s) == 15_998_720
    stages = [counted(stage) for stage in model.net_s.layers_up]
    assert stages == [9_440_640, 4_432_384, 1_816_320, 348_672]


@pytest.mark.parametrize(("channels", "expected"), [(512, 2_520_064), (256, 735_744),
                                                     (128, 236_800), (64, 85_632)])
def test_ssm_layer_formula(model: MambaAD, channels: int, expected: int) -> None:
    """6C^2 + 32CR + 826C floating-point parameters per SSM layer, R = ceil(C / 16)."""
    stage = {512: 0, 256: 1, 128: 2, 64: 3}[channels]
    layer = model.get_submodule(f"net_s.layers_up.{stage}.blocks.0.smm_blocks.0")
    assert isinstance(layer, SSMLayer)
    # each `expected` is 6C^2 + 32CR + 826C worked out for its C, with R = ceil(C / 16)
    assert n_params(layer) == expected
