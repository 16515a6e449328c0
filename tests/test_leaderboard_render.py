"""Fold averaging and the Markdown / CSV / HTML renderings of the leaderboard."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leaderboard import AGGREGATE_DATASET, fold_averages, render, validate_row
from leaderboard.schema import Row
from leaderboard.store import parse_csv
from metrics.keys import METRIC_KEYS


def run_row(method: str = "rd", fold: int | None = 0, **overrides: object) -> Row:
    row: dict[str, object] = {
        "method": method, "dataset": "coco-ad", "fold": fold, "image_size": 256,
        "epochs": 100, "source": "run", "definition": "adbench-1",
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


def test_no_average_without_all_four_folds_or_outside_coco_ad() -> None:
    assert fold_averages(four_folds()[:3]) == []
    assert fold_averages(four_folds(dataset="mvtec")) == []
    assert fold_averages([*four_folds()[:3], run_row("rd", None)]) == []


def test_groups_do_not_mix_settings_or_definitions() -> None:
    rows = four_folds() + four_folds(epochs=10) + four_folds(definition="ader")
    rows += four_folds(source="reported") + four_folds(image_size=224)
    mixed = four_folds()[:2] + four_folds(backbone="resnet18")[2:]
    assert len(fold_averages(rows)) == 5
    assert fold_averages(mixed) == []


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
    rows = [*four_folds("rd"), run_row("ae", 0, auroc_i=0.87654, dataset="mvtec")]
    table = markdown_table(render(rows, fmt="md"))
    header, rule, body = table[0], table[1], table[2:]
    assert header[:4] == ["method", "dataset", "fold", "epochs"]
    assert header[-2:] == ["source", "definition"] and "mad" in header
    assert set(rule[0].replace("|", "")) <= set("-:")
    auroc = header.index("auroc_i")
    assert [row[0] for row in body] == ["rd", "rd", "rd", "rd", "**rd**", "ae"]
    assert [row[2] for row in body[:4]] == ["0", "1", "2", "3"]
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


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render([], fmt="pdf")  # type: ignore[arg-type]


class TableParser(HTMLParser):
    """Collects header cells, body rows (cell texts + data-value) and tag counts."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[str] = []
        self.rows: list[list[tuple[str, str]]] = []
        self.row_classes: list[str] = []
        self.tags: dict[str, int] = {}
        self.scripts: list[str] = []
        self._cell: list[str] | None = None
        self._value = ""
        self._in = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        attributes = dict(attrs)
        if tag == "tr" and self._in == "tbody":
            self.rows.append([])
            self.row_classes.append(attributes.get("class") or "")
        elif tag in ("th", "td"):
            self._cell, self._value = [], attributes.get("data-value") or ""
        elif tag in ("tbody", "script"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            text = "".join(self._cell)
            if tag == "th":
                self.headers.append(text)
            else:
                self.rows[-1].append((text, self._value))
            self._cell = None
        elif tag in ("tbody", "script"):
            self._in = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def test_html_is_a_self_contained_sortable_table() -> None:
    rows = [*four_folds("rd"), run_row("<script>alert(1)</script>", 1, dataset="mvtec")]
    page = render(rows, fmt="html")
    parser = TableParser()
    parser.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert parser.tags["table"] == 1 and parser.tags["script"] == 1 and parser.tags["style"] == 1
    assert not re.search(r"https?://|//[a-z]", page, flags=re.IGNORECASE)
    assert "<link" not in page and " src=" not in page
    assert "addEventListener" in parser.scripts[0] and "sort" in parser.scripts[0]
    assert parser.headers[:3] == ["method", "dataset", "fold"]
    assert set(METRIC_KEYS) <= set(parser.headers)
    assert len(parser.rows) == 6 and all(len(r) == len(parser.headers) for r in parser.rows)
    auroc = parser.headers.index("auroc_i")
    (average,) = [r for r, c in zip(parser.rows, parser.row_classes, strict=True)
                  if "aggregate" in c]
    assert average[1][0] == AGGREGATE_DATASET
    assert average[auroc][0] == "25.0" and float(average[auroc][1]) == pytest.approx(0.25)
    assert any(r[0][0] == "<script>alert(1)</script>" for r in parser.rows)  # text, not a tag


def test_reference_rows_can_be_added() -> None:
    table = markdown_table(render([run_row("rd", 0)], fmt="md", with_reference=True))[2:]
    sources = {row[-2].strip("*") for row in table}
    assert sources == {"run", "reported"}
    assert any(row[0] == "**invad**" and row[1] == f"**{AGGREGATE_DATASET}**" for row in table)


def test_coco_ad_spellings_filter_and_sort_together() -> None:
    rows = four_folds(dataset="cocoad")[:2] + four_folds(dataset="COCO_AD")[2:]
    rows.append(run_row("rd", 0, dataset="mvtec"))
    body = markdown_table(render(rows, fmt="md", dataset="coco-ad"))[2:]
    assert [row[2] for row in body] == ["0", "1", "2", "3", ""]
    assert body[-1][1] == f"**{AGGREGATE_DATASET}**"
