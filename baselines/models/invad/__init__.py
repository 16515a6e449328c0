"""InvAD and InvAD-lite: the registry's factories (see model.py for the method)."""

from __future__ import annotations

from baselines.base import AnomalyModel
from baselines.models.invad.model import InvAD

__all__ = ["InvAD", "build", "build_lite"]


def build(image_size: int = 256, weights: str = "default",
          backbone: str | None = None) -> AnomalyModel:
    """InvAD: WRN50-2 encoder (or `backbone`), 2 styled blocks per stage, loss weight 1."""
    return InvAD(backbone or "wide_resnet50_2", weights, image_size, blocks=2, loss_weight=1.0)


def build_lite(image_size: int = 256, weights: str = "default",
               backbone: str | None = None) -> AnomalyModel:
    """InvAD-lite: ResNet34 encoder (or `backbone`), 4 styled blocks per stage, weight 5."""
    return InvAD(backbone or "resnet34", weights, image_size, blocks=4, loss_weight=5.0)
