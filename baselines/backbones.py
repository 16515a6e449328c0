"""Frozen multi-scale ResNet encoders (stem + layer1..3) and where their weights come from.

All pretrained weights are resolved here, in one place (`--weights default|none|PATH`):
- default: the release ADer used, downloaded once through torch.hub's cache and checked
  against the sha256 prefix in its file name (timm's `name-<sha256[:8]>.pth` scheme);
- PATH: a local file (offline machines); if its name carries a hash suffix, it is checked;
- none: random initialisation, for tests and quick CPU runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torch import nn

from adcommon.checksums import sha256_file
from adcommon.errors import InputError

_TIMM_RELEASE = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights"


@dataclass(frozen=True)
class EncoderSpec:
    """A torchvision ResNet, the channels of its layer1..3 and its default weights URL."""

    arch: str
    channels: tuple[int, int, int]
    url: str


ENCODERS: dict[str, EncoderSpec] = {
    spec.arch: spec
    for spec in (
        EncoderSpec("wide_resnet50_2", (256, 512, 1024),
                    f"{_TIMM_RELEASE}/wide_resnet50_racm-8234f177.pth"),
        EncoderSpec("resnet34", (64, 128, 256), f"{_TIMM_RELEASE}/resnet34-43635321.pth"),
        EncoderSpec("resnet18", (64, 128, 256),
                    "https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    )
}

_HASH_SUFFIX = re.compile(r"-([0-9a-f]{8,64})\.pth?$")


class WeightsError(InputError):
    """Pretrained weights could not be obtained or do not fit: a one-line message."""


def encoder_spec(arch: str) -> EncoderSpec:
    """The spec of encoder `arch`; WeightsError naming the known ones otherwise."""
    if arch not in ENCODERS:
        raise WeightsError(f"unknown backbone {arch!r} (known: {', '.join(sorted(ENCODERS))})")
    return ENCODERS[arch]


def check_hash_suffix(path: Path) -> None:
    """If `path` is named `stem-<hex>.pth`, its sha256 must start with <hex>."""
    match = _HASH_SUFFIX.search(path.name)
    if match and not sha256_file(path).startswith(match.group(1)):
        raise WeightsError(
            f"{path}: sha256 does not start with {match.group(1)} as its name says "
            "(corrupted or wrong file)"
        )


def _download(spec: EncoderSpec) -> Path:
    target = Path(torch.hub.get_dir()) / "checkpoints" / spec.url.rsplit("/", 1)[1]
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(spec.url, str(target), progress=True)
        except Exception as error:  # network errors come in many types
            raise WeightsError(
                f"cannot download {spec.url} ({type(error).__name__}: {error}); fetch it on a "
                "machine with internet access and pass --weights PATH"
            ) from None
    return target


def resolve_weights(arch: str, weights: str | Path) -> Path | None:
    """The local weights file for `weights` ("default", "none" or a path), hash-checked."""
    spec = encoder_spec(arch)
    if str(weights) == "none":
        return None
    path = _download(spec) if str(weights) == "default" else Path(weights)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    check_hash_suffix(path)
    return path


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a checkpoint file, unwrapping a top-level 'state_dict' or 'model' entry."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"{path}: not a readable torch checkpoint ({error})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds no state dict")
    return state


class FeatureEncoder(nn.Module):
    """A frozen ResNet stem + layer1..3 returning [F1, F2, F3] at strides 4, 8, 16.

    Module names follow torchvision (conv1, bn1, layer1..3) so parameter tables match
    ADer's. Always in eval mode, no gradients: it is the fixed reference the models learn.
    """

    def __init__(self, arch: str, weights: str | Path = "default") -> None:
        super().__init__()
        spec = encoder_spec(arch)
        net = getattr(torchvision.models, arch)(weights=None)
        path = resolve_weights(arch, weights)
        if path is not None:
            try:
                net.load_state_dict(load_state_dict(path))
            except RuntimeError as error:
                first = str(error).splitlines()[0]
                raise WeightsError(f"{path}: does not fit {arch}: {first}") from None
        self.channels = spec.channels
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FeatureEncoder:
        """Stay in eval mode whatever the caller asks: BatchNorm statistics are frozen."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        f1 = self.layer1(x)
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        return [f1, f2, f3]
