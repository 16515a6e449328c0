"""UniAD: the registry's factory (model.py: the method; efficientnet.py: the trunk;
transformer.py: the reconstruction transformer)."""

from __future__ import annotations

from baselines.base import ModelOptionError
from baselines.models.uniad.model import BACKBONE_WEIGHTS, UniAD

__all__ = ["UniAD", "build"]


def build(image_size: int = 256, weights: str = "default", backbone: str | None = None
          ) -> UniAD:
    """UniAD for S x S inputs with ADer's TF-EfficientNet-B4 trunk (the only `backbone`)."""
    if backbone not in (None, BACKBONE_WEIGHTS):
        raise ModelOptionError(f"uniad: --backbone {backbone} is not available (its trunk is "
                         f"{BACKBONE_WEIGHTS})")
    return UniAD(image_size, weights)
