"""The masks a run evaluates its maps against: the scorer's `--resize masks` rule, which is
ADer's data pipeline (checked here against torchvision itself)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adbench.pipeline.evaluation import evaluated_mask
from baselines.data import Sample


def test_evaluated_mask_is_aders_pipeline(tmp_path: Path):
    """Reference: ADer's mask pipeline through torchvision: the mask as an 8-bit image
    (anomalous = 255), transforms.Resize((S, S)) on the PIL image, ToTensor, > 0.5.
    (A float resize differs: Pillow rounds its 8-bit passes, up to 0.94 grey levels.)"""
    transforms = pytest.importorskip("torchvision.transforms")
    rng = np.random.default_rng(0)
    for source_size, size in ((50, 32), (20, 64), (64, 64), (31, 17)):
        mask = (rng.random((source_size, source_size)) > 0.6).astype(np.uint8) * 200
        Image.fromarray(mask).save(tmp_path / "m.png")
        ours = evaluated_mask(Sample(tmp_path / "x.png", tmp_path / "m.png", "c", "c/x"), size)
        pipeline = transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
        ref = pipeline(Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8)))[0] > 0.5
        assert ours.shape == (size, size)
        np.testing.assert_array_equal(ours, ref.numpy())
    assert not evaluated_mask(Sample(tmp_path / "x.png", None, "c", "c/x"), 8).any()


def test_evaluated_mask_counts_any_colour_channel(tmp_path: Path):
    """Same rule as `adbench score`: an RGB pixel (1, 0, 0) is anomalous; an LA mask's
    alpha is not a colour."""
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[2, 3] = (1, 0, 0)
    rgb[5, 5] = (0, 0, 7)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    expected = np.zeros((8, 8), bool)
    expected[2, 3] = expected[5, 5] = True
    sample = Sample(tmp_path / "x.png", tmp_path / "rgb.png", "c", "c/x")
    np.testing.assert_array_equal(evaluated_mask(sample, 8), expected)
    la = np.zeros((8, 8, 2), np.uint8)
    la[..., 1] = 255
    la[1, 1, 0] = 3
    Image.fromarray(la, mode="LA").save(tmp_path / "la.png")
    expected = np.zeros((8, 8), bool)
    expected[1, 1] = True
    sample = Sample(tmp_path / "x.png", tmp_path / "la.png", "c", "c/x")
    np.testing.assert_array_equal(evaluated_mask(sample, 8), expected)
