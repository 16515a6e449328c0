"""RD++: the registry's factory (see model.py for the method)."""

from __future__ import annotations

from baselines.models.rdpp.model import RDPPOutputs, ReverseDistillationPP, build

__all__ = ["RDPPOutputs", "ReverseDistillationPP", "build"]
