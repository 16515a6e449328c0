"""ViTAD: the registry's factory (see model.py for the method, vit.py for the network)."""

from __future__ import annotations

from baselines.base import check_fixed_backbone
from baselines.models.vitad.model import TEACHER_WEIGHTS, ViTAD

__all__ = ["ViTAD", "build"]


def build(image_size: int = 256, weights: str = "default", backbone: str | None = None
          ) -> ViTAD:
    """ViTAD for S x S inputs with ADer's DINO ViT-S/16 teacher (the only `backbone`)."""
    check_fixed_backbone("vitad", backbone, TEACHER_WEIGHTS)
    return ViTAD(image_size, weights)
