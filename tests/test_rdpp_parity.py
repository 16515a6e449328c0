"""Parity with ADer's published RD++ module table (rdpp_coco_0_100e.log), and builds at
other sizes.

TABLE is the "#parameters or shape" column of the fvcore table printed in ADer's fold-0
COCO-AD RD++ log: every row of the projection layers (their weight and bias shapes
included), the fusion and the student down to their blocks, the teacher down to its
stages, compared by `fvcore_tables.table_mismatches` (counts formatted as fvcore prints
them, shapes exactly). The exact totals are those the specification derives from the
log's weight shapes.
"""

from __future__ import annotations

import pytest
import torch
from fvcore_tables import n_frozen, n_params, table_mismatches, table_rows

from baselines import build_model
from baselines.models.rdpp import ReverseDistillationPP

TABLE = """
model 96.097M
net_t 24.863M
net_t.conv1 9.408K
net_t.bn1 0.128K
net_t.layer1 0.634M
net_t.layer2 3.483M
net_t.layer3 20.736M
mff_oce 30.83M
mff_oce.bn_layer 20.208M
mff_oce.bn_layer.0 11.282M
mff_oce.bn_layer.1 4.463M
mff_oce.bn_layer.2 4.463M
mff_oce.conv1 1.18M
mff_oce.bn1 1.024K
mff_oce.conv2 4.719M
mff_oce.bn2 2.048K
mff_oce.conv3 4.719M
mff_oce.bn3 2.048K
proj_layer 15.487M
proj_layer.proj_a.proj 0.738M
proj_layer.proj_a.proj.0 0.295M
proj_layer.proj_a.proj.0.weight (128,256,3,3)
proj_layer.proj_a.proj.0.bias (128,)
proj_layer.proj_a.proj.3 73.792K
proj_layer.proj_a.proj.3.weight (64,128,3,3)
proj_layer.proj_a.proj.3.bias (64,)
proj_layer.proj_a.proj.6 73.856K
proj_layer.proj_a.proj.6.weight (128,64,3,3)
proj_layer.proj_a.proj.6.bias (128,)
proj_layer.proj_a.proj.9 0.295M
proj_layer.proj_a.proj.9.weight (256,128,3,3)
proj_layer.proj_a.proj.9.bias (256,)
proj_layer.proj_b.proj 2.95M
proj_layer.proj_b.proj.0 1.18M
proj_layer.proj_b.proj.0.weight (256,512,3,3)
proj_layer.proj_b.proj.0.bias (256,)
proj_layer.proj_b.proj.3 0.295M
proj_layer.proj_b.proj.3.weight (128,256,3,3)
proj_layer.proj_b.proj.3.bias (128,)
proj_layer.proj_b.proj.6 0.295M
proj_layer.proj_b.proj.6.weight (256,128,3,3)
proj_layer.proj_b.proj.6.bias (256,)
proj_layer.proj_b.proj.9 1.18M
proj_layer.proj_b.proj.9.weight (512,256,3,3)
proj_layer.proj_b.proj.9.bias (512,)
proj_layer.proj_c.proj 11.799M
proj_layer.proj_c.proj.0 4.719M
proj_layer.proj_c.proj.0.weight (512,1024,3,3)
proj_layer.proj_c.proj.0.bias (512,)
proj_layer.proj_c.proj.3 1.18M
proj_layer.proj_c.proj.3.weight (256,512,3,3)
proj_layer.proj_c.proj.3.bias (256,)
proj_layer.proj_c.proj.6 1.18M
proj_layer.proj_c.proj.6.weight (512,256,3,3)
proj_layer.proj_c.proj.6.bias (512,)
proj_layer.proj_c.proj.9 4.72M
proj_layer.proj_c.proj.9.weight (1024,512,3,3)
proj_layer.proj_c.proj.9.bias (1024,)
net_s 24.918M
net_s.layer1 17.84M
net_s.layer1.0 11.016M
net_s.layer1.1 3.412M
net_s.layer1.2 3.412M
net_s.layer2 5.318M
net_s.layer2.0 2.756M
net_s.layer2.1 0.854M
net_s.layer2.2 0.854M
net_s.layer2.3 0.854M
net_s.layer3 1.76M
net_s.layer3.0 0.69M
net_s.layer3.1 0.214M
net_s.layer3.2 0.214M
net_s.layer3.3 0.214M
net_s.layer3.4 0.214M
net_s.layer3.5 0.214M
"""

EXACT = {"model": 96_096_512, "net_t": 24_862_528, "mff_oce": 30_829_568,
         "proj_layer": 15_486_912, "net_s": 24_917_504,
         "proj_layer.proj_a": 737_856, "proj_layer.proj_b": 2_950_272,
         "proj_layer.proj_c": 11_798_784}


@pytest.fixture(scope="module")
def rdpp256() -> ReverseDistillationPP:
    with torch.device("meta"):  # counting needs no storage
        model = build_model("rdpp", image_size=256, weights="none")
    assert isinstance(model, ReverseDistillationPP)
    return model


def test_every_table_row_matches(rdpp256: ReverseDistillationPP) -> None:
    assert table_mismatches(rdpp256, table_rows(TABLE)) == []


def test_exact_counts_and_frozen_teacher(rdpp256: ReverseDistillationPP) -> None:
    modules = dict(rdpp256.named_modules())
    counted = {name: n_params(rdpp256 if name == "model" else modules[name]) for name in EXACT}
    assert counted == EXACT
    frozen = n_frozen(rdpp256)
    assert frozen == n_params(rdpp256.net_t) == 24_862_528
    tops = {name.split(".")[0] for name, _ in rdpp256.named_parameters()}
    assert tops == {"net_t", "mff_oce", "proj_layer", "net_s"}
    # no integer tensor of more than one element anywhere (they would count in ADer's table)
    assert all(t.is_floating_point() or t.numel() <= 1
               for t in [*rdpp256.parameters(), *rdpp256.buffers()])


def test_projection_norms_have_no_parameters_nor_statistics(rdpp256: ReverseDistillationPP
                                                            ) -> None:
    for index in (1, 4, 7, 10):
        norm = rdpp256.proj_layer.proj_c.proj[index]
        assert isinstance(norm, torch.nn.InstanceNorm2d)
        assert (norm.affine, norm.track_running_stats, norm.eps) == (False, False, 1e-5)
    for index in (2, 5, 8, 11):
        activation = rdpp256.proj_layer.proj_a.proj[index]
        assert isinstance(activation, torch.nn.LeakyReLU) and activation.negative_slope == 0.01


@pytest.mark.parametrize(("size", "backbone"), [(64, "wide_resnet50_2"), (128, "resnet18")])
def test_builds_and_trains_at_other_sizes(size: int, backbone: str) -> None:
    torch.manual_seed(0)
    model = build_model("rdpp", image_size=size, weights="none", backbone=backbone)
    assert isinstance(model, ReverseDistillationPP)
    channels = model.net_t.channels
    assert model.noise_texture.shape == (3, size // 8 - 1, size // 8 - 1)
    model.train()
    outputs = model(torch.randn(2, 3, size, size))
    expected = [(2, c, size // s, size // s) for c, s in zip(channels, (4, 8, 16), strict=True)]
    for features in (outputs.teacher, outputs.student, outputs.teacher_noisy, outputs.projected,
                     outputs.projected_noisy):
        assert [tuple(f.shape) for f in features] == expected
    model.loss(outputs).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in model.trainable_parameters())
    model.eval()
    with torch.no_grad():
        maps = model.anomaly_map(model(torch.randn(1, 3, size, size)))
    assert maps.shape == (1, size, size) and maps.dtype == torch.float32


def test_image_size_must_be_a_multiple_of_32() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        build_model("rdpp", image_size=96 + 16, weights="none", backbone="resnet18")
