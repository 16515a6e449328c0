"""pooled_max, ADer's image score for ViTAD and UniAD, against a loop over all windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_ops import pooled_max_loops

from baselines.base import AnomalyModel, defines_image_score
from baselines.image_scores import pooled_max
from baselines.models.uniad import UniAD
from baselines.models.vitad import ViTAD


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 3), height=st.integers(16, 40),
       width=st.integers(16, 40), window=st.sampled_from([1, 4, 16]))
def test_pooled_max_against_loops(seed: int, batch: int, height: int, width: int,
                                  window: int) -> None:
    rng = np.random.default_rng(seed)
    maps = rng.standard_normal((batch, height, width)) ** 3  # heavy tails: a few hot pixels
    got = pooled_max(torch.from_numpy(maps), window)
    assert got.dtype == torch.float64
    for b in range(batch):
        assert float(got[b]) == pytest.approx(pooled_max_loops(maps[b], window), rel=1e-12)
    single = [float(pooled_max(torch.from_numpy(maps[b:b + 1]), window)) for b in range(batch)]
    assert got.tolist() == single  # no dependence on the batch


def test_pooled_max_is_float32_for_float32_maps_and_refuses_small_maps() -> None:
    maps = torch.rand(2, 32, 32)
    assert pooled_max(maps).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert pooled_max(maps).dtype == torch.float32
    with pytest.raises(ValueError, match="smaller"):
        pooled_max(torch.rand(1, 8, 8))


def test_which_models_define_their_own_score() -> None:
    assert defines_image_score(ViTAD.__new__(ViTAD))
    assert defines_image_score(UniAD.__new__(UniAD))
    assert not defines_image_score(AnomalyModel())
