"""Parity with ADer's published InvAD / InvAD-lite module tables, module by module.

The tables below are the "#parameters or shape" column of the fvcore tables printed in
ADer's fold-0 COCO-AD training logs (invad_coco_0_100e.log, invad-lite_coco_0_100e.log):
every row of the fuser and the decoder, and the encoder down to its stages. fvcore
prints counts with three decimals in K (> 1e2) or M (> 1e5) and parameter shapes in
parentheses; we format our counts the same way and compare strings, and compare shapes
exactly. Built with random weights at 256 x 256 (no download).
"""

from __future__ import annotations

import pytest
import torch
from fvcore_tables import fvcore_size, table_mismatches, table_rows

from baselines import build_model

INVAD_TABLE = """
model 95.631M
net_encoder 24.863M
net_encoder.conv1 9.408K
net_encoder.bn1 0.128K
net_encoder.layer1 0.634M
net_encoder.layer2 3.483M
net_encoder.layer3 20.736M
net_fuser 3.492M
net_fuser.downsamples 3.151M
net_fuser.downsamples.0 1.049M
net_fuser.downsamples.0.conv 1.049M
net_fuser.downsamples.0.conv.weight (256,256,4,4)
net_fuser.downsamples.0.conv.bias (256,)
net_fuser.downsamples.0.norm 0.512K
net_fuser.downsamples.0.norm.weight (256,)
net_fuser.downsamples.0.norm.bias (256,)
net_fuser.downsamples.1 1.05M
net_fuser.downsamples.1.conv 1.049M
net_fuser.downsamples.1.conv.weight (512,512,2,2)
net_fuser.downsamples.1.conv.bias (512,)
net_fuser.downsamples.1.norm 1.024K
net_fuser.downsamples.1.norm.weight (512,)
net_fuser.downsamples.1.norm.bias (512,)
net_fuser.downsamples.2 1.052M
net_fuser.downsamples.2.conv 1.05M
net_fuser.downsamples.2.conv.weight (1024,1024,1,1)
net_fuser.downsamples.2.conv.bias (1024,)
net_fuser.downsamples.2.norm 2.048K
net_fuser.downsamples.2.norm.weight (1024,)
net_fuser.downsamples.2.norm.bias (1024,)
net_fuser.conv_cat 0.115M
net_fuser.conv_cat.conv 0.115M
net_fuser.conv_cat.conv.weight (64,1792,1,1)
net_fuser.conv_cat.norm 0.128K
net_fuser.conv_cat.norm.weight (64,)
net_fuser.conv_cat.norm.bias (64,)
net_fuser.conv_bottle.0 4.544K
net_fuser.conv_bottle.0.conv1 1.024K
net_fuser.conv_bottle.0.conv1.weight (16,64,1,1)
net_fuser.conv_bottle.0.bn1 32
net_fuser.conv_bottle.0.bn1.weight (16,)
net_fuser.conv_bottle.0.bn1.bias (16,)
net_fuser.conv_bottle.0.conv2 2.304K
net_fuser.conv_bottle.0.conv2.weight (16,16,3,3)
net_fuser.conv_bottle.0.bn2 32
net_fuser.conv_bottle.0.bn2.weight (16,)
net_fuser.conv_bottle.0.bn2.bias (16,)
net_fuser.conv_bottle.0.conv3 1.024K
net_fuser.conv_bottle.0.conv3.weight (64,16,1,1)
net_fuser.conv_bottle.0.bn3 0.128K
net_fuser.conv_bottle.0.bn3.weight (64,)
net_fuser.conv_bottle.0.bn3.bias (64,)
net_fuser.convs 0.222M
net_fuser.convs.0 73.856K
net_fuser.convs.0.0 36.928K
net_fuser.convs.0.0.0 36.864K
net_fuser.convs.0.0.1 64
net_fuser.convs.0.1 36.928K
net_fuser.convs.0.1.0 36.864K
net_fuser.convs.0.1.1 64
net_fuser.convs.1 73.856K
net_fuser.convs.1.0 36.928K
net_fuser.convs.1.0.0 36.864K
net_fuser.convs.1.0.2 64
net_fuser.convs.1.1 36.928K
net_fuser.convs.1.1.0 36.864K
net_fuser.convs.1.1.1 64
net_fuser.convs.2 73.856K
net_fuser.convs.2.0 36.928K
net_fuser.convs.2.0.0 36.864K
net_fuser.convs.2.0.2 64
net_fuser.convs.2.1 36.928K
net_fuser.convs.2.1.0 36.864K
net_fuser.convs.2.1.1 64
net_decoder 67.277M
net_decoder.input 0.262M
net_decoder.input.input (1,1024,16,16)
net_decoder.conv1.0 9.438M
net_decoder.conv1.0.0 9.437M
net_decoder.conv1.0.0.weight (1024,1024,3,3)
net_decoder.conv1.0.1 1.024K
net_decoder.conv1.0.1.bias (1024,)
net_decoder.convs_latent 0.138M
net_decoder.convs_latent.0 46.16K
net_decoder.convs_latent.0.0 36.928K
net_decoder.convs_latent.0.0.0 36.864K
net_decoder.convs_latent.0.0.1 64
net_decoder.convs_latent.0.1 9.232K
net_decoder.convs_latent.0.1.0 9.216K
net_decoder.convs_latent.0.1.1 16
net_decoder.convs_latent.1 46.16K
net_decoder.convs_latent.1.0 36.928K
net_decoder.convs_latent.1.0.0 36.864K
net_decoder.convs_latent.1.0.1 64
net_decoder.convs_latent.1.1 9.232K
net_decoder.convs_latent.1.1.0 9.216K
net_decoder.convs_latent.1.1.1 16
net_decoder.convs_latent.2 46.16K
net_decoder.convs_latent.2.0 36.928K
net_decoder.convs_latent.2.0.0 36.864K
net_decoder.convs_latent.2.0.1 64
net_decoder.convs_latent.2.1 9.232K
net_decoder.convs_latent.2.1.0 9.216K
net_decoder.convs_latent.2.1.1 16
net_decoder.convs 57.438M
net_decoder.convs.0 41.038M
net_decoder.convs.0.0 20.519M
net_decoder.convs.0.0.conv1 9.735M
net_decoder.convs.0.0.conv2 9.735M
net_decoder.convs.0.0.skip.0 1.049M
net_decoder.convs.0.1 20.519M
net_decoder.convs.0.1.conv1 9.735M
net_decoder.convs.0.1.conv2 9.735M
net_decoder.convs.0.1.skip.0 1.049M
net_decoder.convs.1 13.03M
net_decoder.convs.1.0 7.752M
net_decoder.convs.1.0.conv1 4.719M
net_decoder.convs.1.0.conv2 2.508M
net_decoder.convs.1.0.skip.0 0.524M
net_decoder.convs.1.1 5.279M
net_decoder.convs.1.1.conv1 2.508M
net_decoder.convs.1.1.conv2 2.508M
net_decoder.convs.1.1.skip.0 0.262M
net_decoder.convs.2 3.369M
net_decoder.convs.2.0 1.975M
net_decoder.convs.2.0.conv1 1.18M
net_decoder.convs.2.0.conv2 0.664M
net_decoder.convs.2.0.skip.0 0.131M
net_decoder.convs.2.1 1.394M
net_decoder.convs.2.1.conv1 0.664M
net_decoder.convs.2.1.conv2 0.664M
net_decoder.convs.2.1.skip.0 65.536K
"""

INVAD_LITE_TABLE = """
model 17.147M
net_encoder 8.17M
net_encoder.conv1 9.408K
net_encoder.bn1 0.128K
net_encoder.layer1 0.222M
net_encoder.layer2 1.116M
net_encoder.layer3 6.822M
net_fuser 0.453M
net_fuser.downsamples 0.198M
net_fuser.downsamples.0 65.728K
net_fuser.downsamples.0.conv 65.6K
net_fuser.downsamples.0.conv.weight (64,64,4,4)
net_fuser.downsamples.0.conv.bias (64,)
net_fuser.downsamples.0.norm 0.128K
net_fuser.downsamples.0.norm.weight (64,)
net_fuser.downsamples.0.norm.bias (64,)
net_fuser.downsamples.1 65.92K
net_fuser.downsamples.1.conv 65.664K
net_fuser.downsamples.1.conv.weight (128,128,2,2)
net_fuser.downsamples.1.conv.bias (128,)
net_fuser.downsamples.1.norm 0.256K
net_fuser.downsamples.1.norm.weight (128,)
net_fuser.downsamples.1.norm.bias (128,)
net_fuser.downsamples.2 66.304K
net_fuser.downsamples.2.conv 65.792K
net_fuser.downsamples.2.conv.weight (256,256,1,1)
net_fuser.downsamples.2.conv.bias (256,)
net_fuser.downsamples.2.norm 0.512K
net_fuser.downsamples.2.norm.weight (256,)
net_fuser.downsamples.2.norm.bias (256,)
net_fuser.conv_cat 28.8K
net_fuser.conv_cat.conv 28.672K
net_fuser.conv_cat.conv.weight (64,448,1,1)
net_fuser.conv_cat.norm 0.128K
net_fuser.conv_cat.norm.weight (64,)
net_fuser.conv_cat.norm.bias (64,)
net_fuser.conv_bottle.0 4.544K
net_fuser.conv_bottle.0.conv1 1.024K
net_fuser.conv_bottle.0.conv1.weight (16,64,1,1)
net_fuser.conv_bottle.0.bn1 32
net_fuser.conv_bottle.0.bn1.weight (16,)
net_fuser.conv_bottle.0.bn1.bias (16,)
net_fuser.conv_bottle.0.conv2 2.304K
net_fuser.conv_bottle.0.conv2.weight (16,16,3,3)
net_fuser.conv_bottle.0.bn2 32
net_fuser.conv_bottle.0.bn2.weight (16,)
net_fuser.conv_bottle.0.bn2.bias (16,)
net_fuser.conv_bottle.0.conv3 1.024K
net_fuser.conv_bottle.0.conv3.weight (64,16,1,1)
net_fuser.conv_bottle.0.bn3 0.128K
net_fuser.conv_bottle.0.bn3.weight (64,)
net_fuser.conv_bottle.0.bn3.bias (64,)
net_fuser.convs 0.222M
net_fuser.convs.0 73.856K
net_fuser.convs.0.0 36.928K
net_fuser.convs.0.0.0 36.864K
net_fuser.convs.0.0.1 64
net_fuser.convs.0.1 36.928K
net_fuser.convs.0.1.0 36.864K
net_fuser.convs.0.1.1 64
net_fuser.convs.1 73.856K
net_fuser.convs.1.0 36.928K
net_fuser.convs.1.0.0 36.864K
net_fuser.convs.1.0.2 64
net_fuser.convs.1.1 36.928K
net_fuser.convs.1.1.0 36.864K
net_fuser.convs.1.1.1 64
net_fuser.convs.2 73.856K
net_fuser.convs.2.0 36.928K
net_fuser.convs.2.0.0 36.864K
net_fuser.convs.2.0.2 64
net_fuser.convs.2.1 36.928K
net_fuser.convs.2.1.0 36.864K
net_fuser.convs.2.1.1 64
net_decoder 8.523M
net_decoder.input 65.536K
net_decoder.input.input (1,256,16,16)
net_decoder.conv1.0 0.59M
net_decoder.conv1.0.0 0.59M
net_decoder.conv1.0.0.weight (256,256,3,3)
net_decoder.conv1.0.1 0.256K
net_decoder.conv1.0.1.bias (256,)
net_decoder.convs_latent 0.138M
net_decoder.convs_latent.0 46.16K
net_decoder.convs_latent.0.0 36.928K
net_decoder.convs_latent.0.0.0 36.864K
net_decoder.convs_latent.0.0.1 64
net_decoder.convs_latent.0.1 9.232K
net_decoder.convs_latent.0.1.0 9.216K
net_decoder.convs_latent.0.1.1 16
net_decoder.convs_latent.1 46.16K
net_decoder.convs_latent.1.0 36.928K
net_decoder.convs_latent.1.0.0 36.864K
net_decoder.convs_latent.1.0.1 64
net_decoder.convs_latent.1.1 9.232K
net_decoder.convs_latent.1.1.0 9.216K
net_decoder.convs_latent.1.1.1 16
net_decoder.convs_latent.2 46.16K
net_decoder.convs_latent.2.0 36.928K
net_decoder.convs_latent.2.0.0 36.864K
net_decoder.convs_latent.2.0.1 64
net_decoder.convs_latent.2.1 9.232K
net_decoder.convs_latent.2.1.0 9.216K
net_decoder.convs_latent.2.1.1 16
net_decoder.convs 7.729M
net_decoder.convs.0 5.577M
net_decoder.convs.0.0 1.394M
net_decoder.convs.0.0.conv1 0.664M
net_decoder.convs.0.0.conv2 0.664M
net_decoder.convs.0.0.skip.0 65.536K
net_decoder.convs.0.1 1.394M
net_decoder.convs.0.1.conv1 0.664M
net_decoder.convs.0.1.conv2 0.664M
net_decoder.convs.0.1.skip.0 65.536K
net_decoder.convs.0.2 1.394M
net_decoder.convs.0.2.conv1 0.664M
net_decoder.convs.0.2.conv2 0.664M
net_decoder.convs.0.2.skip.0 65.536K
net_decoder.convs.0.3 1.394M
net_decoder.convs.0.3.conv1 0.664M
net_decoder.convs.0.3.conv2 0.664M
net_decoder.convs.0.3.skip.0 65.536K
net_decoder.convs.1 1.67M
net_decoder.convs.1.0 0.513M
net_decoder.convs.1.0.conv1 0.295M
net_decoder.convs.1.0.conv2 0.185M
net_decoder.convs.1.0.skip.0 32.768K
net_decoder.convs.1.1 0.386M
net_decoder.convs.1.1.conv1 0.185M
net_decoder.convs.1.1.conv2 0.185M
net_decoder.convs.1.1.skip.0 16.384K
net_decoder.convs.1.2 0.386M
net_decoder.convs.1.2.conv1 0.185M
net_decoder.convs.1.2.conv2 0.185M
net_decoder.convs.1.2.skip.0 16.384K
net_decoder.convs.1.3 0.386M
net_decoder.convs.1.3.conv1 0.185M
net_decoder.convs.1.3.conv2 0.185M
net_decoder.convs.1.3.skip.0 16.384K
net_decoder.convs.2 0.483M
net_decoder.convs.2.0 0.137M
net_decoder.convs.2.0.conv1 73.792K
net_decoder.convs.2.0.conv2 55.488K
net_decoder.convs.2.0.skip.0 8.192K
net_decoder.convs.2.1 0.115M
net_decoder.convs.2.1.conv1 55.488K
net_decoder.convs.2.1.conv2 55.488K
net_decoder.convs.2.1.skip.0 4.096K
net_decoder.convs.2.2 0.115M
net_decoder.convs.2.2.conv1 55.488K
net_decoder.convs.2.2.conv2 55.488K
net_decoder.convs.2.2.skip.0 4.096K
net_decoder.convs.2.3 0.115M
net_decoder.convs.2.3.conv1 55.488K
net_decoder.convs.2.3.conv2 55.488K
net_decoder.convs.2.3.skip.0 4.096K
"""


def test_fvcore_size_formats_like_the_logs() -> None:
    assert fvcore_size(95_631_088) == "95.631M"
    assert fvcore_size(1_050_112) == "1.05M"
    assert fvcore_size(65_536) == "65.536K"
    assert fvcore_size(128) == "0.128K"
    assert fvcore_size(64) == "64"


@pytest.fixture(scope="module", params=[("invad", INVAD_TABLE), ("invad-lite", INVAD_LITE_TABLE)],
                ids=["invad", "invad-lite"])
def built(request):
    name, table = request.param
    torch.manual_seed(0)
    return build_model(name, image_size=256, weights="none"), table_rows(table)


def test_every_table_row_matches(built) -> None:
    model, rows = built
    assert not table_mismatches(model, rows)


def test_every_parameter_is_in_a_table_module(built) -> None:
    """The table's top-level modules hold all our parameters: nothing extra hides outside."""
    model, _ = built
    tops = {name.split(".")[0] for name, _ in model.named_parameters()}
    assert tops == {"net_encoder", "net_fuser", "net_decoder"}


def test_only_the_encoder_is_frozen(built) -> None:
    model, _ = built
    trainable = {id(p) for p in model.trainable_parameters()}
    for name, parameter in model.named_parameters():
        assert (id(parameter) in trainable) == (not name.startswith("net_encoder")), name


def test_output_shapes_at_256(built) -> None:
    model, _ = built
    channels = model.net_encoder.channels
    model.eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 256, 256))
        loss = model.loss(outputs)
        maps = model.anomaly_map(outputs)
    expected = [(1, c, s, s) for c, s in zip(channels, (64, 32, 16), strict=True)]
    assert [tuple(f.shape) for f in outputs.encoder] == expected
    assert [tuple(f.shape) for f in outputs.decoder] == expected
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert maps.shape == (1, 256, 256) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all()
