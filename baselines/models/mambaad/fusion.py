"""MambaAD's fusion of the teacher's three scales into one map at stride 32 (ADer's
"MFF_OCE": multi-scale feature fusion + one-class embedding).

With the teacher's channels (C1, C2, C3) = (64, 128, 256) for ResNet34, BatchNorm + ReLU
after every conv (docs/baselines.md, "MambaAD"):
    a = ReLU(BN(conv1: 3x3 stride 2, C1 -> C2, no bias (F1)))
    b = ReLU(BN(conv21: 1x1, C2 -> C2 (F2))) + a
    c = ReLU(BN(conv2: 3x3 stride 2, C2 -> C3, no bias (b))) + ReLU(BN(conv31: 1x1 (F3)))
    d = ReLU(BN(convf: 1x1, C3 -> C3 (c)))
    out = bn_layer(d): 3 ResNet bottlenecks of width C3 / 2, the first with stride 2 and a
          1x1 stride-2 conv + BN shortcut: 2 * C3 channels at S / 32.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.resnet import Bottleneck

from baselines.models.rd import resnet_init

BOTTLENECK_BLOCKS = 3


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1
             ) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    """A conv (3x3 stride 2 without bias, or 1x1 with bias) and its BatchNorm."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                     bias=kernel == 1)
    return conv, nn.BatchNorm2d(out_channels)


class MultiScaleFusion(nn.Module):
    """[F1, F2, F3] (strides 4, 8, 16) -> one (b, 2 * C3, S/32, S/32) map."""

    def __init__(self, channels: tuple[int, int, int]) -> None:
        super().__init__()
        c1, c2, c3 = channels
        planes = c3 // 2
        out = planes * Bottleneck.expansion
        self.conv1, self.bn1 = _conv_bn(c1, c2, 3, stride=2)
        self.conv21, self.bn21 = _conv_bn(c2, c2, 1)
        self.conv2, self.bn2 = _conv_bn(c2, c3, 3, stride=2)
        self.conv31, self.bn31 = _conv_bn(c3, c3, 1)
        self.convf, self.bnf = _conv_bn(c3, c3, 1)
        shortcut = nn.Sequential(nn.Conv2d(c3, out, 1, stride=2, bias=False), nn.BatchNorm2d(out))
        self.bn_layer = nn.Sequential(
            Bottleneck(c3, planes, stride=2, downsample=shortcut),
            *(Bottleneck(out, planes) for _ in range(BOTTLENECK_BLOCKS - 1)))
        self.relu = nn.ReLU(inplace=True)
        self.out_channels = out
        resnet_init(self)

    def forward(self, features: list[Tensor]) -> Tensor:
        f1, f2, f3 = features
        a = self.relu(self.bn1(self.conv1(f1)))
        b = self.relu(self.bn21(self.conv21(f2))) + a
        c = self.relu(self.bn2(self.conv2(b))) + self.relu(self.bn31(self.conv31(f3)))
        return self.bn_layer(self.relu(self.bnf(self.convf(c))))
