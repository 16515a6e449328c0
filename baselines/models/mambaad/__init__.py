"""MambaAD (`adbench run-baseline mambaad`): the registry's factory (see model.py)."""

from __future__ import annotations

from baselines.models.mambaad.model import MambaAD

__all__ = ["MambaAD", "build"]


def build(image_size: int = 256, weights: str = "default",
          backbone: str | None = None) -> MambaAD:
    """MambaAD for S x S inputs (S = 32 x a power of two); backbone defaults to ADer's
    ResNet34 (any encoder whose channels double per scale works; weights: see backbones)."""
    return MambaAD(image_size, weights, backbone or "resnet34")
