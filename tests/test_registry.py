"""The open registry: a model registered from outside adbench trains through the whole
pipeline, directly or as a plugin found through the `adbench.baselines` entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from adbench.cli import main
from baselines import (
    Recipe,
    UnknownBaselineError,
    build_model,
    get_baseline,
    list_baselines,
    register_baseline,
    registry,
)
from baselines.base import AnomalyModel

REPO = Path(__file__).resolve().parents[1]
RECIPE = Recipe(lr=1e-3, ref_batch=8, batch_size=8, betas=(0.9, 0.999))


class TinyModel(AnomalyModel):
    """A one-conv reconstruction model: small enough to train in a second."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images, self.net(images)

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return torch.mean((outputs[0] - outputs[1]) ** 2)

    def anomaly_map(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return ((outputs[0] - outputs[1]) ** 2).mean(dim=1)


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test disappear after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_a_model_registered_from_outside_trains_through_the_pipeline(
        fresh_registry: None, toy_mvtec_root: Path, tmp_path: Path) -> None:
    @register_baseline("tiny", recipe=RECIPE, defaults={"width": 4},
                       description="one conv layer")
    def build(image_size: int = 256, weights: str = "default", width: int = 4,
              **_: object) -> TinyModel:
        return TinyModel(width)

    assert "tiny" in list_baselines() and get_baseline("tiny").recipe == RECIPE
    assert build_model("tiny", image_size=32, width=6).width == 6  # options pass through
    assert build_model("tiny", image_size=32).width == 4  # the registered default
    out, board = tmp_path / "run", tmp_path / "board.csv"
    result = CliRunner().invoke(main, [
        "run-baseline", "tiny", "--data", str(toy_mvtec_root), "--out", str(out),
        "--leaderboard", str(board), "--weights", "none", "--device", "cpu",
        "--image-size", "32", "--epochs", "1", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["classes"]) == {"tile", "grid"}
    assert "tiny" in board.read_text()


def test_registration_errors(fresh_registry: None) -> None:
    register_baseline("twice", TinyModel, RECIPE)
    with pytest.raises(ValueError, match="already registered"):
        register_baseline("twice", TinyModel, RECIPE)
    register_baseline("twice", TinyModel, RECIPE, replace=True)
    with pytest.raises(TypeError, match="a Recipe is required"):
        register_baseline("no-recipe", TinyModel)
    with pytest.raises(UnknownBaselineError, match=r"unknown baseline 'nope' \(known: .*twice"):
        get_baseline("nope")


PLUGIN = '''
"""A baseline living outside adbench."""
import torch
from torch import nn
from baselines import Recipe, register_baseline
from baselines.base import AnomalyModel


class Plugged(AnomalyModel):
    def __init__(self):
        super().__init__()
        self.net = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, images):
        return images, self.net(images)

    def loss(self, outputs):
        return torch.mean((outputs[0] - outputs[1]) ** 2)

    def anomaly_map(self, outputs):
        return ((outputs[0] - outputs[1]) ** 2).mean(dim=1)


@register_baseline("plugged", recipe=Recipe(lr=1e-3, ref_batch=8, batch_size=8,
                                            betas=(0.9, 0.999)))
def build(image_size=256, weights="default", **options):
    return Plugged()
'''


def test_a_plugin_package_is_found_through_its_entry_point(toy_mvtec_root: Path,
                                                          tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "my_plugin.py").write_text(PLUGIN)
    dist_info = site / "my_plugin-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[adbench.baselines]\nplugged = my_plugin\n")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "adbench", "run-baseline", "plugged", "--data",
         str(toy_mvtec_root), "--out", str(out), "--leaderboard", str(tmp_path / "b.csv"),
         "--weights", "none", "--device", "cpu", "--image-size", "32", "--epochs", "1",
         "--quiet"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "metrics.json").is_file()
    assert json.loads((out / "config.json").read_text())["name"] == "plugged"
