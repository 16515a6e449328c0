"""The folder scorer on the streaming engine: maps of mixed sizes and float types in one
class, a memory bound that spills to `tmp` with bitwise the same results, and spill
files removed on success, on bad input and on Ctrl-C."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image

import metrics.loading
import metrics.runs
from metrics import ScoreInputError, score, score_folders


def _write_class(root, rng, n=14):
    """A class of maps of different sizes (float32, one float64), masks on even images."""
    preds, gts = root / "preds" / "cls", root / "gts" / "cls"
    preds.mkdir(parents=True)
    gts.mkdir(parents=True)
    maps, masks = [], []
    for i in range(n):
        h, w = rng.integers(20, 70, 2)
        mask = np.zeros((h, w), dtype=bool)
        if i % 2 == 0:
            mask[h // 4:h // 2, w // 3:w // 2 + 3] = True
        amap = (rng.random((h, w)) + 0.5 * mask).astype(np.float32)
        if i == n - 2:
            amap = amap.astype(np.float64) + 1e-12  # needs float64
        amap = np.round(amap * 300) / 300  # ties
        np.save(preds / f"{i:03d}.npy", amap)
        if mask.any():
            Image.fromarray(mask.astype(np.uint8) * 255).save(gts / f"{i:03d}.png")
        maps.append(amap)
        masks.append(mask)
    return root / "preds", root / "gts", maps, masks


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_mixed_sizes_and_a_bound_give_the_same_bits(tmp_path, monkeypatch):
    preds, gts, maps, masks = _write_class(tmp_path, np.random.default_rng(0))
    free = _quiet(score_folders, preds, gts, max_memory=None)
    assert free["classes"]["cls"] == _quiet(score, maps, masks)
    assert free["counts"]["cls"] == {"normal": 7, "anomalous": 7}
    spill = tmp_path / "spill"
    spill.mkdir()
    files = []
    real = metrics.runs.SpillFile

    def recording(arrays, folder):
        made = real(arrays, folder)
        files.append(made.path)
        return made

    monkeypatch.setattr(metrics.runs, "SpillFile", recording)
    bounded = _quiet(score_folders, preds, gts, max_memory=1e-4, tmp=spill, workers=3)
    assert files and all(os.path.dirname(f) == str(spill) for f in files)
    assert bounded == free
    assert not os.listdir(spill)


def test_spill_files_removed_on_bad_input_and_on_interrupt(tmp_path, monkeypatch):
    preds, gts, maps, _ = _write_class(tmp_path, np.random.default_rng(1), n=16)
    spill = tmp_path / "spill"
    spill.mkdir()
    last = preds / "cls" / "015.npy"
    bad = maps[15].copy()
    bad[0, 0] = np.inf
    np.save(last, bad)
    with pytest.raises(ScoreInputError, match=r"015\.npy: map holds NaN or infinite"):
        score_folders(preds, gts, max_memory=1e-4, tmp=spill)
    assert not os.listdir(spill)
    np.save(last, maps[15])
    real_load = metrics.loading.load_pair
    seen = []

    def interrupted(map_path, mask_path, resize, mask_threshold):
        seen.append(map_path)
        if len(seen) == 12:
            raise KeyboardInterrupt
        return real_load(map_path, mask_path, resize, mask_threshold)

    monkeypatch.setattr(metrics.loading, "load_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        score_folders(preds, gts, max_memory=1e-4, tmp=spill, workers=2)
    assert len(seen) >= 12
    assert not os.listdir(spill)


def test_map_and_mask_of_different_sizes_name_the_files(tmp_path):
    preds, gts, _, _ = _write_class(tmp_path, np.random.default_rng(2), n=4)
    np.save(preds / "cls" / "002.npy", np.zeros((5, 6), dtype=np.float32))
    with pytest.raises(ScoreInputError, match=r"002\.npy: map is 5x6 but its mask .*002"
                                              r"\.png is \d+x\d+"):
        score_folders(preds, gts)
