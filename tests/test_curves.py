"""Curves for reports: every kept point lies exactly on scikit-learn's roc_curve /
precision_recall_curve, the areas of unthinned curves equal the metrics, thinning keeps
the ends and the F1-max point, and the histograms count like a plain loop."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_metrics import brute_aupro
from sklearn.metrics import precision_recall_curve, roc_curve

from metrics import Scorer, class_curves, score

TOL = 1e-9


def _data(seed: int, levels: int, n: int = 6, size: int = 9):
    rng = np.random.default_rng(seed)
    masks = rng.random((n, size, size)) < 0.25
    masks[1::2] = False  # normal images
    masks[0, 0, 0] = True
    maps = rng.random(masks.shape) + 0.6 * masks
    if levels:
        maps = np.round(maps * levels) / levels
    return maps.astype(np.float32), masks


def _points(x, y, thresholds):
    return {(float(a), float(b), float(t)) for a, b, t in zip(x, y, thresholds, strict=True)}


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 3, 20]),
       st.sampled_from([None, 4, 50]))
def test_kept_points_lie_on_sklearns_curves(seed, levels, resolution):
    maps, masks = _data(seed, levels)
    curves = _quiet(class_curves, maps, masks, resolution=resolution)
    values, labels = maps.astype(np.float64).ravel(), masks.ravel()
    fpr, tpr, thr = roc_curve(labels, values, drop_intermediate=False)
    roc = _points(fpr, tpr, thr)
    ours = _points(curves.pixel_roc.x, curves.pixel_roc.y, curves.pixel_roc.thresholds)
    assert ours <= roc
    precision, recall, thr = precision_recall_curve(labels, values)
    pr = _points(recall, precision, [*thr, np.inf])
    ours = _points(curves.pixel_pr.x, curves.pixel_pr.y, curves.pixel_pr.thresholds)
    assert ours <= pr
    # the ends and the F1-max point are always kept
    assert curves.pixel_roc.x[-1] == 1.0 and curves.pixel_roc.y[-1] == 1.0
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-300)
    best = curves.pixel_f1_threshold
    assert best in set(curves.pixel_pr.thresholds.tolist())
    at = np.flatnonzero(curves.pixel_pr.thresholds == best)[0]
    p, r = curves.pixel_pr.y[at], curves.pixel_pr.x[at]
    assert abs(2 * p * r / (p + r) - f1.max()) < TOL
    image_values = maps.reshape(len(maps), -1).max(axis=1).astype(np.float64)
    image_labels = masks.reshape(len(masks), -1).any(axis=1)
    fpr, tpr, thr = roc_curve(image_labels, image_values, drop_intermediate=False)
    assert _points(curves.image_roc.x, curves.image_roc.y,
                   curves.image_roc.thresholds) <= _points(fpr, tpr, thr)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 4]))
def test_unthinned_areas_equal_the_metrics(seed, levels):
    maps, masks = _data(seed, levels)
    m = _quiet(score, maps, masks)
    curves = _quiet(class_curves, maps, masks, resolution=None, fpr_limit=1.0)
    roc = curves.pixel_roc
    assert len(roc.x) == len(np.unique(maps)) + 1
    area = float(np.sum(np.diff(roc.x) * (roc.y[1:] + roc.y[:-1]) / 2))
    assert abs(area - m["auroc_p"]) < TOL
    pr = curves.pixel_pr
    assert abs(float(np.sum(np.diff(pr.x) * pr.y[1:])) - m["ap_p"]) < TOL
    pro = curves.pixel_pro
    x, y = pro.x, pro.y
    inside = np.flatnonzero(x <= 0.3)
    area = float(np.sum(np.diff(x[inside]) * (y[inside][1:] + y[inside][:-1]) / 2))
    if inside[-1] + 1 < len(x):
        x1, x2, y1, y2 = x[inside[-1]], x[inside[-1] + 1], y[inside[-1]], y[inside[-1] + 1]
        y_at = y1 + (y2 - y1) * (0.3 - x1) / (x2 - x1)
        area += (0.3 - x1) * (y1 + y_at) / 2
    assert abs(area / 0.3 - m["aupro_p"]) < TOL
    assert abs(m["aupro_p"] - brute_aupro(maps, masks)) < TOL
    image = curves.image_roc
    area = float(np.sum(np.diff(image.x) * (image.y[1:] + image.y[:-1]) / 2))
    assert abs(area - m["auroc_i"]) < TOL


def test_thinning_bounds_the_number_of_points_and_keeps_pro_to_the_limit():
    rng = np.random.default_rng(0)
    masks = rng.random((20, 64, 64)) < 0.1
    maps = (rng.random(masks.shape) + masks * rng.random(masks.shape)).astype(np.float32)
    with Scorer() as scorer:
        scorer.update(maps, masks)
        thin = scorer.curves(resolution=100)
        full = scorer.curves(resolution=None)
    assert len(full.pixel_roc.x) > 50_000
    assert len(thin.pixel_roc.x) < 4 * 100 + 10
    assert len(thin.pixel_pr.x) < len(full.pixel_pr.x) // 20
    assert thin.pixel_pro.x[-2] <= 0.3 < thin.pixel_pro.x[-1]
    assert thin.pixel_f1_threshold == full.pixel_f1_threshold


def test_histograms_count_like_a_loop():
    maps, masks = _data(4, 0)
    curves = _quiet(class_curves, maps, masks, bins=7)
    h = curves.pixel_histogram
    values, labels = maps.astype(np.float64).ravel(), masks.ravel()
    lo, hi = values.min(), values.max()
    assert h.edges[0] == lo and h.edges[-1] == hi and len(h.edges) == 8
    for k in range(7):
        inside = (values >= h.edges[k]) & ((values < h.edges[k + 1]) | (k == 6))
        assert h.normal[k] == np.count_nonzero(inside & ~labels)
        assert h.anomalous[k] == np.count_nonzero(inside & labels)
    image = curves.image_histogram
    scores = maps.reshape(len(maps), -1).max(axis=1)
    assert image.normal.sum() + image.anomalous.sum() == len(scores)


def test_undefined_curves_are_empty():
    maps = np.random.default_rng(0).random((3, 4, 4)).astype(np.float32)
    curves = _quiet(class_curves, maps, np.zeros((3, 4, 4)))
    assert curves.pixel_roc.x.size == 0 and curves.pixel_pr.x.size == 0
    assert curves.pixel_f1_threshold is None and curves.image_f1_threshold is None
    assert curves.pixel_histogram.normal.sum() == maps.size
    with pytest.raises(Exception, match="no maps"):
        Scorer().curves()
