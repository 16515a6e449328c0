"""RD++'s L_ssot is identically zero: ADer's debiased Sinkhorn divergence between a batch
of softmax vectors and the same batch shuffled is 0 in value and in gradient.

ADer computes, per scale, geomloss' SamplesLoss("sinkhorn", p=2, blur=0.05,
scaling=0.95, diameter=1e7) between {softmax(flat P[b])} and the batch permuted. Below
is a plain float64 transcription of that divergence (not geomloss' code): log-domain
Sinkhorn with uniform weights, cost |x - y|^2 / 2, epsilon annealed from diameter^2 down
to blur^2 by a factor scaling^2 per step, symmetric (averaged) updates of the four dual
potentials (x-y, y-x, x-x, y-y), then one last update with gradients enabled. There the
loop's potentials are constants and each new potential is differentiated at its own
points only (the other cloud held fixed): by the envelope theorem, the gradient of
OT_eps(a, b) with respect to x_i is a_i times the gradient of the potential f at x_i.
Debiased: S = <a, f_ba - f_aa> + <b, g_ab - g_bb>. The transcription's gradient is
checked by central finite differences, and against geomloss where it is installed.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

BLUR, SCALING, DIAMETER = 0.05, 0.95, 1e7


def epsilon_schedule() -> list[float]:
    """diameter^2, then exp(e) for e from 2 log(diameter) down to 2 log(blur) in steps of
    2 log(scaling), then blur^2."""
    start, stop, step = 2 * math.log(DIAMETER), 2 * math.log(BLUR), 2 * math.log(SCALING)
    steps = [start + k * step for k in range(math.ceil((stop - start) / step))]
    return [DIAMETER**2, *(math.exp(e) for e in steps), BLUR**2]


def half_squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1) / 2


def softmin(eps: float, cost: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """-eps * log sum_j exp(h_j - cost_ij / eps), for every i."""
    return -eps * torch.logsumexp(h[None, :] - cost / eps, dim=1)


def sinkhorn_divergence(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    a_log = torch.full((len(x),), -math.log(len(x)), dtype=x.dtype)
    b_log = torch.full((len(y),), -math.log(len(y)), dtype=y.dtype)
    schedule = epsilon_schedule()
    with torch.no_grad():
        c_xy, c_yx = half_squared_distances(x, y), half_squared_distances(y, x)
        c_xx, c_yy = half_squared_distances(x, x), half_squared_distances(y, y)
        eps = schedule[0]
        f_ba, g_ab = softmin(eps, c_xy, b_log), softmin(eps, c_yx, a_log)
        f_aa, g_bb = softmin(eps, c_xx, a_log), softmin(eps, c_yy, b_log)
        for eps in schedule:
            ft_ba = softmin(eps, c_xy, b_log + g_ab / eps)
            gt_ab = softmin(eps, c_yx, a_log + f_ba / eps)
            ft_aa = softmin(eps, c_xx, a_log + f_aa / eps)
            gt_bb = softmin(eps, c_yy, b_log + g_bb / eps)
            f_ba, g_ab = (f_ba + ft_ba) / 2, (g_ab + gt_ab) / 2
            f_aa, g_bb = (f_aa + ft_aa) / 2, (g_bb + gt_bb) / 2
    eps = schedule[-1]
    f_ba, g_ab = (softmin(eps, half_squared_distances(x, y.detach()), b_log + g_ab / eps),
                  softmin(eps, half_squared_distances(y, x.detach()), a_log + f_ba / eps))
    f_aa = softmin(eps, half_squared_distances(x, x.detach()), a_log + f_aa / eps)
    g_bb = softmin(eps, half_squared_distances(y, y.detach()), b_log + g_bb / eps)
    return (a_log.exp() * (f_ba - f_aa)).sum() + (b_log.exp() * (g_ab - g_bb)).sum()


def test_schedule_is_about_370_steps_from_diameter_to_blur() -> None:
    schedule = epsilon_schedule()
    assert schedule[0] == DIAMETER**2 and schedule[-1] == BLUR**2
    assert 370 <= len(schedule) <= 380
    ratios = [b / a for a, b in itertools.pairwise(schedule[1:-1])]
    assert all(r == pytest.approx(SCALING**2, rel=1e-9) for r in ratios)


@pytest.mark.parametrize("seed", [0, 1])
def test_batch_against_its_own_permutation_is_zero_with_zero_gradient(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = (2.0 * torch.randn(8, 256, generator=g, dtype=torch.float64)).requires_grad_()
    points = torch.softmax(logits, dim=1)
    permutation = torch.randperm(8, generator=g)
    assert not torch.equal(permutation, torch.arange(8))
    value = sinkhorn_divergence(points, points[permutation])
    (gradient,) = torch.autograd.grad(value, logits)
    assert abs(value.item()) < 1e-12
    assert float(gradient.abs().max()) < 1e-12


def test_two_different_batches_are_clearly_apart() -> None:
    g = torch.Generator().manual_seed(2)
    logits = (2.0 * torch.randn(16, 256, generator=g, dtype=torch.float64)).requires_grad_()
    points = torch.softmax(logits, dim=1)
    value = sinkhorn_divergence(points[:8], points[8:])
    (gradient,) = torch.autograd.grad(value, logits)
    assert value.item() > 1e-3
    assert float(gradient.abs().max()) > 1e-6
    # the envelope-theorem gradient against central differences of the value: equal up to
    # the loop's distance from convergence (it ends with one step at blur^2; measured 3e-4)
    for index in gradient.abs().flatten().topk(3).indices.tolist():
        row, col = divmod(index, logits.shape[1])
        shifted = []
        for step in (1e-5, -1e-5):
            moved = logits.detach().clone()
            moved[row, col] += step
            points = torch.softmax(moved, dim=1)
            shifted.append(sinkhorn_divergence(points[:8], points[8:]).item())
        finite_difference = (shifted[0] - shifted[1]) / 2e-5
        assert finite_difference == pytest.approx(gradient[row, col].item(), rel=3e-3)


def test_transcription_matches_geomloss() -> None:
    geomloss = pytest.importorskip("geomloss")
    loss = geomloss.SamplesLoss("sinkhorn", p=2, blur=BLUR, scaling=SCALING, diameter=DIAMETER,
                                backend="tensorized")
    g = torch.Generator().manual_seed(3)
    logits = (2.0 * torch.randn(12, 64, generator=g, dtype=torch.float64)).requires_grad_()
    values, gradients = [], []
    for divergence in (sinkhorn_divergence, loss):
        points = torch.softmax(logits, dim=1)
        value = divergence(points[:6], points[6:])
        values.append(value.item())
        gradients.append(torch.autograd.grad(value, logits)[0])
    assert values[0] == pytest.approx(values[1], rel=1e-10)
    torch.testing.assert_close(gradients[0], gradients[1], rtol=1e-8, atol=1e-14)
