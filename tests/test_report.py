"""`adbench report` on a toy COCO-AD fold with generated maps: the page's tables, plots,
examples and per-category breakdown, checked against independent references
(scikit-learn, `metrics.score` on the subset, plain numpy written here)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from adbench.report import write_folder_report
from adbench.report.analysis import Reading, analyse_class
from adbench.report.figures import class_figures
from adbench.report.memory import Memory
from adbench.report.page import TABLE_KEYS, percent
from adbench.report.sources import inputs_from_folders
from adbench.toydata.coco import write_toy_coco
from adbench.toydata.fold_maps import write_fold_maps
from cocoad.build import build_fold
from cocoad.meta import map_rel, read_meta
from leaderboard.html_page import paper_header
from metrics import score

pytest.importorskip("matplotlib")
RESAMPLES = 200


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    """A toy COCO-AD fold (fold 0 of 4) with generated maps and its report."""
    root = tmp_path_factory.mktemp("report")
    coco = write_toy_coco(root / "coco", seed=0, n_train=24, n_val=40)
    built = build_fold(coco, out=root / "fold", fold=0, workers=1)
    preds = write_fold_maps(built.meta_path, root / "preds", seed=0)
    out = write_folder_report(preds, root / "fold", root / "report.html",
                              meta=built.meta_path, n_resamples=RESAMPLES, workers=2)
    return {"root": root, "meta": built.meta_path, "manifest": built.manifest_path,
            "preds": preds, "html": out.read_text()}


@pytest.fixture(scope="module")
def arrays(fold):
    """Every test image's map, mask and anomalous categories, read here with numpy/PIL."""
    manifest = json.loads(fold["manifest"].read_text())
    categories = {e["img_path"]: e["category_ids"] for e in manifest["anomalous_test_images"]}
    images = []
    for entry in read_meta(fold["meta"], splits=("test",))["test"]:
        amap = np.load(fold["preds"] / f"{map_rel(entry)}.npy")
        if entry.mask_path:
            mask = np.asarray(Image.open(fold["meta"].parent / entry.mask_path)) > 0
        else:
            mask = np.zeros(amap.shape, bool)
        images.append({"key": map_rel(entry), "map": amap, "mask": mask,
                       "categories": categories.get(entry.img_path, [])})
    names = {c["id"]: c["name"] for c in manifest["anomalous_categories"]}
    return images, names


@pytest.fixture(scope="module")
def analysis(fold):
    inputs = inputs_from_folders(fold["preds"], fold["meta"].parent, fold["meta"])
    assert len(inputs.classes) == 1
    return analyse_class(inputs.classes[0], inputs.categories, Reading(workers=2), examples=6,
                         n_resamples=RESAMPLES)


def _image_scores(images):
    return (np.array([float(i["map"].max()) for i in images]),
            np.array([bool(i["mask"].any()) for i in images]))


def _pixels(images):
    return (np.concatenate([i["map"].ravel() for i in images]).astype(np.float64),
            np.concatenate([i["mask"].ravel() for i in images]))


def _pixel_f1_threshold(images) -> float:
    scores, labels = _pixels(images)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = (2 * precision * recall / (precision + recall))[:-1]
    return float(thresholds[np.flatnonzero(f1 == np.nanmax(f1)).max()])


def _row(html: str, table_class: str, first_cell: str) -> str:
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    found = [r for r in rows if re.search(rf'<td class="name">(<a [^>]*>)?{re.escape(first_cell)}',
                                          r)]
    assert len(found) == 1, first_cell
    return found[0]


def _cells(row: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>", " ", c).split()[0] if c.strip() else "" for c in cells]


def test_metric_table_shows_every_metric_under_the_papers_names(fold, arrays) -> None:
    html = fold["html"]
    images, _ = arrays
    reference = score([i["map"] for i in images], [i["mask"] for i in images])
    header = re.search(r'<table class="metrics">(.*?)</thead>', html, re.S).group(1)
    for key in TABLE_KEYS:
        assert paper_header(key) in header
    assert "mAU-ROC<sub>I</sub>" in header and "mF1<wbr><sup>.2-.8</sup>" in header
    cells = _cells(_row(html, "metrics", "coco"))
    normal = sum(not i["mask"].any() for i in images)
    assert cells[1:3] == [str(normal), str(len(images) - normal)]
    assert cells[3:] == [percent(reference[key]) for key in TABLE_KEYS]


def test_image_metrics_carry_bootstrap_intervals(fold, analysis) -> None:
    row = _row(fold["html"], "metrics", "coco")
    for key in ("auroc_i", "ap_i", "f1max_i"):
        band = analysis.intervals[key]
        assert band is not None and band.low <= analysis.metrics[key] + 1e-12
        assert f'<span class="ci">[{100 * band.low:.1f}, {100 * band.high:.1f}]</span>' in row


def test_every_plot_is_on_the_page(fold) -> None:
    html = fold["html"]
    for gid in ("roc-image", "roc-pixel", "pr-image", "pr-pixel", "pro-pixel",
                "hist-image-normal", "hist-image-anomalous", "hist-pixel-normal",
                "hist-pixel-anomalous", "categories-auroc", "categories-recall"):
        assert f'id="c0-{gid}"' in html, gid
    for name in ("roc", "pr", "pro", "image-histogram", "pixel-histogram", "categories"):
        assert html.count(f'data-plot="{name}"') == 1, name
    assert html.count("<svg") == 6


def _on_curve(drawn: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> bool:
    """Every drawn (x, y) is one of the exact points (xs ascending)."""
    for x, y in drawn:
        lo, hi = np.searchsorted(xs, x - 1e-12), np.searchsorted(xs, x + 1e-12, "right")
        if not np.any(np.abs(ys[lo:hi] - y) <= 1e-12):
            return False
    return True


def _artist(figure, gid):
    found = figure.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, gid
    return found[0]


def test_drawn_curves_are_points_of_the_exact_curves(analysis, arrays) -> None:
    images, _ = arrays
    figures = class_figures(analysis, "t")
    pixels = _pixels(images)
    for level, (scores, labels) in (("pixel", pixels), ("image", _image_scores(images))):
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
        roc = _artist(figures["roc"], f"t-roc-{level}").get_xydata()
        assert roc[0].tolist() == [0.0, 0.0] and roc[-1].tolist() == [1.0, 1.0]
        assert _on_curve(roc, fpr, tpr)
        precision, recall, _ = precision_recall_curve(labels, scores, drop_intermediate=False)
        pr = _artist(figures["pr"], f"t-pr-{level}").get_xydata()
        assert _on_curve(pr, recall[::-1], precision[::-1])
        assert len(roc) >= 3 and len(pr) >= 3
    assert len(_artist(figures["roc"], "t-roc-pixel").get_xydata()) < pixels[0].size


def test_drawn_pro_curve_follows_its_definition(analysis, arrays) -> None:
    from scipy import ndimage

    images, _ = arrays
    curve = analysis.curves.pixel_pro
    drawn = _artist(class_figures(analysis, "t")["pro"], "t-pro-pixel").get_xydata()
    assert np.array_equal(drawn, np.column_stack([curve.x, curve.y]))
    normal = np.sort(np.concatenate([i["map"][~i["mask"]] for i in images]))
    regions = []
    for image in images:
        labelled, n = ndimage.label(image["mask"], structure=np.ones((3, 3)))
        regions += [np.sort(image["map"][labelled == r]) for r in range(1, n + 1)]
    for x, y, t in list(zip(curve.x, curve.y, curve.thresholds, strict=True))[1::7]:
        fpr = (normal.size - np.searchsorted(normal, t)) / normal.size
        pro = np.mean([(r.size - np.searchsorted(r, t)) / r.size for r in regions])
        assert x == pytest.approx(fpr, abs=1e-12) and y == pytest.approx(pro, abs=1e-12)
    assert curve.x[-2] <= 0.3 < curve.x[-1] or curve.x[-1] <= 0.3


def test_histograms_count_normal_and_anomalous_scores(analysis, arrays) -> None:
    images, _ = arrays
    figures = class_figures(analysis, "t")
    image_scores, image_labels = _image_scores(images)
    pixel_scores, pixel_labels = _pixels(images)
    for level, scores, labels, shares in (("image", image_scores, image_labels, False),
                                          ("pixel", pixel_scores, pixel_labels, True)):
        for kind, chosen in (("normal", ~labels), ("anomalous", labels)):
            artist = _artist(figures[f"{level}-histogram"], f"t-hist-{level}-{kind}")
            values, edges, _ = artist.get_data()
            counts = np.histogram(scores[chosen], edges)[0].astype(float)
            if shares:
                counts /= chosen.sum()
            np.testing.assert_allclose(values, counts, rtol=0, atol=1e-12)


def _f1_threshold_images(scores, labels) -> float:
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = (2 * precision * recall / (precision + recall))[:-1]
    return float(thresholds[np.flatnonzero(f1 == np.nanmax(f1)).max()])


def _section(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


def test_worst_false_positives_and_negatives_at_the_f1_threshold(fold, arrays) -> None:
    html = fold["html"]
    images, _ = arrays
    scores, labels = _image_scores(images)
    threshold = _f1_threshold_images(scores, labels)
    index = np.arange(len(images))
    fp = sorted(index[~labels & (scores >= threshold)], key=lambda i: (-scores[i], i))[:6]
    fn = sorted(index[labels & (scores < threshold)], key=lambda i: (scores[i], i))[:6]
    assert fp or fn
    for anchor, end, chosen in (('id="fp-0"', 'id="fn-0"', fp), ('id="fn-0"', "</section>", fn)):
        section = _section(html, anchor, end)
        keys = re.findall(r'<span class="key">(.*?)</span>', section)
        assert keys == [images[i]["key"] for i in chosen]
        assert section.count('src="data:image/jpeg;base64,') == 3 * len(chosen)
    for i in fn:
        names = ", ".join(arrays[1][c] for c in images[i]["categories"])
        assert f"categories: {names}" in _section(html, 'id="fn-0"', "</section>")


def test_per_category_numbers_equal_the_subset_references(analysis, arrays) -> None:
    images, names = arrays
    normal = [i for i in images if not i["categories"]]
    threshold = _pixel_f1_threshold(images)
    assert analysis.curves.pixel_f1_threshold == pytest.approx(threshold, abs=0)
    rows = {r.category_id: r for r in analysis.categories}
    assert list(rows) == list(names)
    assert any(len(i["categories"]) > 1 for i in images)  # the counting rule is exercised
    checked = 0
    for cid, row in rows.items():
        members = [i for i in images if cid in i["categories"]]
        assert row.images == len(members)
        assert row.anomalous == sum(i["mask"].any() for i in members)
        if not members:
            assert row.auroc_i is None and row.pixel_recall is None and row.aupro_p is None
            continue
        subset = normal + members
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # subsets without anomalous pixels
            reference = score([i["map"] for i in subset], [i["mask"] for i in subset])
        scores, labels = _image_scores(subset)
        assert row.auroc_i == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert row.auroc_i == pytest.approx(reference["auroc_i"], abs=1e-12)
        assert row.aupro_p == pytest.approx(reference["aupro_p"], abs=1e-12)
        values = np.concatenate([i["map"][i["mask"]] for i in members])
        assert row.pixel_recall == pytest.approx(np.mean(values >= threshold), abs=1e-12)
        checked += 1
    assert checked >= 5


def test_a_tight_memory_bound_spills_and_changes_nothing(fold, analysis, tmp_path,
                                                         monkeypatch) -> None:
    from metrics.runs import Run

    spilled = []
    spill = Run.spill
    monkeypatch.setattr(Run, "spill", lambda run, folder: (spilled.append(folder),
                                                           spill(run, folder))[1])
    inputs = inputs_from_folders(fold["preds"], fold["meta"].parent, fold["meta"])
    tight = analyse_class(inputs.classes[0], inputs.categories, Reading(workers=2),
                          Memory(0.002, tmp_path), examples=6, n_resamples=RESAMPLES)
    assert spilled and set(spilled) == {tmp_path}
    assert tight.metrics == analysis.metrics
    assert tight.categories == analysis.categories
    for name in ("pixel_roc", "pixel_pr", "pixel_pro", "image_roc", "image_pr"):
        assert np.array_equal(getattr(tight.curves, name).x, getattr(analysis.curves, name).x)
        assert np.array_equal(getattr(tight.curves, name).y, getattr(analysis.curves, name).y)
    assert not any(tmp_path.iterdir())  # spill files removed


def test_category_table_on_the_page(fold, analysis) -> None:
    html = fold["html"]
    section = _section(html, 'id="categories-0"', "</section>")
    assert "counts once in each of them" in section
    for row in analysis.categories:
        cells = _cells(_row(section, "categories", row.name))
        assert cells[2] == percent(row.auroc_i)
        assert cells[3] == percent(row.pixel_recall)
        assert cells[4] == percent(row.aupro_p)
    ordered = [r.name for r in sorted(analysis.categories,
                                      key=lambda r: (r.auroc_i is None, -(r.auroc_i or 0),
                                                     r.name))]
    shown = re.findall(r'<tr><td class="name">([^<]*?) <span class="id">', section)
    assert shown == ordered


def test_page_is_self_contained(fold) -> None:
    html = fold["html"]
    lowered = html.lower()
    for banned in ("<script", "<link", "@import", "<iframe", "<object", "<embed"):
        assert banned not in lowered
    assert re.findall(r"url\(([^)]*)\)", html)  # the plots' clip paths ...
    assert all(target.startswith("#") for target in re.findall(r"url\(([^)]*)\)", html))
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # many inline SVGs, still one id per element
    local = re.findall(r'(?:href="#|url\(#)([^")]+)', html)
    assert local and set(local) <= set(ids)
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
    assert references
    for value in references:
        assert value.startswith(("#", "data:image/")), value[:60]
        if not value.startswith("data:"):
            assert "http" not in value and "//" not in value
