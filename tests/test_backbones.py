"""FeatureEncoder: frozen, ADer's parameter count, shapes, and every way weights resolve."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import torchvision

from baselines.backbones import FeatureEncoder, WeightsError


def torchvision_features(net: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """layer1..3 outputs of a torchvision ResNet, computed step by step."""
    x = net.maxpool(net.relu(net.bn1(net.conv1(images))))
    f1 = net.layer1(x)
    f2 = net.layer2(f1)
    return [f1, f2, net.layer3(f2)]


@pytest.fixture
def resnet18_file(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    source = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)
    return source, path


def test_wide_resnet50_2_stem_to_layer3_count_and_shapes() -> None:
    with torch.device("meta"):
        encoder = FeatureEncoder("wide_resnet50_2", "none")
        features = encoder(torch.empty(2, 3, 256, 256))
    assert sum(p.numel() for p in encoder.parameters()) == 24_862_528  # ADer: 24.863M
    assert [tuple(f.shape) for f in features] == [
        (2, 256, 64, 64), (2, 512, 32, 32), (2, 1024, 16, 16)
    ]
    assert encoder.channels == (256, 512, 1024)
    assert not hasattr(encoder, "layer4") and not hasattr(encoder, "fc")


def test_frozen_no_gradients_and_stays_in_eval() -> None:
    encoder = FeatureEncoder("resnet18", "none")
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not any(m.training for m in encoder.modules())
    parent = torch.nn.Sequential(encoder).train()
    assert parent.training and not encoder.training
    features = encoder(torch.randn(2, 3, 64, 64, requires_grad=True))
    assert [tuple(f.shape) for f in features] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)]
    assert not any(f.requires_grad for f in features)


def test_local_file_gives_the_source_networks_features(resnet18_file) -> None:
    """Compared exactly: the encoder runs the same modules (loaded with the same weights)
    on the same batch as the step-by-step reference, so the same kernels run, on any CPU."""
    source, path = resnet18_file
    encoder = FeatureEncoder("resnet18", path)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = torchvision_features(source, images)
    for got, want in zip(encoder(images), expected, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_hash_suffix_is_checked(resnet18_file, tmp_path: Path) -> None:
    _, path = resnet18_file
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    good = path.rename(tmp_path / f"x-{digest[:8]}.pth")
    FeatureEncoder("resnet18", good)
    wrong_prefix = "0" * 8 if not digest.startswith("0" * 8) else "1" * 8
    bad = good.rename(tmp_path / f"x-{wrong_prefix}.pth")
    with pytest.raises(WeightsError, match="sha256"):
        FeatureEncoder("resnet18", bad)


def test_wrong_architecture_is_one_line_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "r34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(WeightsError) as raised:
        FeatureEncoder("resnet18", path)
    message = str(raised.value)
    assert "\n" not in message and "r34.pth" in message and "resnet18" in message


def test_not_a_checkpoint_is_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=r"junk\.pth"):
        FeatureEncoder("resnet18", path)


def test_missing_path_is_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        FeatureEncoder("resnet18", tmp_path / "absent.pth")


def test_unknown_backbone_is_weights_error() -> None:
    with pytest.raises(WeightsError, match="unknown backbone"):
        FeatureEncoder("vgg16", "none")


def test_default_weights_offline_says_to_pass_a_path(tmp_path: Path, monkeypatch) -> None:
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
        with pytest.raises(WeightsError, match="--weights PATH") as raised:
            FeatureEncoder("resnet18", "default")
    finally:
        torch.hub.set_dir(previous)
    assert "\n" not in str(raised.value)
    assert not list(tmp_path.rglob("*.pth"))  # nothing half-written left in the cache
