"""Reverse distillation (RD4AD) as ADer's COCO-AD benchmark runs configure it.

A frozen ResNet teacher gives features F1, F2, F3 (strides 4, 8, 16). A trainable
fusion + one-class bottleneck (`mff_oce`) squeezes them into one compact map at stride
32, and a trainable student (`net_s`), a mirrored ResNet of upsampling bottlenecks,
rebuilds F3, F2, F1 from it. Trained on normal images only, the student fails to
rebuild what it never saw: anomalies are where its features point away from the
teacher's.

Module names mirror ADer's parameter table (net_t, mff_oce, net_s and their children)
so counts can be compared line by line: 80.61M parameters at 256 with WRN50-2
(teacher 24.863M frozen, mff_oce 30.83M, student 24.918M).

Channels are derived from the teacher's (C1, C2, C3) = (256, 512, 1024) for WRN50-2:
- mff_oce: F1 -> 3x3 s2 conv C1->C2 -> 3x3 s2 conv C2->C3, F2 -> 3x3 s2 conv C2->C3
  (no bias, BN + ReLU each), concatenated with F3: 3*C3 @ S/16; then 3 ResNet
  bottlenecks of planes C2 (width C2, output 4*C2), the first with stride 2 and a
  1x1 s2 conv + BN downsample: 4*C2 @ S/32.
- net_s: 3, 4, 6 de-bottlenecks of planes C3/4, C2/4, C1/4 (width 2x planes, output
  4x planes), the first of each stage upsampling x2 with 2x2 s2 transposed convs in
  its middle conv and in its skip (deconv + BN); outputs C3 @ S/16, C2 @ S/8, C1 @ S/4.
A smaller backbone (resnet18/34: 64, 128, 256) scales everything the same way.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torchvision.models.resnet import Bottleneck

from baselines.backbones import FeatureEncoder
from baselines.base import AnomalyModel, ModelOptionError
from baselines.cosine import cosine_loss, smoothed_cosine_map

STUDENT_BLOCKS = (3, 4, 6)  # de-bottlenecks per student stage (deep to shallow)
BOTTLENECK_BLOCKS = 3  # ResNet bottlenecks of the one-class embedding
STUDENT_WIDTH_PER_GROUP = 128  # the "wide" in de_wide_resnet50_2


class RDOutputs(NamedTuple):
    """Teacher and student features, both ordered shallow to deep (strides 4, 8, 16)."""

    teacher: list[torch.Tensor]
    student: list[torch.Tensor]


def _conv3x3_s2(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False)


def _deconv2x2(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2, bias=False)


def resnet_init(module: nn.Module) -> None:
    """ResNet initialisation: Kaiming-normal (fan_out, ReLU) convs, unit-scale BN.

    Transposed convs keep PyTorch's default initialisation.
    """
    for child in module.modules():
        if isinstance(child, nn.Conv2d):
            nn.init.kaiming_normal_(child.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(child, nn.BatchNorm2d):
            nn.init.ones_(child.weight)
            nn.init.zeros_(child.bias)


class FusionBottleneck(nn.Module):
    """Multi-scale feature fusion + one-class embedding (ADer's `mff_oce`).

    [F1, F2, F3] with channels (C1, C2, C3) at strides 4, 8, 16 -> 4*C2 @ stride 32.
    """

    def __init__(self, channels: tuple[int, int, int], blocks: int = BOTTLENECK_BLOCKS):
        super().__init__()
        c1, c2, c3 = channels
        fused, planes = 3 * c3, c2
        out = planes * Bottleneck.expansion
        downsample = nn.Sequential(
            nn.Conv2d(fused, out, 1, stride=2, bias=False), nn.BatchNorm2d(out)
        )
        self.bn_layer = nn.Sequential(
            Bottleneck(fused, planes, stride=2, downsample=downsample),
            *(Bottleneck(out, planes) for _ in range(blocks - 1)),
        )
        self.conv1, self.bn1 = _conv3x3_s2(c1, c2), nn.BatchNorm2d(c2)
        self.conv2, self.bn2 = _conv3x3_s2(c2, c3), nn.BatchNorm2d(c3)
        self.conv3, self.bn3 = _conv3x3_s2(c2, c3), nn.BatchNorm2d(c3)
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out
        resnet_init(self)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        f1, f2, f3 = features
        from_f1 = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(f1))))))
        from_f2 = self.relu(self.bn3(self.conv3(f2)))
        return self.bn_layer(torch.cat([from_f1, from_f2, f3], dim=1))


class DeBottleneck(nn.Module):
    """A ResNet bottleneck run backwards: 1x1 -> 3x3 (or 2x2 s2 deconv) -> 1x1, + skip.

    With `upsample`, the middle conv is a 2x2 stride-2 transposed conv and the skip a
    2x2 stride-2 transposed conv + BN, doubling the resolution.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, upsample: bool = False) -> None:
        super().__init__()
        width = planes * STUDENT_WIDTH_PER_GROUP // 64
        out = planes * self.expansion
        self.conv1, self.bn1 = nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = (
            _deconv2x2(width, width)
            if upsample
            else nn.Conv2d(width, width, 3, padding=1, bias=False)
        )
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.upsample = (
            nn.Sequential(_deconv2x2(in_channels, out), nn.BatchNorm2d(out)) if upsample else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.upsample is None else self.upsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + skip)


class Student(nn.Module):
    """The mirrored ResNet decoder (ADer's `net_s`): embedding -> [F1', F2', F3'].

    layer1 rebuilds F3 (C3 @ S/16), layer2 F2 (C2 @ S/8), layer3 F1 (C1 @ S/4).
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int]) -> None:
        super().__init__()
        stages = []
        for out, blocks in zip(reversed(channels), STUDENT_BLOCKS, strict=True):
            planes = out // DeBottleneck.expansion
            stages.append(
                nn.Sequential(
                    DeBottleneck(in_channels, planes, upsample=True),
                    *(DeBottleneck(out, planes) for _ in range(blocks - 1)),
                )
            )
            in_channels = out
        self.layer1, self.layer2, self.layer3 = stages
        resnet_init(self)

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        f3 = self.layer1(embedding)
        f2 = self.layer2(f3)
        f1 = self.layer3(f2)
        return [f1, f2, f3]


class ReverseDistillation(AnomalyModel):
    """RD: frozen teacher `net_t`, trainable `mff_oce` + student `net_s`."""

    def __init__(self, image_size: int, weights: str, backbone: str) -> None:
        super().__init__()
        if image_size % 32:
            raise ModelOptionError(f"RD needs an image size divisible by 32, got {image_size}")
        self.image_size = image_size
        self.net_t = FeatureEncoder(backbone, weights)
        self.mff_oce = FusionBottleneck(self.net_t.channels)
        self.net_s = Student(self.mff_oce.out_channels, self.net_t.channels)

    def forward(self, images: torch.Tensor) -> RDOutputs:
        teacher = self.net_t(images)
        return RDOutputs(teacher, self.net_s(self.mff_oce(teacher)))

    def loss(self, outputs: RDOutputs) -> torch.Tensor:
        """sum over scales of mean over samples of 1 - cos(t_b, s_b), t_b = flat C*H*W."""
        return cosine_loss(outputs.teacher, outputs.student)

    def anomaly_map(self, outputs: RDOutputs) -> torch.Tensor:
        """(B, S, S) float32: sum over scales of 1 - cos over channels, bilinearly resized
        (align_corners=True) to S x S, then Gaussian-smoothed (sigma 4).

        ADer divides the sum by 9 (a constant that changes no metric); we do not, so
        our maps are 9x ADer's, each pixel in [0, 6].
        """
        return smoothed_cosine_map(outputs.teacher, outputs.student, self.image_size)


def build(
    image_size: int = 256, weights: str = "default", backbone: str | None = None
) -> ReverseDistillation:
    """RD for S x S inputs; backbone defaults to ADer's WRN50-2 (weights: see backbones)."""
    return ReverseDistillation(image_size, weights, backbone or "wide_resnet50_2")
