"""`compat="ader"` and `compat="ader-paper"` against plain transcriptions of ADer's two
evaluators (tests/reference_metrics.py): saturated maps, ties, float64 maps finer than
float32, constant maps, and what the modes keep exact."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_metrics import (
    ader_paper_transcription,
    adeval_transcription,
    loop_threshold_metrics,
)

from metrics import UndefinedMetricWarning, score, score_folders
from metrics.compat import trapezoid

TOL = 1e-9


def _score(maps, masks, compat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score(maps, masks, compat=compat)


@st.composite
def compat_classes(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, h, w = draw(st.integers(2, 5)), draw(st.integers(2, 9)), draw(st.integers(2, 9))
    masks = rng.random((n, h, w)) < draw(st.sampled_from([0.1, 0.3, 0.6]))
    masks[0, 0, 0], masks[-1, -1, -1] = True, False
    maps = rng.random((n, h, w)) + draw(st.sampled_from([0.0, 0.3, 1.0])) * masks
    kind = draw(st.sampled_from(["continuous", "ties", "saturated", "tiny64", "big"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    if kind == "ties":
        maps = np.round(maps * 5) / 5
    elif kind == "saturated":  # many pixels at the maximum: the double count matters
        maps = np.minimum(maps, np.quantile(maps, draw(st.sampled_from([0.5, 0.8, 0.95]))))
    elif kind == "tiny64":  # a spread below float32's resolution
        maps, dtype = 3.0 + 1e-12 * np.round(maps * 40), np.float64
    elif kind == "big":
        maps = maps * 1e30 - 5e29
    return maps.astype(dtype), masks


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compat_classes())
def test_ader_matches_the_transcription(data):
    maps, masks = data
    if maps.min() == maps.max():
        return
    m = _score(maps, masks, "ader")
    ref = adeval_transcription(maps, masks)
    for key in ("auroc_p", "ap_p", "aupro_p"):
        assert abs(m[key] - ref[key]) < TOL, key
    assert abs(m["f1max_p"] - loop_threshold_metrics(maps, masks)["ader_f1max_p"]) < TOL


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(compat_classes())
def test_ader_paper_matches_the_transcription(data):
    maps, masks = data
    if maps.min() == maps.max():
        return
    m = _score(maps, masks, "ader-paper")
    ref = ader_paper_transcription(maps, masks)
    if np.isnan(ref):
        assert m["aupro_p"] is None
    else:
        assert abs(m["aupro_p"] - ref) < TOL
    exact = _score(maps, masks, None)
    for key in ("auroc_p", "ap_p", "auroc_i", "ap_i", "f1max_i", "iou_max_p"):
        assert m[key] == exact[key], key
    assert abs(m["f1max_p"] - loop_threshold_metrics(maps, masks)["ader_f1max_p"]) < TOL


def test_saturated_maps_count_the_maximum_twice():
    rng = np.random.default_rng(0)
    masks = rng.random((4, 30, 30)) < 0.3
    maps = np.minimum(rng.random(masks.shape) + 0.5 * masks, 1.0).astype(np.float32)
    assert (maps == 1.0).mean() > 0.1
    m = _score(maps, masks, "ader")
    ref = adeval_transcription(maps, masks)
    assert abs(m["auroc_p"] - ref["auroc_p"]) < TOL
    # without the second count of the maximum the numbers differ: the test can tell
    flat, gt = maps.ravel(), masks.ravel()
    bins = np.minimum((((flat - flat.min()) * np.float32(50)) / (flat.max() - flat.min()))
                      .astype(int), 49)
    pos = np.bincount(bins[gt], minlength=50)[::-1].cumsum() / gt.sum()
    neg = np.bincount(bins[~gt], minlength=50)[::-1].cumsum() / (~gt).sum()
    single = trapezoid(pos, neg)
    assert abs(single - m["auroc_p"]) > 1e-3


def test_float64_maps_finer_than_float32_are_binned_in_float64():
    rng = np.random.default_rng(1)
    masks = rng.random((3, 20, 20)) < 0.3
    maps = 0.5 + 1e-10 * (rng.random(masks.shape) + masks)  # one float32 value
    assert len(np.unique(maps.astype(np.float32))) == 1
    m = _score(maps, masks, "ader")
    exact = _score(maps, masks, None)
    assert m["auroc_p"] > 0.7 and abs(m["auroc_p"] - exact["auroc_p"]) < 0.05
    assert abs(m["auroc_p"] - adeval_transcription(maps, masks)["auroc_p"]) < TOL


def test_constant_maps_and_undefined_ader_paper():
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, :2] = True
    constant = np.full(masks.shape, 0.25, dtype=np.float32)
    for compat in ("ader", "ader-paper"):
        m = _score(constant, masks, compat)
        assert m["aupro_p"] is None and m["f1max_p"] == 0.0
    assert _score(constant, masks, "ader")["auroc_p"] is None
    # normal pixels all at the minimum: every FPR below 0.3 is 0, ADer's rescale is 0/0
    maps = np.where(masks, np.linspace(1, 2, masks.size).reshape(masks.shape), 0.0)
    with pytest.warns(UndefinedMetricWarning, match="ader-paper AUPRO is undefined"):
        assert score(maps, masks, compat="ader-paper")["aupro_p"] is None
    assert np.isnan(ader_paper_transcription(maps, masks))


def test_folders_record_the_definition(tmp_path):
    from adbench.toydata.maps import write_toy_score_folders

    preds, gts = write_toy_score_folders(tmp_path, classes=("a",), n_per_class=4, size=16)
    for compat, name in ((None, "adbench-1"), ("ader", "ader"), ("ader-paper", "ader-paper")):
        assert score_folders(preds, gts, compat=compat)["definition"] == name
