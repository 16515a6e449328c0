"""The report's bootstrap intervals: the weighted formulas against scikit-learn, and the
whole interval against a plain resampling loop written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from adbench.report.bootstrap import (
    interval,
    mean_intervals,
    resampled_image_metrics,
    weighted_image_metrics,
)


def plain_f1max(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """max over thresholds t (score >= t) of 2 TP / (TP + FP + P), weights counted."""
    n_pos = weights[labels].sum()
    best = -np.inf
    for t in np.unique(scores):
        chosen = scores >= t
        tp, fp = weights[chosen & labels].sum(), weights[chosen & ~labels].sum()
        if tp + fp > 0:
            best = max(best, 2 * tp / (tp + fp + n_pos))
    return best


@st.composite
def weighted_sets(draw):
    n = draw(st.integers(2, 40))
    scores = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), float) / 3
    labels = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    weights = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return scores, labels, weights


@settings(max_examples=150, deadline=None)
@given(weighted_sets())
def test_weighted_metrics_equal_sklearn_with_sample_weights(case) -> None:
    scores, labels, weights = case
    got = weighted_image_metrics(scores, labels, weights[None, :])
    kept = weights > 0
    pos, neg = weights[labels].sum(), weights[~labels].sum()
    if pos > 0 and neg > 0:
        expected = roc_auc_score(labels[kept], scores[kept], sample_weight=weights[kept])
        assert got["auroc_i"][0] == pytest.approx(expected, abs=1e-12)
    else:
        assert np.isnan(got["auroc_i"][0])
    if pos > 0:
        expected_ap = average_precision_score(labels[kept], scores[kept],
                                              sample_weight=weights[kept])
        assert got["ap_i"][0] == pytest.approx(expected_ap, abs=1e-12)
        assert got["f1max_i"][0] == pytest.approx(plain_f1max(scores, labels, weights),
                                                   abs=1e-12)
    else:
        assert np.isnan(got["ap_i"][0]) and np.isnan(got["f1max_i"][0])


def test_interval_equals_a_plain_resampling_loop() -> None:
    rng = np.random.default_rng(3)
    n = 50
    labels = rng.random(n) < 0.4
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounded: ties
    n_resamples, seed = 300, 11
    got = resampled_image_metrics(scores, labels, n_resamples, seed)

    draw = np.random.default_rng(seed)
    loop: dict[str, list[float]] = {"auroc_i": [], "ap_i": [], "f1max_i": []}
    for _ in range(n_resamples):
        pick = draw.integers(0, n, n)
        s, y = scores[pick], labels[pick]
        if y.all() or not y.any():
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = 2 * precision * recall / (precision + recall)
        loop["auroc_i"].append(roc_auc_score(y, s))
        loop["ap_i"].append(average_precision_score(y, s))
        loop["f1max_i"].append(float(np.max(f1[np.isfinite(f1)])))
    for key, values in loop.items():
        band = interval(got[key])
        low, high = np.percentile(values, [2.5, 97.5])
        assert band is not None and band.resamples == len(values)
        assert band.low == pytest.approx(low, abs=1e-12)
        assert band.high == pytest.approx(high, abs=1e-12)
        assert band.low <= band.high


def test_undefined_resamples_are_left_out_and_all_undefined_gives_none() -> None:
    scores = np.array([0.1, 0.9, 0.4])
    labels = np.array([False, True, False])
    got = resampled_image_metrics(scores, labels, 200, 0)
    defined = ~np.isnan(got["auroc_i"])
    assert 0 < defined.sum() < 200  # some resamples draw no anomalous image
    assert interval(got["auroc_i"]).resamples == defined.sum()
    only_normal = resampled_image_metrics(scores, np.zeros(3, bool), 50, 0)
    assert interval(only_normal["ap_i"]) is None


def test_mean_interval_averages_the_classes_per_resample() -> None:
    rng = np.random.default_rng(0)
    per_class, points = [], []
    for shift in (0.5, 1.5):
        labels = rng.random(40) < 0.5
        scores = rng.normal(labels * shift, 1.0)
        per_class.append(resampled_image_metrics(scores, labels, 100, 1))
        points.append({"auroc_i": 0.7, "ap_i": 0.7, "f1max_i": 0.7})
    band = mean_intervals(points, per_class)["auroc_i"]
    averaged = (per_class[0]["auroc_i"] + per_class[1]["auroc_i"]) / 2
    assert band is not None
    assert band.low == pytest.approx(np.nanpercentile(averaged, 2.5), abs=1e-12)
    # a class whose point value is undefined does not enter the mean's interval
    points[1] = {"auroc_i": None, "ap_i": 0.7, "f1max_i": 0.7}
    only_first = mean_intervals(points, per_class)["auroc_i"]
    assert only_first == interval(per_class[0]["auroc_i"])
