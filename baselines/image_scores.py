"""Image scores other than the map's maximum (the `AnomalyModel.image_score` hook).

ADer's evaluator scores ViTAD and UniAD images (its `pooling_ks [16, 16]`) by the maximum
of the map averaged over every 16 x 16 window (stride 1, no padding): a bright patch
counts, a single bright pixel much less. docs/baselines.md, "Image scores".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from baselines.precision import at_least_fp32, no_autocast

ADER_POOL = 16


def pooled_max(maps: torch.Tensor, window: int = ADER_POOL) -> torch.Tensor:
    """(B, H, W) maps -> (B,): the maximum over the means of all window x window patches
    (stride 1, no padding), computed in at least float32."""
    if min(maps.shape[-2:]) < window:
        raise ValueError(f"maps of {tuple(maps.shape[-2:])} px are smaller than the "
                         f"{window} x {window} pooling window")
    with no_autocast(maps):
        x = at_least_fp32(maps[:, None])
        return F.avg_pool2d(x, window, stride=1).flatten(1).amax(dim=1)
