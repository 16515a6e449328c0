"""ViTAD as ADer's COCO-AD benchmark configures it (`vitad_256_100e`).

A frozen DINO ViT-S/16 teacher (`net_t`) gives the patch tokens after its blocks 3, 6 and
9 (T3, T6, T9, as (B, 384, S/16, S/16) maps) and after block 12 (the neck N, without the
final norm). A trainable Linear (`net_fusion.fc`) maps N to the student's input; the
student (`net_s`, 9 ViT blocks with its own position table) reconstructs the teacher's
maps from it: its outputs after blocks 3, 6, 9 (S3, S6, S9) are paired with T9, T6, T3.
Loss and map are 1 - cosine between the pairs (docs/baselines.md, "ViTAD").

Module names follow ADer's parameter table: 38,971,472 parameters at 256 (teacher
22,073,704 frozen, fusion 147,840, student 16,749,928, of which 681,448 are the
student's unused patch embedding, class token, final norm and head).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from baselines.backbones import FrozenModule
from baselines.base import AnomalyModel, ModelOptionError
from baselines.cosine import ADER_MAP_DIVISOR, cosine_loss, smoothed_cosine_map
from baselines.image_scores import pooled_max
from baselines.models.vitad.vit import (
    PATCH,
    WIDTH,
    VisionTransformer,
    resize_position_table,
)
from baselines.weights import StateDict, load_pretrained

TEACHER_WEIGHTS = "vit_small_patch16_224.dino"
TEACHER_DEPTH = 12
STUDENT_DEPTH = 9
TAPS = (3, 6, 9)  # 1-based blocks whose tokens are compared, in both networks


class ViTADOutputs(NamedTuple):
    """Paired maps: teacher [T3, T6, T9] and student [S9, S6, S3], each (B, 384, g, g)."""

    teacher: list[torch.Tensor]
    student: list[torch.Tensor]


class DinoTeacher(FrozenModule, VisionTransformer):
    """The frozen DINO ViT-S/16 (`net_t`): image -> ([T3, T6, T9], neck N (B, g^2, 384)).

    Always in eval mode and without gradients. Weights: the DINO file (keys as timm's),
    its 14 x 14 position table resized to the grid; its head stays random (unused).
    """

    def __init__(self, grid: int, weights: str | Path) -> None:
        super().__init__(grid, TEACHER_DEPTH, class_row=True)
        load_pretrained(self, TEACHER_WEIGHTS, weights, self._fit_grid)
        self.freeze()

    def _fit_grid(self, state: StateDict) -> StateDict:
        if "pos_embed" in state:
            state = {**state, "pos_embed": resize_position_table(state["pos_embed"], self.grid)}
        return state

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        tokens = self.patch_embed(images)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        taps, tokens = self.run_blocks(tokens + self.pos_embed, TAPS, skip=1)
        return taps, tokens[:, 1:]


class Fusion(nn.Module):
    """ADer's `net_fusion`: one Linear 384 -> 384 on the neck tokens (PyTorch's init)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(WIDTH, WIDTH)

    def forward(self, neck: torch.Tensor) -> torch.Tensor:
        return self.fc(neck)


class Student(VisionTransformer):
    """The student (`net_s`): tokens + its position table (no class row) through 9
    blocks; returns [S9, S6, S3]. Its patch embedding, class token, final norm and head
    exist only for the parameter count (ADer's student subclasses timm's ViT)."""

    def __init__(self, grid: int) -> None:
        super().__init__(grid, STUDENT_DEPTH, class_row=False)

    def forward(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        taps, _ = self.run_blocks(tokens + self.pos_embed, TAPS)
        return taps[::-1]


class ViTAD(AnomalyModel):
    """ViTAD: frozen `net_t`, trainable `net_fusion` and `net_s`."""

    has_unused_parameters = True  # the student's patch embedding, class token, norm, head

    def __init__(self, image_size: int, weights: str | Path) -> None:
        super().__init__()
        if image_size % PATCH or image_size < PATCH:
            raise ModelOptionError(f"ViTAD needs an image size divisible by {PATCH}, "
                                   f"got {image_size}")
        self.image_size = image_size
        grid = image_size // PATCH
        self.net_t = DinoTeacher(grid, weights)
        self.net_fusion = Fusion()
        self.net_s = Student(grid)

    def forward(self, images: torch.Tensor) -> ViTADOutputs:
        teacher, neck = self.net_t(images)
        return ViTADOutputs(teacher, self.net_s(self.net_fusion(neck)))

    def loss(self, outputs: ViTADOutputs) -> torch.Tensor:
        """Sum over the 3 pairs of the batch mean of 1 - cos(flattened C*H*W features)."""
        return cosine_loss(outputs.teacher, outputs.student)

    def anomaly_map(self, outputs: ViTADOutputs) -> torch.Tensor:
        """(B, S, S) float32: per pair 1 - cosine over channels, bilinear to S x S
        (align_corners=True), summed, divided by 9 (as ADer), Gaussian sigma 4."""
        return smoothed_cosine_map(outputs.teacher, outputs.student, self.image_size,
                                   ADER_MAP_DIVISOR)

    def image_score(self, outputs: ViTADOutputs, maps: torch.Tensor) -> torch.Tensor:
        """ADer's score for ViTAD: the maximum of the 16 x 16 mean-pooled map."""
        return pooled_max(maps)
