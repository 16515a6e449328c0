"""`metrics.Scorer`: any batching, order, split over merged and pickled scorers, thread
count or memory bound gives bitwise the result of `metrics.score` on the whole class;
maps of mixed sizes and float types; torch / DLPack / __array__ inputs; errors."""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_metrics import brute_aupro, loop_threshold_metrics, sklearn_ranking

import metrics.engine
import metrics.runs
import metrics.staging
import metrics.threads
from metrics import METRIC_KEYS, ClassMetrics, ScoreInputError, Scorer, score
from metrics.errors import UndefinedMetricWarning

TOL = 1e-9
COMPATS = (None, "ader", "ader-paper")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _same(a: dict, b: dict) -> bool:
    """Bitwise equality of two results (None == None)."""
    return list(a) == list(b) and all(
        (a[k] is None and b[k] is None) or (a[k] is not None and b[k] is not None
                                           and np.float64(a[k]).tobytes()
                                           == np.float64(b[k]).tobytes()) for k in a)


def make_class(rng: np.random.Generator, n: int, kind: str, dtypes: str,
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """n images of random sizes; values continuous, tied, saturated at the maximum, or
    of a float64 spread finer than float32 resolution."""
    maps, masks = [], []
    for i in range(n):
        h, w = rng.integers(1, 12, 2)
        mask = rng.random((h, w)) < rng.choice([0.0, 0.2, 0.6])
        amap = rng.random((h, w)) + 0.7 * mask * rng.random()
        if kind == "tied":
            amap = np.round(amap * 4) / 4
        elif kind == "saturated":
            amap = np.minimum(amap, 0.8)
        elif kind == "tiny":
            amap = 1.0 + 1e-10 * np.round(amap * 50)
        dtype = {"32": np.float32, "64": np.float64}.get(dtypes, (np.float32, np.float64)[i % 2])
        maps.append(amap.astype(dtype))
        masks.append(mask)
    masks[0][0, 0] = True
    if masks[-1].size > 1 or n > 1:
        masks[-1][-1, -1] = False
    return maps, masks


@st.composite
def classes(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["continuous", "tied", "saturated", "tiny"]))
    dtypes = draw(st.sampled_from(["32", "64", "mixed"]))
    if kind == "tiny":
        dtypes = "64"
    n = draw(st.integers(2, 14))
    maps, masks = make_class(np.random.default_rng(seed), n, kind, dtypes)
    return maps, masks, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(classes(), st.sampled_from(COMPATS))
def test_batching_order_merge_pickle_and_memory_give_the_same_bits(data, compat):
    maps, masks, seed = data
    reference = _quiet(score, maps, masks, compat=compat)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(maps))
    cuts = np.sort(rng.choice(np.arange(1, len(maps)), size=min(3, len(maps) - 1),
                              replace=False))
    parts = np.split(order, cuts)
    scorers = []
    for p, part in enumerate(parts):
        # some scorers get a tiny bound: they spill, and walk buckets in pieces
        bound = [None, 1e-4, 2e-5][p % 3]
        scorer = Scorer(compat=compat, max_memory=bound)
        for batch in np.array_split(part, max(1, len(part) // 2)):
            scorer.update([maps[i] for i in batch], [masks[i] for i in batch])
        if p % 2:
            scorer = pickle.loads(pickle.dumps(scorer))
        scorers.append(scorer)
    merged = scorers[-1]
    for other in scorers[:-1]:
        merged.merge(other)
    assert _same(_quiet(merged.compute), reference)
    assert merged.n_images == len(maps)


def test_result_does_not_depend_on_the_thread_count(monkeypatch):
    maps, masks = make_class(np.random.default_rng(3), 40, "tied", "mixed")
    results = []
    for threads in (1, 2, 3, 7):
        for module in (metrics.threads, metrics.staging, metrics.engine):
            monkeypatch.setattr(module, "n_threads", lambda t=threads: t)
        for compat in COMPATS:
            results.append((compat, _quiet(score, maps, masks, compat=compat)))
    for compat in COMPATS:
        found = [r for c, r in results if c == compat]
        assert all(_same(found[0], other) for other in found[1:])


def test_large_class_against_references_and_bounded_memory(tmp_path):
    """~200k pixels: many buckets, a saturated bucket larger than the group buffer,
    spilled runs; exact against scikit-learn and the brute-force loops."""
    rng = np.random.default_rng(11)
    masks = np.zeros((24, 96, 96), dtype=bool)
    masks[::3, 20:50, 30:60] = True
    masks[1::4, 70:75, 10:12] = True
    maps = (rng.gamma(2.0, 1.0, masks.shape) + 2.5 * masks * rng.random(masks.shape))
    maps = np.minimum(maps, 2.5).astype(np.float32)  # ~30%: one bucket over the group buffer
    free = _quiet(score, maps, masks)
    spill = tmp_path / "spill"
    spill.mkdir()
    seen = []
    real_spill = metrics.runs.SpillFile

    def counting_spill(arrays, folder):
        seen.append(folder)
        return real_spill(arrays, folder)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(metrics.runs, "SpillFile", counting_spill)
        with Scorer(max_memory=2e-4, tmp=spill) as scorer:
            for i in range(0, 24, 5):
                scorer.update(maps[i:i + 5], masks[i:i + 5])
            bounded = _quiet(scorer.compute)
            assert os.listdir(spill)  # spilled runs live there while the scorer does
    assert seen and all(folder == spill for folder in seen)
    assert not os.listdir(spill)  # and are gone with it
    assert _same(bounded, free)
    auroc, ap, f1 = sklearn_ranking(maps.astype(np.float64).ravel(), masks.ravel())
    assert abs(free["auroc_p"] - auroc) < TOL and abs(free["ap_p"] - ap) < TOL
    assert abs(free["f1max_p"] - f1) < TOL
    ref = loop_threshold_metrics(maps, masks)
    for key in ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p"):
        assert abs(free[key] - ref[key]) < TOL
    # one float64 map makes the class float64: the float32 runs' saturated bucket is
    # widened while it is streamed in key ranges
    mixed = [*maps[:-1], maps[-1].astype(np.float64) + 1e-12]
    free = _quiet(score, mixed, masks)
    with Scorer(max_memory=2e-4, tmp=spill) as scorer:
        scorer.update(mixed, masks)
        assert _same(_quiet(scorer.compute), free)
    auroc, ap, f1 = sklearn_ranking(np.concatenate([m.ravel() for m in mixed]), masks.ravel())
    assert abs(free["auroc_p"] - auroc) < TOL and abs(free["ap_p"] - ap) < TOL


def test_float64_bucket_walked_in_key_ranges_is_exact():
    """float64 maps whose whole spread fits one bucket, under a bound that forces the
    bucket to be split into key ranges (recursively) and a saturated key."""
    rng = np.random.default_rng(5)
    masks = rng.random((6, 60, 60)) < 0.15
    maps = 1.0 + 1e-9 * np.round(rng.random(masks.shape) * 200) / 200 + 5e-10 * masks
    maps[:, :20] = 1.0 + 2e-9  # one key held by more pixels than a piece, the maximum
    free = _quiet(score, maps, masks)
    with Scorer(max_memory=3e-5) as scorer:
        scorer.update(maps, masks)
        bounded = _quiet(scorer.compute)
    assert _same(bounded, free)
    auroc, ap, f1 = sklearn_ranking(maps.ravel(), masks.ravel())
    assert abs(free["auroc_p"] - auroc) < TOL and abs(free["ap_p"] - ap) < TOL
    assert abs(free["f1max_p"] - f1) < TOL
    assert abs(free["aupro_p"] - brute_aupro(maps, masks)) < TOL


def test_mixed_sizes_against_references():
    maps, masks = make_class(np.random.default_rng(2), 9, "tied", "32")
    m = _quiet(score, maps, masks)
    values = np.concatenate([x.ravel() for x in maps]).astype(np.float64)
    labels = np.concatenate([x.ravel() for x in masks])
    auroc, ap, f1 = sklearn_ranking(values, labels)
    assert abs(m["auroc_p"] - auroc) < TOL and abs(m["ap_p"] - ap) < TOL
    assert abs(m["f1max_p"] - f1) < TOL
    assert abs(m["aupro_p"] - brute_aupro(maps, masks)) < TOL
    ref = loop_threshold_metrics(values, labels)
    for key in ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p"):
        assert abs(m[key] - ref[key]) < TOL
    img = sklearn_ranking(np.array([x.max() for x in maps], dtype=np.float64),
                          np.array([x.any() for x in masks]))
    assert np.allclose([m["auroc_i"], m["ap_i"], m["f1max_i"]], img, atol=TOL, rtol=0)


def test_float32_values_in_a_float64_class_give_the_same_exact_metrics():
    maps, masks = make_class(np.random.default_rng(8), 12, "tied", "32")
    as32 = _quiet(score, maps, masks)
    as64 = _quiet(score, [m.astype(np.float64) for m in maps], masks)
    late64 = _quiet(score, [*maps[:-1], maps[-1].astype(np.float64)], masks)
    assert _same(as32, as64) and _same(as64, late64)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.sampled_from([np.nan, np.inf, -np.inf]),
                                            min_size=1, max_size=4),
       st.sampled_from([np.float32, np.float64]))
def test_add_image_rejects_non_finite_maps_and_stays_unchanged(seed, poisons, dtype):
    """`add_image` checks a map as it stages it: a map with NaN or an infinity anywhere
    (first pixel, last pixel, a staging buffer's chunk boundary) raises and adds
    nothing, so the images around it score as `metrics.score` on the good ones."""
    rng = np.random.default_rng(seed)
    maps, masks = make_class(rng, 7, "continuous", "32")
    maps = [m.astype(dtype) for m in maps]
    scorer = Scorer(max_memory=1e-3)  # small staging buffers: several chunks and runs
    for i, (amap, mask) in enumerate(zip(maps, masks, strict=True)):
        scorer.add_image(amap, mask)
        if i < len(poisons):
            bad = amap.copy()
            bad.flat[int(rng.integers(0, bad.size)) if i else -1] = poisons[i]
            with pytest.raises(ScoreInputError, match="NaN or infinite"):
                scorer.add_image(bad, mask)
    assert scorer.n_images == len(maps)
    assert _same(_quiet(scorer.compute), _quiet(score, maps, masks))


def test_zero_extremes_are_positive_zero():
    """A map whose extreme is a zero gives +0.0 as its image score and as the class's
    lowest score, whichever zero (-0.0 or +0.0) its pixels met first."""
    scorer = Scorer()
    scorer.add_image(np.array([[-0.0, 0.0, 0.0]], dtype=np.float32), np.zeros((1, 3)))
    scorer.add_image(np.array([[0.5, 0.25, 0.0]], dtype=np.float32), np.eye(1, 3))
    scorer.add_image(np.array([[0.0, -0.0, -0.0]], dtype=np.float32), np.zeros((1, 3)))
    thresholds = scorer.curves(resolution=None).image_roc.thresholds
    assert thresholds is not None and thresholds[-1] == 0.0
    assert not np.signbit(thresholds[-1])
    assert not np.signbit(scorer.curves(resolution=None).pixel_roc.thresholds[-1])


def test_update_rejects_bad_batches_and_stays_unchanged():
    maps, masks = make_class(np.random.default_rng(4), 6, "continuous", "32")
    scorer = Scorer()
    scorer.update(maps[:3], masks[:3])
    bad = [maps[3].copy(), maps[4]]
    bad[1] = bad[1].copy()
    bad[1].flat[0] = np.nan
    with pytest.raises(ScoreInputError, match="map 1 holds NaN"):
        scorer.update(bad, masks[3:5])
    with pytest.raises(ScoreInputError, match="map 0 is"):
        scorer.update([maps[3]], [np.zeros((maps[3].shape[0] + 1, 2))])
    with pytest.raises(ScoreInputError, match="image scores"):
        scorer.update(maps[3:], masks[3:], image_scores=[0.1, 0.2, 0.3])
    with pytest.raises(ScoreInputError, match="2 image scores for 3 maps"):
        scorer.update(maps[3:], masks[3:], image_scores=[0.1, 0.2])
    with pytest.raises(ScoreInputError, match=r"\(B, H, W\)"):
        scorer.update(maps[0], masks[0])
    assert scorer.n_images == 3
    scorer.update(maps[3:], masks[3:])
    assert _same(_quiet(scorer.compute), _quiet(score, maps, masks))
    with pytest.raises(ValueError, match="itself"):
        scorer.merge(scorer)
    with pytest.raises(ValueError, match="compat"):
        scorer.merge(Scorer(compat="ader"))
    with pytest.raises(ScoreInputError, match="no maps"):
        Scorer().compute()
    with pytest.raises(ScoreInputError, match="compat"):
        Scorer(compat="adeval")
    with pytest.raises(ScoreInputError, match="max_memory"):
        Scorer(max_memory=0)


def test_image_scores_per_batch_and_typed_result():
    maps, masks = make_class(np.random.default_rng(6), 8, "continuous", "32")
    given_scores = np.linspace(0, 1, 8)[::-1]
    scorer = Scorer()
    scorer.update(maps[:5], masks[:5], image_scores=given_scores[:5])
    scorer.update(maps[5:], masks[5:], image_scores=list(given_scores[5:]))
    m = _quiet(scorer.compute)
    ref = sklearn_ranking(given_scores, np.array([x.any() for x in masks]))
    assert np.allclose([m["auroc_i"], m["ap_i"], m["f1max_i"]], ref, atol=TOL, rtol=0)
    assert list(m) == list(METRIC_KEYS) == list(ClassMetrics.__annotations__)
    with pytest.raises(ScoreInputError, match="every batch or for none"):
        scorer.update(maps[:1], masks[:1])


def test_undefined_metrics_warn_with_their_own_category():
    maps = np.random.default_rng(0).random((3, 4, 4))
    with pytest.warns(UndefinedMetricWarning, match="no anomalous or no normal image"):
        result = score(maps, np.zeros((3, 4, 4)))
    assert issubclass(UndefinedMetricWarning, UserWarning)
    assert all(result[k] is None for k in METRIC_KEYS)


class _DLPackOnly:
    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __dlpack__(self, **kwargs):
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


class _ArrayOnly:
    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.shape = array.shape
        self.dtype = array.dtype

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


def test_dlpack_and_array_protocol_inputs():
    maps, masks = make_class(np.random.default_rng(9), 5, "continuous", "32")
    ref = _quiet(score, maps, masks)
    assert _same(_quiet(score, [_DLPackOnly(m) for m in maps],
                        [_DLPackOnly(k.astype(np.uint8)) for k in masks]), ref)
    stack = np.stack([np.resize(m, (4, 4)) for m in maps])
    stack_masks = np.stack([np.resize(k, (4, 4)) for k in masks])
    assert _same(_quiet(score, _ArrayOnly(stack), _ArrayOnly(stack_masks)),
                 _quiet(score, stack, stack_masks))


def test_torch_tensors_of_every_float_type():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    maps = [torch.tensor(rng.random((5 + i, 6)), dtype=torch.float32) for i in range(4)]
    masks = [torch.tensor(rng.random((5 + i, 6)) < 0.3) for i in range(4)]
    masks[0][0, 0] = True
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    for device in devices:
        for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            tensors = [m.to(device=device, dtype=dtype).clone().requires_grad_(True)
                       for m in maps]
            expected = [t.detach().float().cpu().numpy() if dtype != torch.float64
                        else t.detach().cpu().numpy() for t in tensors]
            got = _quiet(score, tensors, [k.to(device) for k in masks])
            assert _same(got, _quiet(score, expected, [k.numpy() for k in masks]))
        batch = torch.stack([m[:5] for m in maps]).to(device).unsqueeze(1)  # (B, 1, H, W)
        got = _quiet(score, batch, torch.stack([k[:5] for k in masks]).to(device))
        assert _same(got, _quiet(score, [m[:5].numpy() for m in maps],
                                 [k[:5].numpy() for k in masks]))


def test_pickled_spilled_scorer_carries_its_data(tmp_path):
    maps, masks = make_class(np.random.default_rng(12), 30, "continuous", "mixed")
    scorer = Scorer(max_memory=1e-5, tmp=tmp_path)
    scorer.update(maps, masks)
    scorer._flush()
    assert os.listdir(tmp_path)
    blob = pickle.dumps(scorer)
    scorer.close()
    assert not os.listdir(tmp_path)
    restored = pickle.loads(blob)
    assert _same(_quiet(restored.compute), _quiet(score, maps, masks))


def test_dataset_scorer_streams_each_class_like_score():
    from metrics import DatasetScorer

    maps, masks = make_class(np.random.default_rng(13), 14, "tied", "32")
    classes = ["b", "a"] * 7
    scorer = DatasetScorer(max_memory=1e-4)
    for start in range(0, 14, 5):
        scorer.update(classes[start:start + 5], maps[start:start + 5], masks[start:start + 5])
    result = _quiet(scorer.compute)
    assert list(result["classes"]) == ["a", "b"]
    for name in ("a", "b"):
        index = [i for i, c in enumerate(classes) if c == name]
        expected = _quiet(score, [maps[i] for i in index], [masks[i] for i in index])
        assert _same(result["classes"][name], expected)
        anomalous = sum(bool(masks[i].any()) for i in index)
        assert result["counts"][name] == {"normal": 7 - anomalous, "anomalous": anomalous}
    assert result["definition"] == "adbench-1" and result["resize"] == "none"
