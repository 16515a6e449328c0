"""The contract every baseline model follows: a plain nn.Module plus a few hooks.

The trainer and the run pipeline only ever call the methods below; everything
model-specific (frozen encoders, feature scales, smoothing, train-time noise, which
parameters learn at which rate) stays in the model's own files. docs/baselines.md,
"Adding a baseline", describes the contract for authors of new methods.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from adcommon.errors import InputError


class ModelOptionError(InputError):
    """A model option the method cannot take (e.g. an image size it cannot divide)."""


def check_fixed_backbone(method: str, backbone: str | None, fixed: str) -> None:
    """For methods whose encoder cannot be swapped: `--backbone` may only name `fixed`."""
    if backbone not in (None, fixed):
        raise ModelOptionError(f"{method}: --backbone {backbone} is not available (its "
                               f"encoder is {fixed})")


class ParamGroup(NamedTuple):
    """Trainable parameters (with their names, for the weight-decay filter) that share a
    learning rate: the recipe's lr times `lr_scale`."""

    named_parameters: list[tuple[str, nn.Parameter]]
    lr_scale: float = 1.0


class AnomalyModel(nn.Module):
    """Base class of the baselines.

    - `forward(images)` returns whatever the model needs for its loss and its map (e.g.
      encoder and decoder feature lists); images are (B, 3, S, S), normalised. In train
      mode it may add train-time randomness, drawn from torch's generator on the input's
      device (seeded by `--seed`), so the data pipeline stays shared.
    - `loss(outputs)` returns the scalar training loss.
    - `anomaly_map(outputs)` returns the final (B, S, S) float32 maps (smoothing
      included): the values written to disk and scored, never rescaled afterwards.
    - `image_score(outputs, maps)` returns the (B,) image scores; default: the maximum
      of each map. Override it only where the method defines its own (docs/baselines.md).
    - `parameter_groups()` splits the trainable parameters into groups with their own
      learning-rate factor; default: one group at the recipe's rate.
    - `refresh(images)` is what the trainer runs on batches that do not update the
      weights (recipes with `update_every` > 1): by default a forward pass in train mode
      without gradients, which only moves batch-norm statistics.
    Parameters with `requires_grad=False` (frozen encoders) are never optimised.
    `has_unused_parameters`: True where some trainable parameters never get a gradient
    (built only to match a reference's parameter table); DDP then looks for them.
    """

    has_unused_parameters: bool = False

    def loss(self, outputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def anomaly_map(self, outputs: Any) -> torch.Tensor:
        raise NotImplementedError

    def image_score(self, outputs: Any, maps: torch.Tensor) -> torch.Tensor:
        """(B,) image scores: the maximum of each (B, S, S) map."""
        return maps.flatten(1).amax(dim=1)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimiser updates."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_groups(self) -> list[ParamGroup]:
        """The trainable parameters in learning-rate groups (default: one group)."""
        return [ParamGroup([(n, p) for n, p in self.named_parameters() if p.requires_grad])]

    @torch.no_grad()
    def refresh(self, images: torch.Tensor) -> None:
        """A batch that updates no weight: a forward pass without gradients."""
        self(images)


def defines_image_score(model: AnomalyModel) -> bool:
    """Whether `model` scores images its own way (overrides `image_score`): the run then
    writes the scores it used beside the maps."""
    return type(model).image_score is not AnomalyModel.image_score
