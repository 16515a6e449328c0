"""The HTML leaderboard page: views, tables per (dataset, split, definition), grouped
columns under the papers' names, badges, the fold means with their std, escaping,
self-containment; and, where Chromium is installed, sorting and the sticky method
column in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from statistics import pstdev

import pytest

from leaderboard import reference_rows, render, validate_row
from leaderboard.schema import Row
from metrics.keys import METRIC_KEYS

# The papers' names (METRICS.md, "Names used elsewhere"; the mAD family named alike).
PAPER_NAMES = {
    "auroc_i": "mAU-ROC_I", "ap_i": "mAP_I", "f1max_i": "mF1-max_I", "auroc_p": "mAU-ROC_P",
    "ap_p": "mAP_P", "f1max_p": "mF1-max_P", "aupro_p": "mAU-PRO_R", "f1_p_20_80": "mF1^.2-.8",
    "acc_p_20_80": "mAcc^.2-.8", "iou_p_20_80": "mIoU^.2-.8", "iou_max_p": "mIoU-max",
    "mad_i": "mAD_I", "mad_p": "mAD_P", "mad_20_80": "mAD^.2-.8", "mad": "mAD",
}
GROUPS = ("run", "image", "pixel", "threshold", "mAD", "provenance")
VOID = frozenset({"meta", "wbr", "br", "input", "link", "img", "hr"})
EVIL = '<script>alert("x")</script> & "quoted" \'single\''


class Node:
    """An element of the parsed page: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    found.append(child)
                found.extend(child.find_all(tag, cls))
        return found

    def one(self, tag: str | None = None, cls: str | None = None) -> Node:
        (node,) = self.find_all(tag, cls)
        return node


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def run_row(method: str = "rd", fold: int | None = 0, **overrides: object) -> Row:
    row: dict[str, object] = {
        "method": method, "dataset": "coco-ad", "fold": fold, "num_folds": 4,
        "image_size": 256, "epochs": 100, "source": "run", "definition": "adbench-1",
        "precision": "fp32", "run_id": f"{method}-{fold}",
    }
    row.update(dict.fromkeys(METRIC_KEYS, 0.5))
    row.update(overrides)
    return validate_row(row)


def four_folds(method: str = "rd", **overrides: object) -> list[Row]:
    """Fold k has auroc_i = (k + 1) / 10."""
    return [run_row(method, k, auroc_i=(k + 1) / 10, **overrides) for k in range(4)]


def view(page: Node, name: str) -> Node:
    (found,) = [v for v in page.find_all("section", "view") if v.attrs["data-view"] == name]
    return found


def boards(node: Node) -> list[Node]:
    return node.find_all("section", "board")


def body_rows(board: Node) -> list[Node]:
    return board.one("tbody").find_all("tr")


def key_of_columns(board: Node) -> list[str]:
    return [th.attrs["data-key"] or "" for th in board.one("thead").find_all("th")
            if "data-key" in th.attrs]


def cell(board: Node, row: Node, key: str) -> Node:
    return row.find_all("td")[key_of_columns(board).index(key)]


def test_page_is_self_contained_and_escapes_every_text() -> None:
    rows = [run_row(EVIL, None, dataset="mvtec", num_folds=None, backbone=EVIL,
                    weights=EVIL, device=EVIL, run_id=EVIL, git_commit=EVIL, torch=EVIL)]
    rows += [run_row("rd", None, dataset=EVIL, num_folds=None)]
    page = render(rows, fmt="html")
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert len(tree.find_all("script")) == 1 and len(tree.find_all("style")) == 1
    assert not re.search(r"https?:|//[a-z]|@import|url\(", page, flags=re.IGNORECASE)
    assert "<link" not in page and " src=" not in page and "alert" not in page.split("<body>")[0]
    assert page.count("<script>") == 1  # the page's own script; the rows' only as text
    board = boards(view(tree, "runs"))[-1]
    evil_row = [r for r in body_rows(board) if EVIL in r.text()]
    assert len(evil_row) == 1
    for key in ("backbone", "weights", "device", "run_id", "torch"):
        assert cell(board, evil_row[0], key).text() == EVIL, key
        assert cell(board, evil_row[0], key).attrs["data-value"] == EVIL, key
    assert cell(board, evil_row[0], "method").text().startswith(EVIL)
    assert any(EVIL in b.one("h2").text() for b in boards(view(tree, "runs")))  # the dataset
    for node in tree.find_all():
        assert not any(name.startswith("on") for name in node.attrs), node.attrs


def test_columns_are_grouped_under_the_papers_names() -> None:
    tree = parse(render(four_folds(), fmt="html"))
    for name, first_keys, last_keys in (
        ("runs", ["method", "fold", "image_size", "epochs", "backbone", "weights", "precision",
                  "seed"], ["definition", "device", "train_seconds", "images_per_second",
                            "finished_at", "run_id", "git_commit", "adbench_version", "torch"]),
        ("means", ["method", "image_size", "epochs", "backbone", "weights", "precision"],
         ["runs", "definition"]),
    ):
        (board,) = boards(view(tree, name))
        keys = key_of_columns(board)
        assert keys == first_keys + list(METRIC_KEYS) + last_keys, name
        group_row = board.one("thead").find_all("tr")[0]
        method, *groups = group_row.find_all("th")
        assert method.attrs["data-key"] == "method" and method.attrs["rowspan"] == "2"
        assert [g.text() for g in groups] == list(GROUPS)
        spans = [int(g.attrs["colspan"] or 0) for g in groups]
        assert spans == [len(first_keys) - 1, 3, 4, 4, 4, len(last_keys)]
        assert all(len(r.find_all("td")) == len(keys) for r in body_rows(board))
        headers = {th.attrs["data-key"]: th for th in board.one("thead").find_all("th")
                   if "data-key" in th.attrs}
        for key, paper in PAPER_NAMES.items():
            base, mark, index = re.fullmatch(r"(.+?)(?:([_^])(.+))?", paper).groups()  # type: ignore[union-attr]
            th = headers[key]
            assert th.text() == base + (index or ""), key
            if mark:
                assert th.one("sub" if mark == "_" else "sup").text() == index, key


def test_method_column_is_sticky_and_first() -> None:
    page = render(four_folds(), fmt="html")
    tree = parse(page)
    for board in boards(tree):
        assert all("method" in r.find_all("td")[0].classes for r in body_rows(board))
    rule = re.search(r"th\.method, td\.method \{([^}]*)\}", page)
    assert rule and "position: sticky" in rule.group(1) and "left: 0" in rule.group(1)


def test_badges_mark_ours_published_and_the_definition() -> None:
    rows = [run_row("invad", 0, definition="ader"), run_row("invad", 0, run_id="x"),
            run_row("invad", 1, definition="ader-paper")]
    tree = parse(render(rows, fmt="html", with_reference=True))
    runs = boards(view(tree, "runs"))
    badges = {}
    for board in runs:
        for row in body_rows(board):
            method = cell(board, row, "method")
            (mark,) = method.find_all("span", "badge")
            definition = cell(board, row, "definition").one("span", "badge")
            badges.setdefault((row.attrs["class"], mark.text()), set()).add(definition.text())
    assert badges == {("run", "ours"): {"exact", "ader", "ader-paper"},
                      ("reported", "published"): {"ader"}}
    titles = [b.one("h2") for b in runs]
    assert [t.find_all("span", "badge")[0].text() for t in titles] == ["exact", "ader",
                                                                        "ader-paper"]


def test_with_reference_puts_like_beside_like() -> None:
    ours_ader = four_folds("invad", definition="ader")
    ours_exact = four_folds("invad", definition="adbench-1")
    tree = parse(render(ours_ader + ours_exact, fmt="html", with_reference=True))
    exact, ader = boards(view(tree, "runs"))
    assert {r.attrs["class"] for r in body_rows(exact)} == {"run"}  # exact rows apart
    assert len(body_rows(exact)) == 4
    published = [r for r in reference_rows() if r["definition"] == "ader"]
    rows = body_rows(ader)
    assert len(rows) == 4 + len(published)
    invad = [(cell(ader, r, "fold").text(), r.attrs["class"]) for r in rows
             if cell(ader, r, "method").text().startswith("invad") and
             not cell(ader, r, "method").text().startswith("invad-")]
    assert invad == [(f"{k}/4", source) for k in range(4) for source in ("run", "reported")]
    means_exact, means_ader = boards(view(tree, "means"))
    means = [(cell(means_ader, r, "method").text(), r.attrs["class"])
             for r in body_rows(means_ader)]
    at = means.index(("invadours", "run"))
    assert means[at + 1] == ("invadpublished", "reported")
    assert [cell(means_exact, r, "method").text() for r in body_rows(means_exact)] == ["invadours"]


def test_means_view_holds_only_means_with_their_std() -> None:
    rows = four_folds("rd") + four_folds("ae") + [run_row("rd", 0, seed=9, auroc_i=0.3)]
    rows.append(run_row("vitad", 0))  # one fold only: no mean
    tree = parse(render(rows, fmt="html"))
    (means,) = boards(view(tree, "means"))
    (runs,) = boards(view(tree, "runs"))
    assert len(body_rows(runs)) == len(rows)  # every run row, and no mean among them
    assert all(cell(runs, r, "fold").text() for r in body_rows(runs))
    by_method = {cell(means, r, "method").text(): r for r in body_rows(means)}
    assert set(by_method) == {"aeours", "rdours"}
    rd = by_method["rdours"]
    folds = [(0.1 + 0.3) / 2, 0.2, 0.3, 0.4]
    mean, std = sum(folds) / 4, pstdev(folds)
    auroc = cell(means, rd, "auroc_i")
    assert auroc.attrs["data-value"] == repr(mean)
    assert auroc.text() == f"{100 * mean:.1f}\u00b1{100 * std:.1f}"
    assert auroc.one("span", "sd").text() == f"\u00b1{100 * std:.1f}"
    assert cell(means, rd, "ap_i").text() == "50.0\u00b10.0"
    assert cell(means, rd, "runs").text() == "5"
    assert "best" in cell(means, rd, "auroc_i").classes  # rd 0.2625 beats ae 0.25
    assert "best" not in cell(means, by_method["aeours"], "auroc_i").classes
    assert "best" in cell(means, rd, "ap_i").classes and "best" in cell(
        means, by_method["aeours"], "ap_i").classes  # a tie marks both


def test_tables_never_mix_datasets_splits_or_definitions() -> None:
    rows = four_folds() + four_folds(num_folds=8) + four_folds(definition="ader")
    rows += [run_row("rd", k, dataset="coco-format") for k in range(4)]
    rows += [run_row("rd", None, num_folds=None, dataset="mvtec")]
    tree = parse(render(rows, fmt="html"))
    titles = [" ".join(b.one("h2").text().split()) for b in boards(view(tree, "runs"))]
    assert [re.sub(r"\d+ rows?$", "", t).strip() for t in titles] == [
        "COCO-AD4 foldsexactExact metrics", "COCO-AD4 foldsaderADer's evaluator",
        "COCO-AD8 foldsexactExact metrics", "coco-format4 foldsexactExact metrics",
        "mvtecexactExact metrics",
    ]
    sizes = [len(body_rows(b)) for b in boards(view(tree, "runs"))]
    assert sizes == [4, 4, 4, 4, 1]
    assert len(boards(view(tree, "means"))) == 3  # 8-fold split incomplete, mvtec no folds


def test_dataset_labels_tell_coco_ad_from_other_data() -> None:
    rows = four_folds() + [run_row("rd", k, dataset="coco-format") for k in range(4)]
    tree = parse(render(rows, fmt="html"))
    real, other = boards(view(tree, "means"))
    assert real.one("h2").one("span", "ds-real").text() == "COCO-AD"
    assert other.one("h2").one("span", "ds-other").text() == "coco-format"
    assert other.one("p", "caption").text().startswith("Not COCO-AD")
    assert not real.find_all("span", "ds-other") and "Not COCO-AD" not in real.text()


def test_without_complete_folds_the_means_view_says_why() -> None:
    tree = parse(render(four_folds()[:3], fmt="html"))
    means = view(tree, "means")
    assert boards(means) == [] and "needs a run of every fold" in means.one("p", "empty").text()
    sections = tree.one("main").find_all("section", "view")
    assert sections[0].attrs["data-view"] == "runs"  # the view with content comes first


# ---- in a real browser -----------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
(function () {
  var board = document.querySelectorAll('section[data-view="runs"] table')[0];
  var other = document.querySelectorAll('section[data-view="runs"] table')[1];
  function column(table, key) {
    var index = Array.prototype.indexOf.call(
      table.querySelectorAll("thead th[data-key]"),
      table.querySelector('th[data-key="' + key + '"]'));
    return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
      return r.cells[index].dataset.value; });
  }
  function visible() {
    return Array.prototype.map.call(document.querySelectorAll("section.view"),
                                    function (v) { return !v.hidden; });
  }
  var shownFirst = visible();
  document.querySelector('nav.tabs a[href="#runs"]').click();
  var otherBefore = column(other, "auroc_i");
  var header = board.querySelector('th[data-key="auroc_i"]');
  header.click();
  var first = column(board, "auroc_i");
  header.click();
  var second = column(board, "auroc_i");
  var scroll = board.parentNode;
  var method = board.tBodies[0].rows[0].cells[0];
  var metric = board.querySelector('td[data-value]:nth-child(12)');
  var before = [method.getBoundingClientRect().left, metric.getBoundingClientRect().left];
  scroll.scrollLeft = 400;
  var after = [method.getBoundingClientRect().left, metric.getBoundingClientRect().left];
  document.body.setAttribute("data-probe", JSON.stringify({
    first: first, second: second, otherBefore: otherBefore, otherAfter: column(other, "auroc_i"),
    scrolled: scroll.scrollLeft, before: before, after: after,
    shownFirst: shownFirst, shownAfterClick: visible(), hash: location.hash}));
})();
</script></body>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_sorting_and_the_sticky_method_column_in_chromium(tmp_path: Path) -> None:
    rows = [run_row("rd", k, auroc_i=v, run_id=f"r{k}") for k, v in ((0, 0.3), (1, 0.7), (2, 0.5))]
    rows.append(run_row("rd", 3, auroc_i=None, run_id="r3"))
    rows += four_folds("ae", definition="ader")
    page = render(rows, fmt="html").replace("</body>", PROBE)
    (tmp_path / "page.html").write_text(page)
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=900,700", "--dump-dom",
         (tmp_path / "page.html").as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )
    match = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert match, result.stderr[-2000:]
    probe = json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["first"] == ["0.7", "0.5", "0.3", ""]  # metrics: highest first, empty last
    assert probe["second"] == ["0.3", "0.5", "0.7", ""]  # reversed, empty still last
    assert probe["otherAfter"] == probe["otherBefore"]  # another table is left alone
    assert probe["scrolled"] > 0
    assert probe["after"][0] == probe["before"][0]  # the method column stays in view
    assert probe["after"][1] < probe["before"][1] - 100  # while the metrics move
    assert probe["shownFirst"] == [True, False]  # one view at a time: the means first
    assert probe["shownAfterClick"] == [False, True] and probe["hash"] == "#runs"
