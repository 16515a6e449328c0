"""Precision guards for sums of many small terms (losses, maps, scores, scans): work in at
least float32, and outside the trainer's bf16 autocast region (its --amp)."""

from __future__ import annotations

import torch


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32, or float64 if it already is."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def no_autocast(like: torch.Tensor) -> torch.autocast:
    """A region where autocast (the trainer's --amp) cannot lower the precision."""
    return torch.autocast(like.device.type, enabled=False)
