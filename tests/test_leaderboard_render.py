"""Fold means (grouping, num_folds, std) and the Markdown / CSV renderings of the leaderboard.

The HTML page has its own tests (test_leaderboard_html.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard import AGGREGATE_DATASET, fold_averages, fold_summaries, render, validate_row
from leaderboard.schema import Row
from leaderboard.store import parse_csv
from metrics.keys import METRIC_KEYS


def run_row(method: str = "rd", fold: int | None = 0, **overrides: object) -> Row:
    row: dict[str, object] = {
        "method": method, "dataset": "coco-ad", "fold": fold, "num_folds": 4,
        "image_size": 256, "epochs": 100, "source": "run", "definition": "adbench-1",
        "precision": "fp32",
    }
    row.update(dict.fromkeys(METRIC_KEYS, 0.5))
    row.update(overrides)
    return validate_row(row)


def four_folds(method: str = "rd", **overrides: object) -> list[Row]:
    """Fold k has auroc_i = (k + 1) / 10 and ap_i = 0.9 - k / 10."""
    return [
        run_row(method, k, auroc_i=(k + 1) / 10, ap_i=0.9 - k / 10, **overrides)
        for k in range(4)
    ]


def test_fold_average_matches_a_hand_computation() -> None:
    (average,) = fold_averages(four_folds())
    assert average["dataset"] == AGGREGATE_DATASET and average["fold"] is None
    assert average["method"] == "rd" and average["source"] == "run"
    assert average["image_size"] == 256 and average["epochs"] == 100
    assert average["auroc_i"] == pytest.approx((0.1 + 0.2 + 0.3 + 0.4) / 4, abs=1e-15)
    assert average["ap_i"] == pytest.approx((0.9 + 0.8 + 0.7 + 0.6) / 4, abs=1e-15)
    assert average["mad"] == pytest.approx(0.5, abs=1e-15)


def test_repeated_runs_of_a_fold_count_as_one_fold() -> None:
    rows = [*four_folds(), run_row("rd", 0, auroc_i=0.3, seed=7)]
    (average,) = fold_averages(rows)
    # fold 0 = mean(0.1, 0.3) = 0.2, then the mean over folds: (0.2 + 0.2 + 0.3 + 0.4) / 4
    assert average["auroc_i"] == pytest.approx(0.275, abs=1e-15)


def test_no_average_without_all_folds_or_without_folds() -> None:
    assert fold_averages(four_folds()[:3]) == []
    assert fold_averages([run_row("rd", None, num_folds=None, dataset="mvtec")] * 4) == []
    assert fold_averages([*four_folds()[:3], run_row("rd", None)]) == []


def test_groups_do_not_mix_settings_or_definitions() -> None:
    rows = four_folds() + four_folds(epochs=10) + four_folds(definition="ader")
    rows += four_folds(source="reported") + four_folds(image_size=224)
    rows += four_folds(definition="ader-paper") + four_folds(precision="bf16")
    assert len(fold_averages(rows)) == 7
    for column, other in (("backbone", "resnet18"), ("precision", "bf16"),
                          ("definition", "ader"), ("weights", "none")):
        mixed = four_folds()[:2] + four_folds(**{column: other})[2:]
        assert fold_averages(mixed) == [], column


def test_splits_of_different_num_folds_are_never_averaged_together() -> None:
    # folds 0..3 of an 8-fold split must not complete the 4-fold split's folds, nor mix
    eight = [run_row("rd", k, num_folds=8, auroc_i=0.9) for k in range(4)]
    assert fold_averages(four_folds()[:2] + eight[2:]) == []
    assert fold_averages(eight) == []  # folds 4..7 are missing
    (four,) = fold_averages(four_folds() + eight)
    assert four["auroc_i"] == pytest.approx(0.25, abs=1e-15) and four["num_folds"] == 4
    eight += [run_row("rd", k, num_folds=8, auroc_i=k / 10) for k in range(4, 8)]
    means = {row["num_folds"]: row for row in fold_averages(four_folds() + eight)}
    assert means[8]["dataset"] == "COCO-AD (8 folds)" and means[4]["dataset"] == AGGREGATE_DATASET
    assert means[8]["auroc_i"] == pytest.approx((4 * 0.9 + 0.4 + 0.5 + 0.6 + 0.7) / 8, abs=1e-15)


def test_rows_without_num_folds_get_no_mean() -> None:
    assert fold_averages(four_folds(num_folds=None)) == []
    assert fold_averages([*four_folds()[:3], run_row("rd", 3, num_folds=None)]) == []


def test_other_datasets_with_folds_get_their_own_mean() -> None:
    rows = four_folds() + [run_row("rd", k, dataset="coco-format", auroc_i=0.5) for k in range(4)]
    means = {row["dataset"]: row for row in fold_averages(rows)}
    assert set(means) == {AGGREGATE_DATASET, "coco-format (4 folds)"}
    assert means["coco-format (4 folds)"]["auroc_i"] == pytest.approx(0.5, abs=1e-15)


def test_std_is_the_spread_of_the_fold_values() -> None:
    rows = [*four_folds(), run_row("rd", 0, auroc_i=0.3, seed=7)]
    (summary,) = fold_summaries(rows)
    fold_values = np.array([(0.1 + 0.3) / 2, 0.2, 0.3, 0.4])  # fold 0: its two runs' mean
    assert summary.runs == 5
    assert summary.mean["auroc_i"] == pytest.approx(fold_values.mean(), abs=1e-15)
    assert summary.std["auroc_i"] == pytest.approx(np.std(fold_values), abs=1e-15)
    # ap_i: fold 0 averages 0.9 and the extra run's 0.5
    assert summary.std["ap_i"] == pytest.approx(np.std([0.7, 0.8, 0.7, 0.6]), abs=1e-15)
    assert summary.std["mad"] == 0.0


fold_runs = st.lists(  # (fold, auroc_i) of the runs of one 4-fold setting, any order
    st.tuples(st.integers(0, 3), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=12
)


@settings(max_examples=60, deadline=None)
@given(runs=fold_runs, data=st.data())
def test_fold_means_match_numpy_and_ignore_row_order(runs: list[tuple[int, float]],
                                                     data: st.DataObject) -> None:
    rows = [run_row("rd", fold, auroc_i=value, seed=i) for i, (fold, value) in enumerate(runs)]
    summaries = fold_summaries(rows)
    folds = {fold for fold, _ in runs}
    if folds != {0, 1, 2, 3}:
        assert summaries == []
        return
    per_fold = np.array([np.mean([v for f, v in runs if f == k]) for k in range(4)])
    (summary,) = summaries
    assert summary.mean["auroc_i"] == pytest.approx(per_fold.mean(), abs=1e-12)
    assert summary.std["auroc_i"] == pytest.approx(per_fold.std(), abs=1e-12)
    shuffled = data.draw(st.permutations(rows))
    (again,) = fold_summaries(shuffled)
    assert again.mean["auroc_i"] == pytest.approx(summary.mean["auroc_i"], abs=1e-15)
    assert again.std["auroc_i"] == pytest.approx(summary.std["auroc_i"], abs=1e-15)


def test_dataset_name_variants_still_aggregate_together() -> None:
    rows = four_folds()[:2] + four_folds(dataset="COCO-AD")[2:]
    (average,) = fold_averages(rows)
    assert average["auroc_i"] == pytest.approx(0.25)


def test_a_metric_missing_in_one_fold_stays_empty() -> None:
    rows = four_folds()
    rows[2]["aupro_p"] = None
    (average,) = fold_averages(rows)
    assert average["aupro_p"] is None and average["auroc_p"] == pytest.approx(0.5)


def markdown_table(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]


def test_markdown_shows_percent_and_the_average_after_its_folds() -> None:
    rows = [*four_folds("rd"), run_row("ae", None, num_folds=None, auroc_i=0.87654,
                                       dataset="mvtec")]
    table = markdown_table(render(rows, fmt="md"))
    header, rule, body = table[0], table[1], table[2:]
    assert header[:4] == ["method", "dataset", "fold", "epochs"]
    assert header[-2:] == ["source", "definition"]
    assert set(rule[0].replace("|", "")) <= set("-:")
    assert header[4:12] == ["mAU-ROC_I", "mAP_I", "mF1-max_I", "mAU-ROC_P", "mAP_P",
                            "mF1-max_P", "mAU-PRO_R", "mAD"]
    auroc = header.index("mAU-ROC_I")
    assert [row[0] for row in body] == ["rd", "rd", "rd", "rd", "**rd**", "ae"]
    assert [row[2] for row in body[:4]] == ["0/4", "1/4", "2/4", "3/4"] and body[5][2] == ""
    assert body[4][1] == f"**{AGGREGATE_DATASET}**" and body[4][auroc] == "**25.0**"
    assert body[0][auroc] == "10.0" and body[5][auroc] == "87.7"


def test_markdown_escapes_pipes() -> None:
    text = render([run_row("a|b", 0, dataset="mvtec")], fmt="md")
    assert "a\\|b" in text


def test_dataset_filter() -> None:
    rows = [*four_folds("rd"), run_row("ae", 0, dataset="mvtec")]
    only_mvtec = markdown_table(render(rows, fmt="md", dataset="MVTec"))[2:]
    assert [row[0] for row in only_mvtec] == ["ae"]
    only_coco = markdown_table(render(rows, fmt="md", dataset="coco-ad"))[2:]
    assert len(only_coco) == 5 and {row[0].strip("*") for row in only_coco} == {"rd"}


def test_csv_rendering_reads_back_with_the_averages(tmp_path: Path) -> None:
    rows = four_folds("rd")
    text = render(rows, fmt="csv")
    parsed = parse_csv(text, tmp_path / "rendered.csv")
    assert parsed[:4] == rows
    assert parsed[4]["dataset"] == AGGREGATE_DATASET
    assert parsed[4]["auroc_i"] == pytest.approx(0.25, abs=1e-15)


def test_mean_rows_given_back_are_recomputed_not_doubled(tmp_path: Path) -> None:
    text = render(four_folds("rd"), fmt="csv")
    again = render(parse_csv(text, tmp_path / "rendered.csv"), fmt="csv")
    assert again == text


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render([], fmt="pdf")  # type: ignore[arg-type]


def test_reference_rows_can_be_added() -> None:
    table = markdown_table(render([run_row("rd", 0)], fmt="md", with_reference=True))[2:]
    sources = {row[-2].strip("*") for row in table}
    assert sources == {"run", "reported"}
    assert any(row[0] == "**invad**" and row[1] == f"**{AGGREGATE_DATASET}**" for row in table)


def test_coco_ad_spellings_filter_and_sort_together() -> None:
    rows = four_folds(dataset="cocoad")[:2] + four_folds(dataset="COCO_AD")[2:]
    rows.append(run_row("rd", 0, dataset="mvtec"))
    body = markdown_table(render(rows, fmt="md", dataset="coco-ad"))[2:]
    assert [row[2] for row in body] == ["0/4", "1/4", "2/4", "3/4", ""]
    assert body[-1][1] == f"**{AGGREGATE_DATASET}**"
