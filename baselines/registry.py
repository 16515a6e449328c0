"""The baseline registry: one line per model, naming its factory and its training recipe.

Adding a baseline = one model file exposing a factory
`build(image_size: int, weights: str, backbone: str | None) -> AnomalyModel`
plus one line in `BASELINES` below. Factories are imported lazily by dotted path so
that a broken or heavy model never slows down the others.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from baselines.base import AnomalyModel


@dataclass(frozen=True)
class Recipe:
    """Training hyper-parameters of BASELINES.md (learning rate given at `ref_batch`)."""

    lr: float
    ref_batch: int
    batch_size: int
    betas: tuple[float, float]
    epochs: int = 100
    weight_decay: float = 0.0
    clip_grad_norm: float = 5.0
    decay_at: float = 0.8  # step decay x0.1 at this fraction of the total iterations

    def lr_for(self, batch_size: int) -> float:
        """The learning rate scaled linearly with the batch size: lr * B / ref_batch."""
        return self.lr * batch_size / self.ref_batch


@dataclass(frozen=True)
class Baseline:
    """A registered baseline: where its factory lives, its recipe and default backbone."""

    name: str
    factory: str  # "package.module:function"
    recipe: Recipe
    backbone: str | None = None


BASELINES: dict[str, Baseline] = {
    b.name: b
    for b in (
        Baseline("ae", "baselines.models.ae:build", Recipe(1e-3, 32, 32, (0.9, 0.999))),
        Baseline("rd", "baselines.models.rd:build", Recipe(5e-3, 16, 16, (0.5, 0.999)),
                 backbone="wide_resnet50_2"),
        Baseline("invad", "baselines.models.invad:build", Recipe(1e-3, 8, 32, (0.0, 0.99)),
                 backbone="wide_resnet50_2"),
        Baseline("invad-lite", "baselines.models.invad:build_lite",
                 Recipe(1e-3, 8, 32, (0.0, 0.99)), backbone="resnet34"),
    )
}


def list_baselines() -> list[str]:
    """Names of every registered baseline, sorted."""
    return sorted(BASELINES)


def get_baseline(name: str) -> Baseline:
    """The registry entry of `name`; a ValueError listing the known names otherwise."""
    try:
        return BASELINES[name]
    except KeyError:
        known = ", ".join(list_baselines())
        raise ValueError(f"unknown baseline {name!r} (known: {known})") from None


def build_model(
    name: str, image_size: int = 256, weights: str = "default", backbone: str | None = None
) -> AnomalyModel:
    """Build baseline `name` for S x S inputs.

    weights: "default" (download the pretrained encoder ADer used, hash-checked),
    "none" (random, for tests and offline use) or a path to a local weights file.
    backbone: override the registered encoder (e.g. "resnet18" for small CPU tests).
    """
    entry = get_baseline(name)
    module_name, function_name = entry.factory.split(":")
    factory = getattr(importlib.import_module(module_name), function_name)
    return factory(image_size=image_size, weights=weights, backbone=backbone or entry.backbone)
