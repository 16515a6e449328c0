"""The contract every baseline model follows: a plain nn.Module plus loss and map hooks.

The trainer only ever calls `forward`, `loss` and `anomaly_map`; everything
model-specific (frozen encoders, feature scales, smoothing) stays in the model's file.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class AnomalyModel(nn.Module):
    """Base class of the baselines.

    - `forward(images)` returns whatever the model needs for its loss and its map
      (e.g. encoder and decoder feature lists); images are (B, 3, S, S), normalised.
    - `loss(outputs)` returns the scalar training loss.
    - `anomaly_map(outputs)` returns the final (B, S, S) float32 maps (smoothing
      included): the values written to disk and scored, never rescaled afterwards.
    Parameters with `requires_grad=False` (frozen encoders) are not optimised.
    """

    def loss(self, outputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def anomaly_map(self, outputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimiser updates."""
        return [p for p in self.parameters() if p.requires_grad]
