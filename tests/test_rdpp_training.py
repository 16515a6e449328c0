"""RD++'s recipe through the shared trainer: Adam with two learning rates (projection at
lr, fusion and student at 5 x lr), constant, an update on iterations 0, 2, 4, ... only,
and BatchNorm refreshes in between; runs whose epochs hold no update still train."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import torch

from adbench.pipeline import RunConfig, run_baseline
from baselines.models.rdpp import ReverseDistillationPP
from baselines.registry import build_model, get_baseline
from baselines.training import CHECKPOINT_NAME, make_train_step

SIZE, BATCH = 32, 4


def test_registered_recipe_is_aders_logged_run() -> None:
    entry = get_baseline("rdpp")
    recipe = entry.recipe
    assert (recipe.lr, recipe.ref_batch, recipe.batch_size, recipe.betas) == (
        1e-3, 16, 16, (0.5, 0.999))
    assert (recipe.optimizer, recipe.weight_decay, recipe.eps) == ("adam", 0.0, 1e-8)
    assert (recipe.schedule, recipe.update_every, recipe.clip_grad_norm, recipe.epochs) == (
        "constant", 2, 5.0, 100)
    assert entry.backbone == "wide_resnet50_2"


def snapshot(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in tensors.items()}


def test_updates_on_even_iterations_and_refreshes_batch_statistics_on_odd_ones() -> None:
    torch.manual_seed(0)
    model = build_model("rdpp", image_size=SIZE, weights="none", backbone="resnet18")
    assert isinstance(model, ReverseDistillationPP)
    model.train()
    step = make_train_step(model, get_baseline("rdpp").recipe, BATCH, total_iterations=6,
                           amp=False)
    rates = [BATCH / 16 * 1e-3, BATCH / 16 * 5e-3]
    assert [group["lr"] for group in step.optimizer.param_groups] == pytest.approx(rates)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n: p for n, p in model.named_parameters() if not p.requires_grad}
    statistics = {k: v for k, v in model.named_buffers() if "running_" in k}
    student_statistics = [k for k in statistics if not k.startswith("net_t.")]
    for iteration in range(6):
        weights, frozen_before, stats_before = (snapshot(trainable), snapshot(frozen),
                                                snapshot(statistics))
        loss = step(torch.randn(BATCH, 3, SIZE, SIZE), iteration)
        updated = iteration % 2 == 0
        assert (loss is not None) == updated
        moved = {n for n, p in trainable.items() if not torch.equal(p, weights[n])}
        assert moved == (set(trainable) if updated else set()), iteration
        assert all(torch.equal(p, frozen_before[n]) for n, p in frozen.items())
        assert all(not torch.equal(statistics[k], stats_before[k]) for k in student_statistics)
        assert all(torch.equal(statistics[k], stats_before[k])
                   for k in statistics if k.startswith("net_t."))
        if iteration == 0:  # Adam's first step moves each weight by its group's lr
            for group, rate in zip(model.parameter_groups(), rates, strict=True):
                largest = max(float((p.detach() - weights[n]).abs().max())
                              for n, p in group.named_parameters)
                assert largest == pytest.approx(rate, rel=1e-3)
    steps = {int(state["step"]) for state in step.optimizer.state.values()}
    assert steps == {3}
    assert [group["lr"] for group in step.optimizer.param_groups] == pytest.approx(rates)


def test_epochs_without_an_update_still_train(make_toy_mvtec: Callable[..., Path],
                                              tmp_path: Path) -> None:
    """One batch per epoch and an update every second batch: epochs 2, 4, ... only refresh."""
    root = make_toy_mvtec(classes=("tile",), n_train=BATCH)
    run_baseline(RunConfig(name="rdpp", data=root, epochs=3, batch_size=BATCH, image_size=SIZE,
                           weights="none", backbone="resnet18", device="cpu", seed=0,
                           out=tmp_path / "run", record=False, evaluate=False,
                           progress=False))
    events = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    losses = [e["loss"] for e in map(json.loads, events) if e["event"] == "epoch"]
    assert len(losses) == 3 and losses[1] == losses[0] and losses[2] != losses[0]
    state = torch.load(tmp_path / "run" / CHECKPOINT_NAME, weights_only=False)["optimizer"]
    assert {int(s["step"]) for s in state["state"].values()} == {2}
