"""Resume: a run interrupted after an epoch and resumed ends exactly where an
uninterrupted run ends (same weights, optimiser state and schedule, bit for bit on CPU).

Why exact equality holds: the sample order is a function of (seed, epoch) only, the model
is built from the seed, and the checkpoint holds the trainable weights and buffers, Adam's
moments, the scheduler's iteration count and every RNG state; CPU kernels are
deterministic for a fixed thread count.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adbench.pipeline import RunConfig, run_baseline
from baselines.registry import build_model
from baselines.training import CHECKPOINT_NAME


class Interrupted(Exception):
    """Stands for a crash or a kill after the first epoch's checkpoint."""


def _config(root: Path, out: Path, **overrides: object) -> RunConfig:
    settings = dict(name="ae", data=root, epochs=3, batch_size=8, image_size=32,
                    weights="none", device="cpu", seed=5, out=out, record=False,
                    evaluate=False, progress=False)
    settings.update(overrides)
    return RunConfig(**settings)


def _checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / CHECKPOINT_NAME, map_location="cpu", weights_only=False)


def _assert_same_tree(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same_tree(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same_tree(x, y)
    else:
        assert a == b


# every baseline goes through the same trainer: resume must hold for each, with no
# special case (rd and invad with a small random encoder so the test stays short; uniad
# draws its feature jitter and dropout, rdpp its noise patches, from torch's generator,
# restored on resume)
BASELINES = [("ae", {}), ("rd", {"backbone": "resnet18", "epochs": 2}),
             ("rdpp", {"backbone": "resnet18", "epochs": 2}),
             ("invad", {"backbone": "resnet18", "epochs": 2}),
             ("invad-lite", {"backbone": "resnet18", "epochs": 2}),
             ("vitad", {"epochs": 2}), ("uniad", {"epochs": 2})]


@pytest.mark.parametrize(("name", "overrides"), BASELINES, ids=[b[0] for b in BASELINES])
def test_interrupted_then_resumed_equals_uninterrupted(toy_mvtec_root: Path, tmp_path: Path,
                                                       name: str, overrides: dict):
    def config(out: Path, **more: object) -> RunConfig:
        return _config(toy_mvtec_root, out, name=name, **overrides, **more)

    run_baseline(config(tmp_path / "full"))

    def crash_after_first_epoch(epoch: int, _loss: float) -> None:
        if epoch == 1:
            raise Interrupted

    cut = tmp_path / "cut"
    with pytest.raises(Interrupted):
        run_baseline(config(cut, on_epoch_end=crash_after_first_epoch))
    assert _checkpoint(cut)["epoch"] == 1
    run_baseline(config(cut, resume=True))

    full, resumed = _checkpoint(tmp_path / "full"), _checkpoint(cut)
    assert resumed["epoch"] == full["epoch"] == overrides.get("epochs", 3)
    for key in ("model", "optimizer", "scheduler", "loss", "images_seen"):
        _assert_same_tree(full[key], resumed[key])
    # and the weights did move: this compares trained models, not two initialisations
    torch.manual_seed(5)
    initial = build_model(name, image_size=32, weights="none",
                          backbone=overrides.get("backbone")).state_dict()
    moved = [k for k, v in full["model"].items() if v.is_floating_point()
             and not torch.equal(initial[k], v)]
    assert len(moved) > len(full["model"]) // 2


def test_resume_refuses_a_different_config(toy_mvtec_root: Path, tmp_path: Path):
    from baselines.training import CheckpointError

    run_baseline(_config(toy_mvtec_root, tmp_path / "run", epochs=1))
    with pytest.raises(CheckpointError, match="different batch_size"):
        run_baseline(_config(toy_mvtec_root, tmp_path / "run", epochs=1, batch_size=16,
                             resume=True))
