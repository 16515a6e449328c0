"""Reverse distillation: ADer's parameter table, shapes, loss and map against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fvcore_tables import n_frozen, n_params
from reference_ops import bilinear_align_corners
from scipy.ndimage import gaussian_filter

from baselines.models.rd import RDOutputs, ReverseDistillation, build
from baselines.registry import build_model

# ADer's fold-0 RD log (rd_coco_0_100e.log), module by module: the published parity target.
ADER_RD_PARAMETERS = {
    "model": "80.61M",
    "net_t": "24.863M",
    "net_t.conv1": "9.408K",
    "net_t.bn1": "0.128K",
    "net_t.layer1": "0.634M",
    "net_t.layer2": "3.483M",
    "net_t.layer3": "20.736M",
    "mff_oce": "30.83M",
    "mff_oce.bn_layer": "20.208M",
    "mff_oce.bn_layer.0": "11.282M",
    "mff_oce.bn_layer.0.conv1": "1.573M",
    "mff_oce.bn_layer.0.bn1": "1.024K",
    "mff_oce.bn_layer.0.conv2": "2.359M",
    "mff_oce.bn_layer.0.bn2": "1.024K",
    "mff_oce.bn_layer.0.conv3": "1.049M",
    "mff_oce.bn_layer.0.bn3": "4.096K",
    "mff_oce.bn_layer.0.downsample": "6.296M",
    "mff_oce.bn_layer.0.downsample.0": "6.291M",
    "mff_oce.bn_layer.0.downsample.1": "4.096K",
    "mff_oce.bn_layer.1": "4.463M",
    "mff_oce.bn_layer.2": "4.463M",
    "mff_oce.conv1": "1.18M",
    "mff_oce.bn1": "1.024K",
    "mff_oce.conv2": "4.719M",
    "mff_oce.bn2": "2.048K",
    "mff_oce.conv3": "4.719M",
    "mff_oce.bn3": "2.048K",
    "net_s": "24.918M",
    "net_s.layer1": "17.84M",
    "net_s.layer1.0": "11.016M",
    "net_s.layer1.0.conv1": "1.049M",
    "net_s.layer1.0.bn1": "1.024K",
    "net_s.layer1.0.conv2": "1.049M",
    "net_s.layer1.0.bn2": "1.024K",
    "net_s.layer1.0.conv3": "0.524M",
    "net_s.layer1.0.bn3": "2.048K",
    "net_s.layer1.0.upsample": "8.391M",
    "net_s.layer1.0.upsample.0": "8.389M",
    "net_s.layer1.0.upsample.1": "2.048K",
    "net_s.layer1.1": "3.412M",
    "net_s.layer1.2": "3.412M",
    "net_s.layer2": "5.318M",
    "net_s.layer2.0": "2.756M",
    "net_s.layer2.0.conv1": "0.262M",
    "net_s.layer2.0.bn1": "0.512K",
    "net_s.layer2.0.conv2": "0.262M",
    "net_s.layer2.0.bn2": "0.512K",
    "net_s.layer2.0.conv3": "0.131M",
    "net_s.layer2.0.bn3": "1.024K",
    "net_s.layer2.0.upsample": "2.098M",
    "net_s.layer2.0.upsample.0": "2.097M",
    "net_s.layer2.0.upsample.1": "1.024K",
    "net_s.layer2.1": "0.854M",
    "net_s.layer2.2": "0.854M",
    "net_s.layer2.3": "0.854M",
    "net_s.layer3": "1.76M",
    "net_s.layer3.0": "0.69M",
    "net_s.layer3.0.conv1": "65.536K",
    "net_s.layer3.0.bn1": "0.256K",
    "net_s.layer3.0.conv2": "65.536K",
    "net_s.layer3.0.bn2": "0.256K",
    "net_s.layer3.0.conv3": "32.768K",
    "net_s.layer3.0.bn3": "0.512K",
    "net_s.layer3.0.upsample": "0.525M",
    "net_s.layer3.0.upsample.0": "0.524M",
    "net_s.layer3.0.upsample.1": "0.512K",
    "net_s.layer3.1": "0.214M",
    "net_s.layer3.2": "0.214M",
    "net_s.layer3.3": "0.214M",
    "net_s.layer3.4": "0.214M",
    "net_s.layer3.5": "0.214M",
}


def ader_size(count: int) -> str:
    """A count as ADer's table prints it: K above 100, M above 1e5, G above 1e8, three
    decimals with trailing zeros dropped."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if count > scale / 10:
            return f"{count / scale:.3f}".rstrip("0").rstrip(".") + unit
    return str(count)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Small convs on a shared 2-core machine: two threads spin against each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def rd256() -> ReverseDistillation:
    with torch.device("meta"):  # counting and shapes need no storage nor computation
        return build(256, weights="none")


@pytest.fixture(scope="module")
def tiny() -> ReverseDistillation:
    torch.manual_seed(0)
    return build(64, weights="none", backbone="resnet18")


def test_size_format_matches_the_logs_examples() -> None:
    assert [ader_size(n) for n in (64, 128, 9408, 589824, 24862528, 80609600)] == [
        "64", "0.128K", "9.408K", "0.59M", "24.863M", "80.61M"
    ]


def test_parameter_counts_match_ader_module_by_module(rd256: ReverseDistillation) -> None:
    modules = dict(rd256.named_modules())
    counted = {
        name: ader_size(n_params(rd256 if name == "model" else modules[name]))
        for name in ADER_RD_PARAMETERS
    }
    assert counted == ADER_RD_PARAMETERS


def test_exact_totals_and_frozen_teacher(rd256: ReverseDistillation) -> None:
    frozen = n_frozen(rd256)
    assert frozen == n_params(rd256.net_t) == 24_862_528
    # mff_oce from the log's weight shapes: 3 fusion convs + BNs, then the bottlenecks.
    fusion = 512 * 256 * 9 + 1024 * 512 * 9 * 2 + 2 * (512 + 1024 * 2)
    first = 3072 * 512 + 512 * 512 * 9 + 512 * 2048 + 3072 * 2048 + 2 * (512 + 512 + 2 * 2048)
    other = 2048 * 512 + 512 * 512 * 9 + 512 * 2048 + 2 * (512 + 512 + 2048)
    assert n_params(rd256.mff_oce) == fusion + first + 2 * other
    trainable = sum(p.numel() for p in rd256.trainable_parameters())
    assert trainable == n_params(rd256.mff_oce) + n_params(rd256.net_s) == 55_747_072


def test_student_upsamples_with_2x2_deconvs(rd256: ReverseDistillation) -> None:
    shapes = {name: tuple(p.shape) for name, p in rd256.named_parameters()}
    assert shapes["net_s.layer1.0.conv2.weight"] == (512, 512, 2, 2)
    assert shapes["net_s.layer2.0.conv2.weight"] == (256, 256, 2, 2)
    assert shapes["net_s.layer3.0.conv2.weight"] == (128, 128, 2, 2)
    assert shapes["mff_oce.conv1.weight"] == (512, 256, 3, 3)
    assert shapes["mff_oce.bn_layer.0.downsample.0.weight"] == (2048, 3072, 1, 1)
    assert not any(name.endswith("conv1.bias") for name in shapes)


def test_feature_shapes_at_256(rd256: ReverseDistillation) -> None:
    with torch.device("meta"):
        out = rd256(torch.empty(2, 3, 256, 256))
        embedding = rd256.mff_oce(out.teacher)
    expected = [(2, 256, 64, 64), (2, 512, 32, 32), (2, 1024, 16, 16)]
    assert [tuple(f.shape) for f in out.teacher] == expected
    assert [tuple(f.shape) for f in out.student] == expected
    assert tuple(embedding.shape) == (2, 2048, 8, 8)


def test_tiny_forward_map_and_gradients(tiny: ReverseDistillation) -> None:
    out = tiny(torch.randn(2, 3, 64, 64))
    expected = [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)]
    assert [tuple(f.shape) for f in out.student] == expected
    assert [tuple(f.shape) for f in out.teacher] == expected
    assert not any(f.requires_grad for f in out.teacher)
    amap = tiny.anomaly_map(out)
    assert amap.shape == (2, 64, 64) and amap.dtype == torch.float32
    tiny.loss(out).backward()
    assert all(p.grad is not None for p in tiny.trainable_parameters())
    assert all(p.grad is None for p in tiny.net_t.parameters())
    tiny.zero_grad(set_to_none=True)


def test_channels_last_computes_the_same(tiny: ReverseDistillation) -> None:
    """channels_last changes only the memory layout. Compared in float64, so the
    different summation orders of the two layouts' kernels (which in float32 differ by
    ~1e-5 on some CPUs, e.g. AMD EPYC) stay far below a tolerance scaled to the values."""
    tiny.eval().double()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    try:
        plain = tiny(x)
        tiny.to(memory_format=torch.channels_last)
        last = tiny(x.contiguous(memory_format=torch.channels_last))
    finally:
        tiny.to(memory_format=torch.contiguous_format).float()
        tiny.train()
    for a, b in zip(plain.student, last.student, strict=True):
        scale = float(a.abs().max())
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10 * scale)
    torch.testing.assert_close(tiny.loss(plain), tiny.loss(last), rtol=1e-10, atol=1e-12)


def random_features(seed: int, dtype=torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(3, 8, 16, 16), (3, 16, 8, 8), (3, 32, 4, 4)]
    return [torch.randn(s, generator=g, dtype=dtype) for s in shapes]


def test_loss_hand_cases(tiny: ReverseDistillation) -> None:
    t = random_features(1)
    assert float(tiny.loss(RDOutputs(t, t))) == pytest.approx(0.0, abs=1e-12)
    assert float(tiny.loss(RDOutputs(t, [3.0 * f for f in t]))) == pytest.approx(0.0, abs=1e-12)
    assert float(tiny.loss(RDOutputs(t, [-f for f in t]))) == pytest.approx(6.0, abs=1e-12)
    # orthogonal: teacher lives on channel 0, student on channel 1 -> 1 per scale
    one_hot = [torch.zeros_like(f) for f in t]
    other = [torch.zeros_like(f) for f in t]
    for a, b in zip(one_hot, other, strict=True):
        a[:, 0], b[:, 1] = 1.0, 1.0
    assert float(tiny.loss(RDOutputs(one_hot, other))) == pytest.approx(3.0, abs=1e-12)


def test_loss_matches_per_sample_cosine_loop(tiny: ReverseDistillation) -> None:
    t, s = random_features(2), random_features(3)
    expected = 0.0
    for ft, fs in zip(t, s, strict=True):
        per_sample = []
        for b in range(ft.shape[0]):
            u, v = ft[b].numpy().ravel(), fs[b].numpy().ravel()
            per_sample.append(1.0 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
        expected += np.mean(per_sample)
    assert float(tiny.loss(RDOutputs(t, s))) == pytest.approx(expected, rel=1e-12)


def test_loss_is_float32_under_bfloat16_features(tiny: ReverseDistillation) -> None:
    t, s = random_features(4, torch.bfloat16), random_features(5, torch.bfloat16)
    loss = tiny.loss(RDOutputs(t, s))
    exact = tiny.loss(RDOutputs([f.double() for f in t], [f.double() for f in s]))
    assert loss.dtype == torch.float32
    assert float(loss) == pytest.approx(float(exact), rel=1e-5)


def test_anomaly_map_matches_numpy_scipy_transcription(tiny: ReverseDistillation) -> None:
    t, s = random_features(6), random_features(7)
    amap = tiny.anomaly_map(RDOutputs(t, s)).numpy()
    for b in range(t[0].shape[0]):
        total = np.zeros((64, 64))
        for ft, fs in zip(t, s, strict=True):
            u, v = ft[b].numpy(), fs[b].numpy()  # (C, H, W)
            cosine = (u * v).sum(0) / (np.linalg.norm(u, axis=0) * np.linalg.norm(v, axis=0))
            total += bilinear_align_corners(1.0 - cosine, 64)
        expected = gaussian_filter(total, sigma=4, truncate=4.0, mode="reflect")
        np.testing.assert_allclose(amap[b], expected, rtol=0, atol=2e-6)


def test_anomaly_map_is_zero_when_the_student_matches(tiny: ReverseDistillation) -> None:
    t = random_features(8)
    assert float(tiny.anomaly_map(RDOutputs(t, t)).abs().max()) < 1e-6


def test_image_size_must_be_a_multiple_of_32() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        build(100, weights="none", backbone="resnet18")


def test_short_cpu_training_lowers_the_loss() -> None:
    torch.manual_seed(0)
    model = build_model("rd", image_size=64, weights="none", backbone="resnet18")
    assert isinstance(model, ReverseDistillation)
    model.train()
    assert not model.net_t.training  # the teacher's BN statistics stay frozen
    optimiser = torch.optim.Adam(model.trainable_parameters(), lr=5e-3, betas=(0.5, 0.999))
    images = torch.randn(4, 3, 64, 64)
    losses = []
    for _ in range(12):
        loss = model.loss(model(images))
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), 5.0)
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_forward_loss_and_map_compile_without_graph_breaks(tiny: ReverseDistillation) -> None:
    def step(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = tiny(images)
        return tiny.loss(out), tiny.anomaly_map(out)

    explanation = torch._dynamo.explain(step)(torch.randn(2, 3, 64, 64))
    assert explanation.graph_break_count == 0, explanation.break_reasons


def test_loss_and_map_stay_exact_under_autocast(tiny: ReverseDistillation) -> None:
    t, s = random_features(9, torch.float32), random_features(10, torch.float32)
    exact_loss, exact_map = tiny.loss(RDOutputs(t, s)), tiny.anomaly_map(RDOutputs(t, s))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, amap = tiny.loss(RDOutputs(t, s)), tiny.anomaly_map(RDOutputs(t, s))
    assert loss.dtype == amap.dtype == torch.float32
    torch.testing.assert_close(loss, exact_loss, rtol=0, atol=1e-7)
    torch.testing.assert_close(amap, exact_map, rtol=0, atol=1e-7)
