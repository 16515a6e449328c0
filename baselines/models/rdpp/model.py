"""RD++ (Tien et al., "Revisiting Reverse Distillation", CVPR 2023) as ADer's COCO-AD
benchmark runs configure it (docs/baselines.md, "RD++").

RD (baselines/models/rd.py) with trainable projection layers between the frozen teacher
and the fusion: student(fusion(proj(teacher(x)))) rebuilds teacher(x). In training, each
image also gets a noise patch; the projection learns to map the noisy image's teacher
features onto the clean image's projection (L_rec) while the clean projection keeps its
distance from the teacher's noisy features (L_con), so the student is fed features
stripped of what does not look normal.

Top-level modules follow ADer's table: net_t (frozen WRN50-2, 24,862,528), mff_oce
(RD's fusion + bottleneck, 30,829,568), proj_layer (15,486,912), net_s (RD's student,
24,917,504): 96,096,512 at 256.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from baselines.backbones import FeatureEncoder
from baselines.base import AnomalyModel, ModelOptionError, ParamGroup
from baselines.cosine import ADER_MAP_DIVISOR, cosine_loss, smoothed_cosine_map
from baselines.models.rd import FusionBottleneck, Student
from baselines.models.rdpp.losses import projection_loss
from baselines.models.rdpp.noise import AMPLITUDE, add_noise_patches, patch_sides, texture_for
from baselines.models.rdpp.projection import MultiScaleProjection
from baselines.normalisation import IMAGENET_STD

PROJECTION_LOSS_WEIGHT = 0.2
FUSION_STUDENT_LR_SCALE = 5.0  # mff_oce and net_s learn at 5 x the projection's rate


class RDPPOutputs(NamedTuple):
    """Features ordered shallow to deep (strides 4, 8, 16). The noisy-pass fields are
    filled in train mode only."""

    teacher: list[torch.Tensor]  # T = teacher(x)
    student: list[torch.Tensor]  # student(fusion(P))
    teacher_noisy: list[torch.Tensor] | None = None  # T~ = teacher(x with noise patches)
    projected: list[torch.Tensor] | None = None  # P = proj(T)
    projected_noisy: list[torch.Tensor] | None = None  # P~ = proj(T~)


class ReverseDistillationPP(AnomalyModel):
    """RD++: frozen `net_t`, trainable `proj_layer`, `mff_oce` and `net_s`.

    The run's noise texture (3 x (S/8 - 1) x (S/8 - 1)) is a buffer, so checkpoints keep
    it; its OpenSimplex seed is drawn from torch's CPU generator at construction (the run
    seeds it with `--seed` first).
    """

    noise_texture: torch.Tensor
    noise_scale: torch.Tensor

    def __init__(self, image_size: int, weights: str, backbone: str) -> None:
        super().__init__()
        if image_size % 32:  # the bottleneck halves the stride-16 scale once more
            raise ModelOptionError(f"RD++ needs an image size divisible by 32, got {image_size}")
        self.image_size = image_size
        self.net_t = FeatureEncoder(backbone, weights)
        self.mff_oce = FusionBottleneck(self.net_t.channels)
        self.proj_layer = MultiScaleProjection(self.net_t.channels)
        self.net_s = Student(self.mff_oce.out_channels, self.net_t.channels)
        self.min_patch_side = patch_sides(image_size)[0]
        noise_seed = int(torch.randint(0, 2**31, (), device="cpu"))
        self.register_buffer("noise_texture", texture_for(image_size, noise_seed))
        scale = AMPLITUDE / torch.tensor(IMAGENET_STD, device="cpu").view(1, 3, 1, 1)
        self.register_buffer("noise_scale", scale, persistent=False)

    def _project_and_rebuild(self, teacher: list[torch.Tensor]
                             ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(P, student(fusion(P))) with P = proj(teacher)."""
        projected = self.proj_layer(teacher)
        return projected, self.net_s(self.mff_oce(projected))

    def forward(self, images: torch.Tensor) -> RDPPOutputs:
        teacher = self.net_t(images)
        projected, student = self._project_and_rebuild(teacher)
        if not self.training:
            return RDPPOutputs(teacher, student)
        noisy = add_noise_patches(images, self.noise_texture, self.min_patch_side,
                                  self.noise_scale)
        teacher_noisy = self.net_t(noisy)
        return RDPPOutputs(teacher, student, teacher_noisy, projected,
                           self.proj_layer(teacher_noisy))

    def loss(self, outputs: RDPPOutputs) -> torch.Tensor:
        """L_rd(T, student) + 0.2 * L_proj(T~, P~, P)."""
        if (outputs.teacher_noisy is None or outputs.projected is None
                or outputs.projected_noisy is None):
            raise ValueError("RD++'s loss needs the outputs of a train-mode forward pass")
        return (cosine_loss(outputs.teacher, outputs.student)
                + PROJECTION_LOSS_WEIGHT * projection_loss(
                    outputs.teacher_noisy, outputs.projected_noisy, outputs.projected))

    def anomaly_map(self, outputs: RDPPOutputs) -> torch.Tensor:
        """(B, S, S) float32: RD's map (sum over scales of 1 - cos over channels at S x S)
        divided by 9 as ADer does, Gaussian-smoothed (sigma 4)."""
        return smoothed_cosine_map(outputs.teacher, outputs.student, self.image_size,
                                   ADER_MAP_DIVISOR)

    def parameter_groups(self) -> list[ParamGroup]:
        """The projection at the recipe's rate, the fusion and the student at 5 x."""
        trainable = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        projection = [(n, p) for n, p in trainable if n.startswith("proj_layer.")]
        others = [(n, p) for n, p in trainable if not n.startswith("proj_layer.")]
        return [ParamGroup(projection, 1.0), ParamGroup(others, FUSION_STUDENT_LR_SCALE)]

    @torch.no_grad()
    def refresh(self, images: torch.Tensor) -> None:
        """A batch that updates no weight: teacher -> projection -> fusion -> student on
        the clean images, which moves only the fusion's and the student's BatchNorm
        statistics (ADer runs the whole step and throws the gradients away)."""
        self._project_and_rebuild(self.net_t(images))


def build(image_size: int = 256, weights: str = "default",
          backbone: str | None = None) -> ReverseDistillationPP:
    """RD++ for S x S inputs (S a multiple of 32); backbone defaults to ADer's WRN50-2
    (weights: see baselines.backbones)."""
    return ReverseDistillationPP(image_size, weights, backbone or "wide_resnet50_2")
