"""The weights registry: its entries, the checks of a download (sha256 prefix, md5 pin,
trust on first use) and of a local file, and how a file's keys are matched to a module.
No network: downloads are simulated by copying a local file."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from baselines.normalisation import IMAGENET_MEAN, IMAGENET_STD
from baselines.weights import (
    RECORD_SUFFIX,
    WEIGHTS,
    PretrainedWeights,
    WeightsError,
    load_weights,
    resolve_weights,
)


def test_entries_are_pinned_and_match_the_pipelines_preprocessing() -> None:
    """Every entry is pinned (sha256 prefix, or a published md5 prefix); a sha256 prefix
    agrees with the file name's timm-style suffix; every encoder expects the ImageNet
    mean/std the shared input pipeline applies."""
    assert {"wide_resnet50_2", "resnet34", "resnet18", "vit_small_patch16_224.dino",
            "tf_efficientnet_b4.aa_in1k"} <= set(WEIGHTS)
    for key, entry in WEIGHTS.items():
        assert entry.key == key and entry.url.startswith("https://")
        assert entry.sha256 is not None or entry.md5_prefix is not None, key
        suffix = re.search(r"-([0-9a-f]{8,})\.pth$", entry.file_name)
        if entry.sha256 is not None:
            assert re.fullmatch(r"[0-9a-f]{8,64}", entry.sha256), key
            assert suffix is not None and suffix.group(1) == entry.sha256, key
        assert entry.mean == IMAGENET_MEAN and entry.std == IMAGENET_STD, key


@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """torch.hub's cache in tmp_path; "downloads" copy files from a local folder, counted."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    served = tmp_path / "served"
    served.mkdir()
    calls: list[str] = []

    def download(url: str, target: str, progress: bool = True) -> None:
        calls.append(url)
        shutil.copyfile(served / url.rsplit("/", 1)[1], target)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    yield served, calls
    torch.hub.set_dir(previous)


def _serve(served: Path, name: str, seed: int) -> bytes:
    torch.manual_seed(seed)
    torch.save({"weight": torch.randn(4, 4)}, served / name)
    return (served / name).read_bytes()


def test_unpinned_sha256_is_recorded_on_first_use_and_verified_after(
        fake_hub, monkeypatch: pytest.MonkeyPatch) -> None:
    served, calls = fake_hub
    data = _serve(served, "plain.pth", 0)
    entry = PretrainedWeights("tofu", "https://example.invalid/w/plain.pth", "test",
                              md5_prefix=hashlib.md5(data).hexdigest()[:6])
    monkeypatch.setitem(WEIGHTS, "tofu", entry)
    path = resolve_weights("tofu", "default")
    assert path is not None and path.read_bytes() == data and len(calls) == 1
    record = path.with_name(path.name + RECORD_SUFFIX)
    assert record.read_text().split() == [hashlib.sha256(data).hexdigest(), "plain.pth"]
    assert resolve_weights("tofu", "default") == path and len(calls) == 1  # cached, verified
    record.write_text(f"{'0' * 64}  plain.pth\n")  # as if another file had been used first
    with pytest.raises(WeightsError, match="recorded") as raised:
        resolve_weights("tofu", "default")
    assert "\n" not in str(raised.value)
    record.unlink()
    path.write_bytes(data + b"x")  # a changed file fails its md5 pin already
    with pytest.raises(WeightsError, match="md5"):
        resolve_weights("tofu", "default")


def test_a_download_that_fails_its_pin_is_removed(fake_hub, monkeypatch) -> None:
    served, _ = fake_hub
    data = _serve(served, "model-00000000.pth", 1)
    digest = hashlib.sha256(data).hexdigest()
    wrong_md5 = "0" * 6 if not hashlib.md5(data).hexdigest().startswith("0" * 6) else "1" * 6
    monkeypatch.setitem(WEIGHTS, "md5", PretrainedWeights(
        "md5", "https://example.invalid/model-00000000.pth", "test", md5_prefix=wrong_md5))
    with pytest.raises(WeightsError, match="md5"):
        resolve_weights("md5", "default")
    wrong_sha = "f" * 8 if not digest.startswith("f" * 8) else "e" * 8
    monkeypatch.setitem(WEIGHTS, "sha", PretrainedWeights(
        "sha", "https://example.invalid/model-00000000.pth", "test", sha256=wrong_sha))
    with pytest.raises(WeightsError, match="sha256"):
        resolve_weights("sha", "default")
    assert not list(Path(torch.hub.get_dir()).rglob("*.pth"))  # nothing left in the cache
    monkeypatch.setitem(WEIGHTS, "sha", PretrainedWeights(
        "sha", "https://example.invalid/model-00000000.pth", "test", sha256=digest[:10]))
    assert resolve_weights("sha", "default") is not None


def test_local_files_are_checked_by_name(tmp_path: Path, monkeypatch) -> None:
    """PATH: checked against the entry when it has the entry's file name, against its
    own hash suffix when it has one, else taken as given."""
    torch.save({"weight": torch.zeros(2)}, tmp_path / "named.pth")
    monkeypatch.setitem(WEIGHTS, "named", PretrainedWeights(
        "named", "https://example.invalid/named.pth", "test", md5_prefix="zz"))
    with pytest.raises(WeightsError, match="md5"):
        resolve_weights("named", tmp_path / "named.pth")
    other = tmp_path / "renamed.pth"
    shutil.copyfile(tmp_path / "named.pth", other)
    assert resolve_weights("named", other) == other
    with pytest.raises(WeightsError, match="not found"):
        resolve_weights("named", tmp_path / "absent.pth")
    assert resolve_weights("named", "none") is None
    with pytest.raises(WeightsError, match="unknown backbone"):
        resolve_weights("vgg", "none")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(3, 3)
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 2)


def test_load_weights_tolerates_exactly_the_declared_differences(tmp_path: Path) -> None:
    entry = PretrainedWeights("net", "https://example.invalid/net.pth", "test",
                              md5_prefix="0", unused_keys=("classifier.",),
                              absent_keys=("head.",))
    source = Net()
    state = {k: v for k, v in source.state_dict().items()
             if not k.startswith("head.") and not k.endswith("num_batches_tracked")}
    state["classifier.weight"] = torch.ones(5)
    path = tmp_path / "net.pth"
    torch.save(state, path)
    target = Net()
    load_weights(target, path, entry)
    torch.testing.assert_close(target.body.weight, source.body.weight)
    torch.testing.assert_close(target.bn.running_var, source.bn.running_var)

    torch.save({k: v for k, v in state.items() if k != "bn.bias"}, path)
    with pytest.raises(WeightsError, match=r"missing \['bn.bias'\]"):
        load_weights(Net(), path, entry)
    torch.save({**state, "extra.weight": torch.ones(1)}, path)
    with pytest.raises(WeightsError, match=r"extra\.weight"):
        load_weights(Net(), path, entry)
    torch.save({**state, "body.weight": torch.ones(4, 3)}, path)
    with pytest.raises(WeightsError) as raised:
        load_weights(Net(), path, entry)
    assert "\n" not in str(raised.value) and "body.weight" in str(raised.value)
