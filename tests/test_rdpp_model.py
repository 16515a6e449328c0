"""RD++'s model: loss, map and projection against plain transcriptions written here, the
train and eval forward passes, the parameter groups, the refresh of skipped batches, the
checkpointed noise texture and local teacher weights."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from reference_ops import bilinear_align_corners
from scipy.ndimage import gaussian_filter

from baselines.models.rdpp import RDPPOutputs, ReverseDistillationPP
from baselines.models.rdpp.losses import contrast_loss, projection_loss
from baselines.models.rdpp.noise import add_noise_patches
from baselines.models.rdpp.projection import ScaleProjection
from baselines.registry import build_model
from baselines.training import load_trainable_state, trainable_state

SIZE = 64


def tiny_model(seed: int = 0) -> ReverseDistillationPP:
    torch.manual_seed(seed)
    model = build_model("rdpp", image_size=SIZE, weights="none", backbone="resnet18")
    assert isinstance(model, ReverseDistillationPP)
    return model


@pytest.fixture(scope="module")
def tiny() -> ReverseDistillationPP:
    return tiny_model()


def random_features(seed: int, dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype)
            for s in [(3, 8, 16, 16), (3, 16, 8, 8), (3, 32, 4, 4)]]


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def loss_by_formula(t, s, t_noisy, p, p_noisy) -> float:
    """L_rd + 0.2 * (0.01 * L_rec + 0.1 * L_con) / 1.11, one sample and pixel at a time."""
    l_rd = l_rec = l_con = 0.0
    for scale in range(3):
        batch, _, height, width = t[scale].shape
        l_rd += float(np.mean([1 - cosine(t[scale][b].numpy().ravel(), s[scale][b].numpy().ravel())
                         for b in range(batch)]))
        l_rec += float(np.mean([1 - cosine(p_noisy[scale][b, :, i, j].numpy(),
                                     p[scale][b, :, i, j].numpy())
                          for b in range(batch) for i in range(height) for j in range(width)]))
        l_con += float(np.mean([max(0.0, cosine(t_noisy[scale][b].numpy().ravel(),
                                          p[scale][b].numpy().ravel()) - 0.5)
                          for b in range(batch)]))
    return l_rd + 0.2 * (0.01 * l_rec + 0.1 * l_con) / 1.11


def test_loss_matches_the_formula(tiny: ReverseDistillationPP) -> None:
    t, s, t_noisy, p_noisy = (random_features(k) for k in range(4))
    # P close to T~ for some samples: their contrast term is active (cos > 0.5)
    p = [torch.cat([tn[:2] + 0.3 * q[:2], q[2:]]) for tn, q in zip(t_noisy, random_features(9),
                                                                    strict=True)]
    outputs = RDPPOutputs(t, s, t_noisy, p, p_noisy)
    assert float(contrast_loss(t_noisy, p)) > 0.5  # the hinge is not idle
    assert float(tiny.loss(outputs)) == pytest.approx(loss_by_formula(t, s, t_noisy, p, p_noisy),
                                                      rel=1e-12)


def test_contrast_term_is_pytorchs_cosine_embedding_loss() -> None:
    t_noisy, noise = random_features(1), random_features(2)
    p = [tn + k * q for k, (tn, q) in enumerate(zip(t_noisy, noise, strict=True))]
    reference = torch.nn.CosineEmbeddingLoss(margin=0.5)
    expected = sum(reference(tn.flatten(1), q.flatten(1), -torch.ones(len(tn)))
                   for tn, q in zip(t_noisy, p, strict=True))
    assert float(contrast_loss(t_noisy, p)) == pytest.approx(float(expected), rel=1e-12)


def test_loss_needs_a_train_mode_forward(tiny: ReverseDistillationPP) -> None:
    t = random_features(3)
    with pytest.raises(ValueError, match="train-mode"):
        tiny.loss(RDPPOutputs(t, t))


def test_anomaly_map_matches_numpy_scipy_transcription(tiny: ReverseDistillationPP) -> None:
    t, s = random_features(6), random_features(7)
    maps = tiny.anomaly_map(RDPPOutputs(t, s)).numpy()
    assert maps.dtype == np.float32
    for b in range(3):
        total = np.zeros((SIZE, SIZE))
        for ft, fs in zip(t, s, strict=True):
            u, v = ft[b].numpy(), fs[b].numpy()
            cos = (u * v).sum(0) / (np.linalg.norm(u, axis=0) * np.linalg.norm(v, axis=0))
            total += bilinear_align_corners(1.0 - cos, SIZE)
        expected = gaussian_filter(total / 9, sigma=4, truncate=4.0, mode="reflect")
        np.testing.assert_allclose(maps[b], expected, rtol=0, atol=3e-7)


def test_projection_is_four_conv_instancenorm_leakyrelu_layers() -> None:
    torch.manual_seed(1)
    projection = ScaleProjection(16).double()
    x = torch.randn(2, 16, 8, 8, dtype=torch.float64)
    expected, widths = x, []
    for index in (0, 3, 6, 9):
        conv = projection.proj[index]
        assert isinstance(conv, torch.nn.Conv2d)
        y = F.conv2d(expected, conv.weight, conv.bias, padding=1)
        mean = y.mean(dim=(2, 3), keepdim=True)
        variance = ((y - mean) ** 2).mean(dim=(2, 3), keepdim=True)  # biased, per sample
        y = (y - mean) / torch.sqrt(variance + 1e-5)
        expected = torch.where(y > 0, y, 0.01 * y)
        widths.append(y.shape[1])
    assert widths == [8, 4, 8, 16]
    torch.testing.assert_close(projection(x), expected, rtol=1e-12, atol=1e-12)


def test_eval_forward_is_clean_and_draws_nothing(tiny: ReverseDistillationPP) -> None:
    tiny.eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    state = torch.get_rng_state()
    with torch.no_grad():
        out = tiny(x)
        expected = tiny.net_s(tiny.mff_oce(tiny.proj_layer(tiny.net_t(x))))
    assert torch.equal(torch.get_rng_state(), state)
    assert out.teacher_noisy is None and out.projected is None and out.projected_noisy is None
    for a, b in zip(out.student, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_train_forward_adds_noise_patches_drawn_from_torch() -> None:
    """The recomputations run the same modules on the same tensors (same batch size) as
    the forward pass, so the same kernels run and the values are equal bit for bit on
    any CPU (recording for autograd selects no other kernel)."""
    model = tiny_model()
    model.train()
    x = torch.randn(3, 3, SIZE, SIZE)
    torch.manual_seed(8)
    out = model(x)
    torch.manual_seed(8)
    noisy = add_noise_patches(x, model.noise_texture, model.min_patch_side, model.noise_scale)
    assert not torch.equal(noisy, x)
    with torch.no_grad():
        teacher_noisy = model.net_t(noisy)
        for got, want in zip(out.teacher_noisy, teacher_noisy, strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        for got, want in zip(out.projected_noisy, model.proj_layer(teacher_noisy), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        for got, want in zip(out.projected, model.proj_layer(model.net_t(x)), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_gradients_reach_every_trainable_tensor_and_projection_loss_only_the_projection(
) -> None:
    model = tiny_model()
    model.train()
    out = model(torch.randn(2, 3, SIZE, SIZE))
    names, parameters = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad],
                            strict=True)
    from_projection_loss = torch.autograd.grad(
        projection_loss(out.teacher_noisy, out.projected_noisy, out.projected), parameters,
        retain_graph=True, allow_unused=True)
    for name, gradient in zip(names, from_projection_loss, strict=True):
        assert (gradient is not None) == name.startswith("proj_layer."), name
    model.loss(out).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in parameters)
    assert all(p.grad is None for p in model.net_t.parameters())


def test_parameter_groups_projection_at_lr_the_rest_at_five_times(tiny) -> None:
    projection, rest = tiny.parameter_groups()
    assert (projection.lr_scale, rest.lr_scale) == (1.0, 5.0)
    assert all(n.startswith("proj_layer.") for n, _ in projection.named_parameters)
    assert {n.split(".")[0] for n, _ in rest.named_parameters} == {"mff_oce", "net_s"}
    grouped = [id(p) for _, p in projection.named_parameters + rest.named_parameters]
    assert sorted(grouped) == sorted(id(p) for p in tiny.trainable_parameters())


def test_refresh_moves_batch_statistics_as_the_thrown_away_step_does() -> None:
    """ADer's skipped iteration: full train forward and backward, gradients dropped. Ours:
    the clean path without gradients. Same weights after, same BatchNorm statistics, bit
    for bit: both run the same modules on the same batch, so the same kernels run."""
    ader = tiny_model()
    ours = copy.deepcopy(ader)
    before = copy.deepcopy(ader.state_dict())
    ader.train()
    ours.train()
    x = torch.randn(4, 3, SIZE, SIZE)
    ader.loss(ader(x)).backward()
    ader.zero_grad(set_to_none=True)
    ours.refresh(x)
    assert all(p.grad is None for p in ours.parameters())
    moved = 0
    for key, value in ours.state_dict().items():
        torch.testing.assert_close(value, ader.state_dict()[key], rtol=0, atol=0)
        if "running_mean" in key:
            moved += int(not torch.equal(value, before[key]))
        if key in dict(ours.named_parameters()):
            assert torch.equal(value, before[key]), key
    assert moved == sum("running_mean" in k for k in before if not k.startswith("net_t."))


def test_noise_texture_follows_the_seed_and_is_checkpointed() -> None:
    a, b, c = tiny_model(0), tiny_model(0), tiny_model(1)
    assert torch.equal(a.noise_texture, b.noise_texture)
    assert not torch.equal(a.noise_texture, c.noise_texture)
    state = trainable_state(a)
    assert "noise_texture" in state
    load_trainable_state(c, state)
    assert torch.equal(c.noise_texture, a.noise_texture)


def test_teacher_weights_from_a_local_file(tmp_path: Path) -> None:
    torch.manual_seed(4)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-local.pth"
    torch.save(reference.state_dict(), path)
    model = build_model("rdpp", image_size=SIZE, weights=str(path), backbone="resnet18")
    assert isinstance(model, ReverseDistillationPP)
    assert torch.equal(model.net_t.conv1.weight, reference.conv1.weight)
    assert torch.equal(model.net_t.layer3[1].bn2.running_var, reference.layer3[1].bn2.running_var)
    assert not any(p.requires_grad for p in model.net_t.parameters())


def test_loss_and_map_stay_float32_under_autocast(tiny: ReverseDistillationPP) -> None:
    features = [random_features(k, torch.float32) for k in range(5)]
    exact = RDPPOutputs(*features)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, maps = tiny.loss(exact), tiny.anomaly_map(exact)
    assert loss.dtype == maps.dtype == torch.float32
    torch.testing.assert_close(loss, tiny.loss(exact), rtol=0, atol=1e-7)
