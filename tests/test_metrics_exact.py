"""Exactness of `metrics.score` against scikit-learn, brute-force loops and hand-computed
cases, including Hypothesis property tests (ties, constant maps, tiny maps, dtypes)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_metrics import (
    adeval_transcription,
    brute_aupro,
    loop_threshold_metrics,
    sklearn_ranking,
)
from scipy import ndimage

from metrics import METRIC_KEYS, score
from metrics.regions import label_regions

TOL = 1e-9


def _score(maps, masks, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return score(maps, masks, **kw)


def test_hand_computed_four_pixels():
    # one pixel per image: scores .1 .4 .35 .8, labels 0 0 1 1
    maps = np.array([0.1, 0.4, 0.35, 0.8], dtype=np.float64).reshape(4, 1, 1)
    masks = np.array([0, 0, 1, 1]).reshape(4, 1, 1)
    m = _score(maps, masks)
    assert m["auroc_p"] == pytest.approx(0.75, abs=TOL)
    assert m["auroc_i"] == pytest.approx(0.75, abs=TOL)
    assert m["ap_p"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, abs=TOL)
    assert m["f1max_p"] == pytest.approx(0.8, abs=TOL)  # threshold .35: P=2/3, R=1
    # AUPRO: two single-pixel regions; FPR steps 0 -> .5 at t=.4: at t=.8 PRO=.5 (FPR 0),
    # t=.4 FPR .5 PRO .5 -> interpolated at .3: PRO .5, area .3*.5 -> AUPRO .5
    assert m["aupro_p"] == pytest.approx(0.5, abs=TOL)
    # normalised scores (0, .4286, .3571, 1): at t in .2..8 pred and gt -> hand counts
    ref = loop_threshold_metrics(maps, masks)
    for key in ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p"):
        assert m[key] == pytest.approx(ref[key], abs=TOL)
    # t = .5 .. .8 keep only the top pixel: IoU 1/2; t=.2,.3 keep 3 pixels: IoU 2/3
    assert m["iou_max_p"] == pytest.approx(2 / 3, abs=1e-7)
    assert m["mad_p"] == pytest.approx((0.75 + m["ap_p"] + 0.8) / 3, abs=TOL)


def test_hand_computed_ties_count_half():
    maps = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32).reshape(2, 1, 2)
    masks = np.array([[[1, 0]], [[0, 0]]])
    m = _score(maps, masks)
    assert m["auroc_p"] == 0.5
    assert m["ap_p"] == pytest.approx(0.25, abs=TOL)
    assert m["f1max_p"] == pytest.approx(2 * 0.25 / 1.25, abs=TOL)
    # constant maps normalise to 0 everywhere: nothing is predicted at any threshold
    assert m["iou_max_p"] == 0.0 and m["f1_p_20_80"] == 0.0


def test_all_keys_and_aggregates():
    rng = np.random.default_rng(1)
    masks = rng.random((6, 9, 9)) < 0.2
    masks[1] = False
    maps = rng.random((6, 9, 9)).astype(np.float32) + masks
    m = _score(maps, masks)
    assert list(m) == list(METRIC_KEYS)
    seven = ["auroc_i", "ap_i", "f1max_i", "aupro_p", "auroc_p", "ap_p", "f1max_p"]
    assert m["mad"] == pytest.approx(np.mean([m[k] for k in seven]), abs=1e-12)
    assert m["mad_20_80"] == pytest.approx(
        np.mean([m["f1_p_20_80"], m["acc_p_20_80"], m["iou_p_20_80"]]), abs=1e-12)


def _check_against_references(maps: np.ndarray, masks: np.ndarray) -> None:
    m = _score(maps, masks)
    labels = (masks != 0).ravel()
    values = maps.astype(np.float64).ravel()
    auroc, ap, f1 = sklearn_ranking(values, labels)
    assert abs(m["auroc_p"] - auroc) < TOL
    assert abs(m["ap_p"] - ap) < TOL
    assert abs(m["f1max_p"] - f1) < TOL
    assert abs(m["aupro_p"] - brute_aupro(maps, masks)) < TOL
    ref = loop_threshold_metrics(maps, masks)
    for key in ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p"):
        assert abs(m[key] - ref[key]) < TOL, key
    img_labels = masks.reshape(len(masks), -1).any(axis=1)
    if 0 < img_labels.sum() < len(img_labels):
        img = sklearn_ranking(maps.reshape(len(maps), -1).max(axis=1).astype(float),
                              img_labels)
        assert np.allclose([m["auroc_i"], m["ap_i"], m["f1max_i"]], img, atol=TOL, rtol=0)


@st.composite
def map_sets(draw):
    n = draw(st.integers(1, 5))
    h = draw(st.integers(1, 7))
    w = draw(st.integers(2, 7))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    levels = draw(st.sampled_from([2, 5, 50, 0]))  # 0: continuous values
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    raw = rng.standard_normal((n, h, w)) * draw(st.sampled_from([1e-3, 1.0, 1e4]))
    if levels:
        raw = np.round(raw * levels) / levels
    if draw(st.booleans()):
        raw = raw - raw.min()  # zeros and a -0.0-free range
    masks = rng.random((n, h, w)) < draw(st.sampled_from([0.05, 0.3, 0.7]))
    masks[0, 0, 0] = True
    if n * h * w > 1:
        masks.reshape(-1)[-1] = False
    if draw(st.booleans()):
        raw = raw + 0.5 * masks
    return raw.astype(dtype), masks


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(map_sets())
def test_property_against_references(data):
    maps, masks = data
    _check_against_references(maps, masks)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64]))
def test_property_constant_maps(seed, dtype):
    rng = np.random.default_rng(seed)
    masks = rng.random((3, 4, 5)) < 0.4
    masks[0, 0, 0], masks[2, 3, 4] = True, False
    maps = np.full(masks.shape, rng.standard_normal(), dtype=dtype)
    _check_against_references(maps, masks)
    assert _score(maps, masks)["auroc_p"] == 0.5


def test_wide_range_many_buckets_float32_vs_float64():
    # values spanning many exponents and signs hit many radix buckets; heavy ties too
    rng = np.random.default_rng(7)
    masks = np.zeros((12, 40, 40), dtype=bool)
    masks[::2, 5:15, 5:25] = True
    masks[1::3, 30:33, 30:31] = True
    maps = (rng.lognormal(0, 6, masks.shape) * rng.choice([-1, 1], masks.shape)
            + 3 * masks).astype(np.float32)
    maps[:, :5] = np.round(maps[:, :5])
    maps[0, 0, :3] = [0.0, -0.0, 0.0]
    _check_against_references(maps, masks)
    m32, m64 = _score(maps, masks), _score(maps.astype(np.float64), masks)
    for key in METRIC_KEYS:
        assert abs(m32[key] - m64[key]) < TOL, key


def test_single_pixel_and_no_anomaly():
    m = _score(np.array([[[0.3]]], dtype=np.float32), np.array([[[1]]]))
    assert m["auroc_p"] is None and m["auroc_i"] is None and m["ap_p"] == 1.0
    with pytest.warns(UserWarning, match="no anomalous"):
        empty = score(np.random.default_rng(0).random((3, 4, 4)), np.zeros((3, 4, 4)))
    assert all(empty[k] is None for k in METRIC_KEYS)


def test_image_scores_override_maxima():
    rng = np.random.default_rng(3)
    maps = rng.random((6, 5, 5))
    masks = np.zeros((6, 5, 5))
    masks[:3, 1, 1] = 1
    given_scores = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])
    m = _score(maps, masks, image_scores=given_scores)
    auroc, ap, f1 = sklearn_ranking(given_scores, np.arange(6) < 3)
    assert (m["auroc_i"], m["ap_i"], m["f1max_i"]) == pytest.approx((auroc, ap, f1), abs=TOL)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.1, 0.4, 0.7]))
def test_regions_match_scipy_8_connectivity(seed, density):
    mask = (np.random.default_rng(seed).random((13, 17)) < density).astype(np.uint8)
    labels = np.zeros(mask.shape, dtype=np.int32)
    areas = label_regions(mask, labels, np.empty(mask.size + 1, dtype=np.int32))
    ref, n = ndimage.label(mask, structure=np.ones((3, 3)))
    assert len(areas) - 1 == n
    # same partition: each reference region maps to exactly one of ours and vice versa
    pairs = {(a, b) for a, b in zip(ref.ravel(), labels.ravel(), strict=True)}
    assert len(pairs) == n + (1 if (mask == 0).any() else 0)
    assert sorted(areas[1:]) == sorted(np.bincount(ref.ravel())[1:])


@settings(max_examples=40, deadline=None)
@given(map_sets())
def test_compat_ader_matches_transcription(data):
    maps, masks = data
    if maps.min() == maps.max() or (masks != 0).all():
        return
    m = _score(maps, masks, compat="ader")
    ref = adeval_transcription(maps, masks)
    for key in ("auroc_p", "ap_p"):
        assert abs(m[key] - ref[key]) < TOL, key
    if np.isfinite(ref["aupro_p"]):
        assert abs(m["aupro_p"] - ref["aupro_p"]) < TOL
    assert abs(m["f1max_p"] - loop_threshold_metrics(maps, masks)["ader_f1max_p"]) < TOL
    exact = _score(maps, masks)
    assert m["auroc_i"] == exact["auroc_i"] and m["iou_max_p"] == exact["iou_max_p"]


@settings(max_examples=60, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(0, 1e6), st.integers(0, 2**32 - 1))
def test_cut_boundaries_are_exact(lo, width, seed):
    from metrics.boundaries import normalised_cut_boundaries
    from metrics.formulas import CUTS

    hi = lo + width
    rng = np.random.default_rng(seed)
    values = np.concatenate([[lo, hi], lo + (hi - lo) * rng.random(200)])
    values = np.clip(values, lo, hi)
    bounds = normalised_cut_boundaries(CUTS, lo, hi)
    span = hi - lo
    normed = (values - lo) / span if span > 0 else np.zeros_like(values)
    for t, b in zip(CUTS, bounds, strict=True):
        assert np.array_equal(normed > t, values >= b)
        # b is the smallest such float: its predecessor is not above t
        if np.isfinite(b) and span > 0 and b > lo:
            assert not (np.nextafter(b, -np.inf) - lo) / span > t
