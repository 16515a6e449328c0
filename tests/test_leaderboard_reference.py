"""ADer's published COCO-AD rows shipped as package data."""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import fmean

import pytest

from leaderboard import AGGREGATE_DATASET, fold_averages, reference_rows
from metrics.keys import METRIC_KEYS

SHARED_REFERENCE = Path("/work/shared/reference/ader_coco_ad_logs.csv")
MAD_PARTS = {
    "mad_i": ("auroc_i", "ap_i", "f1max_i"),
    "mad_p": ("auroc_p", "ap_p", "f1max_p"),
    "mad_20_80": ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80"),
    "mad": ("auroc_i", "ap_i", "f1max_i", "aupro_p", "auroc_p", "ap_p", "f1max_p"),
}
# InvAD's published image AUROC on folds 0..3 (ADer's benchmark logs).
# ADer's method names, where the registry spells them otherwise.
REGISTRY_NAMES = {"rd++": "rdpp"}
INVAD_AUROC_I = (0.74315, 0.55745, 0.66492, 0.60166)


def test_reference_rows_are_reported_ader_coco_ad_rows() -> None:
    rows = reference_rows()
    assert rows and all(row["source"] == "reported" for row in rows)
    assert all(row["definition"] == "ader" and row["dataset"] == "coco-ad" for row in rows)
    assert all((row["image_size"], row["epochs"]) == (256, 100) for row in rows)
    # COCO-AD's 4-fold split, trained in fp32 as ADer does; published rows have no run id
    assert all((row["num_folds"], row["precision"], row["run_id"]) == (4, "fp32", "")
               for row in rows)
    assert all(0.0 <= row[key] <= 1.0 for row in rows for key in METRIC_KEYS)
    keys = [(row["method"], row["fold"]) for row in rows]
    assert len(keys) == len(set(keys))


def test_invad_has_four_folds_and_their_average() -> None:
    invad = sorted((r for r in reference_rows() if r["method"] == "invad"),
                   key=lambda r: r["fold"])
    assert [row["fold"] for row in invad] == [0, 1, 2, 3]
    assert tuple(row["auroc_i"] for row in invad) == INVAD_AUROC_I
    for row in invad:
        for key, parts in MAD_PARTS.items():
            assert row[key] == pytest.approx(fmean(row[p] for p in parts), abs=1e-6)
    (average,) = [a for a in fold_averages(reference_rows()) if a["method"] == "invad"]
    assert average["dataset"] == AGGREGATE_DATASET
    assert average["auroc_i"] == pytest.approx(sum(INVAD_AUROC_I) / 4, abs=1e-12)
    assert average["mad"] == pytest.approx(sum(row["mad"] for row in invad) / 4, abs=1e-12)


def test_a_method_with_one_fold_gets_no_average() -> None:
    assert [row["fold"] for row in reference_rows() if row["method"] == "cfa"] == [0]
    assert "cfa" not in {row["method"] for row in fold_averages(reference_rows())}


@pytest.mark.skipif(not SHARED_REFERENCE.exists(), reason="shared reference file absent")
def test_package_data_agrees_with_the_shared_reference() -> None:
    with open(SHARED_REFERENCE, newline="") as handle:
        published = {(REGISTRY_NAMES.get(r["method"], r["method"]), int(r["fold"])): r
                     for r in csv.DictReader(handle)}
    ours = {(row["method"], row["fold"]): row for row in reference_rows()}
    assert ours.keys() == published.keys()
    for key, row in ours.items():
        for metric in METRIC_KEYS:
            if metric in MAD_PARTS:
                expected = fmean(float(published[key][p]) for p in MAD_PARTS[metric])
                assert row[metric] == pytest.approx(expected, abs=1e-6)
            else:
                assert row[metric] == float(published[key][metric])
