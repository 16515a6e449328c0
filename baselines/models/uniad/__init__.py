"""UniAD: the registry's factory (model.py: the method; efficientnet.py: the trunk;
transformer.py: the reconstruction transformer)."""

from __future__ import annotations

from baselines.base import check_fixed_backbone
from baselines.models.uniad.model import BACKBONE_WEIGHTS, UniAD

__all__ = ["UniAD", "build"]


def build(image_size: int = 256, weights: str = "default", backbone: str | None = None
          ) -> UniAD:
    """UniAD for S x S inputs with ADer's TF-EfficientNet-B4 trunk (the only `backbone`)."""
    check_fixed_backbone("uniad", backbone, BACKBONE_WEIGHTS)
    return UniAD(image_size, weights)
