"""The toy PREDS/GTS generator: deterministic, every map format, masks only where anomalous."""

from __future__ import annotations

import numpy as np
from PIL import Image

from adbench.toydata.maps import write_toy_score_folders


def _tree(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_from_seed(tmp_path):
    a = write_toy_score_folders(tmp_path / "a", seed=3, classes=("x", "y", "z"))
    b = write_toy_score_folders(tmp_path / "b", seed=3, classes=("x", "y", "z"))
    c = write_toy_score_folders(tmp_path / "c", seed=4, classes=("x", "y", "z"))
    assert _tree(a[0].parent) == _tree(b[0].parent)
    assert _tree(a[0].parent) != _tree(c[0].parent)


def test_layout_formats_and_masks(tmp_path):
    preds, gts = write_toy_score_folders(tmp_path, classes=("x", "y", "z"), n_per_class=6,
                                         size=32)
    suffixes = {p.suffix for p in preds.rglob("*.*")}
    assert suffixes == {".npy", ".npz", ".tif", ".png"}
    for cls in ("x", "y", "z"):
        stems = {p.stem for p in (preds / cls).iterdir()}
        masks = list((gts / cls).iterdir())
        assert len(stems) == 6 and 0 < len(masks) < 6
        for mask in masks:
            assert mask.stem in stems
            values = np.asarray(Image.open(mask))
            assert values.shape == (32, 32) and set(np.unique(values)) == {0, 255}
