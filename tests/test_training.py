"""Trainer pieces: schedule, lr scaling, clipping, NaN stop, checkpoint state selection."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from baselines.backbones import FeatureEncoder
from baselines.base import AnomalyModel
from baselines.data import ImageDataset, load_source, make_loader, to_model_input
from baselines.registry import Recipe, build_model, get_baseline
from baselines.training import (
    CheckpointError,
    DistContext,
    NonFiniteLossError,
    TrainSettings,
    load_trainable_state,
    make_optimizer,
    make_scheduler,
    make_train_step,
    prepare_model,
    train_model,
    trainable_state,
)

RECIPE = Recipe(lr=0.01, ref_batch=4, batch_size=4, betas=(0.9, 0.999))


class Linear(AnomalyModel):
    """loss = scale * sum(w * x): its gradient is known in closed form."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.scale = scale

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(2).mean(-1) * self.weight

    def loss(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.scale * outputs.sum()


def test_step_decay_at_80_percent_per_iteration():
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=0.5)
    scheduler = make_scheduler(optimizer, total_iterations=10, decay_at=0.8)
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.5] * 8 + [0.05] * 2)


def test_lr_scales_with_batch_and_recipe_betas():
    recipe = get_baseline("ae").recipe
    optimizer = make_optimizer(Linear(), recipe, batch_size=8)
    group = optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(1e-3 * 8 / 32)
    assert group["betas"] == recipe.betas and group["weight_decay"] == 0.0


def test_gradients_are_clipped_to_norm_5():
    model = Linear(scale=100.0)
    step = make_train_step(model, RECIPE, batch_size=4, total_iterations=10, amp=False)
    images = torch.ones(4, 3, 2, 2)
    step(images)
    # d loss / d w_c = scale * sum over the batch of x = 100 * 4 = 400 per channel
    raw = torch.full((3,), 400.0)
    expected = raw * 5.0 / raw.norm()
    torch.testing.assert_close(model.weight.grad, expected)


class NanModel(Linear):
    def loss(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.sum() * float("nan")


def test_nan_loss_stops_with_a_clear_message(toy_mvtec_root: Path, tmp_path: Path):
    source = load_source(toy_mvtec_root)
    loader = make_loader(ImageDataset(source.train, 16), 4, train=True, seed=0, workers=0,
                         pin_memory=False)
    settings = TrainSettings(RECIPE, epochs=1, batch_size=4, amp=False, progress=False)
    ctx = DistContext(0, 1, torch.device("cpu"))
    model = NanModel()
    with pytest.raises(NonFiniteLossError, match=r"training loss is nan at epoch 1, iteration"):
        train_model(model, model, loader, settings, ctx, tmp_path, resume=False,
                    to_input=lambda x: to_model_input(x, torch.device("cpu"), False))
    assert not (tmp_path / "checkpoint.pt").exists()


class WithEncoder(AnomalyModel):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = FeatureEncoder("resnet18", weights="none")
        self.head = nn.Sequential(nn.Conv2d(64, 8, 1), nn.BatchNorm2d(8))


def test_checkpoint_state_leaves_out_the_frozen_encoder():
    torch.manual_seed(0)
    model = WithEncoder()
    state = trainable_state(model)
    assert set(state) == {k for k in model.state_dict() if k.startswith("head.")}
    assert "head.1.running_mean" in state  # buffers of trained parts are kept
    other = WithEncoder()
    load_trainable_state(other, state)
    for key, value in state.items():
        assert torch.equal(other.state_dict()[key], value)
    del state["head.0.weight"]
    with pytest.raises(CheckpointError, match=r"head\.0\.weight"):
        load_trainable_state(other, state)


def test_bf16_autocast_step_keeps_fp32_weights_and_loss():
    """--amp on the CPU: forward in bf16, the loss and the weights stay float32."""
    torch.manual_seed(0)
    model = build_model("ae", image_size=32, weights="none")
    step = make_train_step(model, RECIPE, batch_size=2, total_iterations=4, amp=True)
    before = model.encoder[0][0].weight.clone()
    loss = step(torch.randn(2, 3, 32, 32))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert model.encoder[0][0].weight.dtype == torch.float32
    assert not torch.equal(before, model.encoder[0][0].weight)


def test_compiled_step_matches_eager():
    """--compile wraps forward + loss in torch.compile; the step must compute the same.

    Both steps run in float64: inductor's generated kernels sum the 256-pixel means in
    another order than ATen's (and in another one again on a CPU with other vector
    units), which in float32 differ by ~1e-7 of the terms, as much as a loss near 0 is
    worth. In float64 that order costs ~1e-16, so 1e-10 of the values' scale is a bound
    that any real difference (a wrong term, a missed step) exceeds by far."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    images = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    weights = []
    for compile_model in (False, True):
        model = Linear().double()
        step = make_train_step(model, RECIPE, batch_size=2, total_iterations=4, amp=False,
                               compile_model=compile_model)
        losses = [step(images * (i + 1)) for i in range(2)]
        weights.append((model.weight.detach().clone(), torch.stack(losses)))
    assert counters["stats"]["unique_graphs"] >= 1  # dynamo did capture the compiled step
    (eager_weight, eager_losses), (compiled_weight, compiled_losses) = weights
    assert eager_weight.dtype == compiled_losses.dtype == torch.float64
    assert not torch.equal(eager_weight, torch.ones(3))  # the steps did move the weights
    torch.testing.assert_close(compiled_weight, eager_weight, rtol=1e-10,
                               atol=1e-10 * float(eager_weight.abs().max()))
    # a loss is a sum of signed terms: its error scales with the terms, not with the sum
    term_scale = float((images * 2).flatten(2).mean(-1).abs().max())
    torch.testing.assert_close(compiled_losses, eager_losses, rtol=1e-10,
                               atol=1e-10 * term_scale)


class PartlyUnused(Linear):
    """Linear plus a trainable parameter no loss reaches (as ViTAD's student keeps a
    patch embedding and a head only for the parameter count)."""

    def __init__(self, declared: bool) -> None:
        super().__init__()
        self.spare = nn.Parameter(torch.zeros(2))
        self.has_unused_parameters = declared


def test_ddp_accepts_parameters_the_model_declares_unused(tmp_path: Path):
    """prepare_model wraps such a model in DDP with find_unused_parameters; without the
    declaration DDP stops at the second step (a one-process gloo group stands in for a
    multi-process run)."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        outcomes = {}
        for declared in (True, False):
            model, module = prepare_model(PartlyUnused(declared),
                                          DistContext(0, 2, torch.device("cpu")), False)
            step = make_train_step(model, RECIPE, batch_size=2, total_iterations=3, amp=False,
                                   forward_module=module)
            try:
                for _ in range(3):
                    step(torch.randn(2, 3, 4, 4))
                outcomes[declared] = "trained"
            except RuntimeError as error:
                outcomes[declared] = str(error).split(".")[0]
    finally:
        dist.destroy_process_group()
    assert outcomes[True] == "trained"
    assert "finished reduction" in outcomes[False]
