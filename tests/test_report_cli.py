"""`adbench report` as a command: a run folder, map folders with --images, escaping of
names and paths, and the one-line errors (nothing written when it fails)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sklearn.metrics import roc_auc_score

from adbench.cli import main
from adbench.report import write_report
from adbench.report.page import percent
from adbench.toydata.coco import write_toy_coco
from adbench.toydata.fold_maps import write_fold_maps
from adbench.toydata.maps import write_toy_score_folders
from cocoad.build import build_fold
from cocoad.meta import map_rel, read_meta

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run folder as run-baseline leaves it: config.json naming a COCO-AD meta file,
    maps/, gts/ (a mask for every image) and the method's own image_scores.csv."""
    root = tmp_path_factory.mktemp("run")
    coco = write_toy_coco(root / "coco", seed=2, n_train=12, n_val=24)
    meta = build_fold(coco, out=root / "fold", fold=1, workers=1).meta_path
    run = root / "runs" / "toy-run"
    write_fold_maps(meta, run / "maps", seed=2)
    rows = [("path", "score")]
    for entry in read_meta(meta, splits=("test",))["test"]:
        amap = np.load(run / "maps" / f"{map_rel(entry)}.npy")
        mask = (np.asarray(Image.open(meta.parent / entry.mask_path)) if entry.mask_path
                else np.zeros(amap.shape, np.uint8))
        (run / "gts" / map_rel(entry)).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(run / "gts" / f"{map_rel(entry)}.png")
        rows.append((f"{map_rel(entry)}.npy", repr(float(amap.mean()))))
    with open(run / "image_scores.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    (run / "config.json").write_text(json.dumps({"name": "ae", "data": str(meta), "fold": 1,
                                                 "num_folds": 4, "epochs": 2}))
    return run


def test_run_folder_uses_its_image_scores_photos_and_categories(run_dir, tmp_path) -> None:
    out = write_report(run_dir, tmp_path / "run.html", n_resamples=50, workers=2)
    html = out.read_text()
    labels, scores = [], []
    with open(run_dir / "image_scores.csv") as handle:
        for row in csv.DictReader(handle):
            mask = np.asarray(Image.open(run_dir / "gts" / row["path"].replace(".npy", ".png")))
            labels.append(bool(mask.any()))
            scores.append(float(row["score"]))
    row = re.search(r'<tr><td class="name"><a href="#class-0">coco</a></td>(.*?)</tr>', html,
                    re.S).group(1)
    first_metric = re.findall(r'<td class="metric"[^>]*>([^<]*)<', row)[0]
    assert first_metric == percent(roc_auc_score(labels, scores))
    assert "image_scores.csv" in html and "toy-run" in html
    assert 'id="categories-0"' in html
    assert html.count('<img alt="image" src="data:image/jpeg;base64,') >= 1


def test_run_folder_whose_data_is_gone_still_reports(run_dir, tmp_path) -> None:
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("maps", "gts", "image_scores.csv"):
        (moved / name).symlink_to(run_dir / name)
    (moved / "config.json").write_text(json.dumps({"name": "ae", "data": "/nowhere/meta.json"}))
    result = CliRunner().invoke(main, ["report", str(moved), "--out", str(tmp_path / "r.html"),
                                       "--resamples", "20"])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert "/nowhere/meta.json is not here" in html
    assert 'alt="image"' not in html and "panels no-photo" in html
    assert 'id="categories-0"' not in html


def test_names_and_paths_are_escaped_and_images_found_by_map_path(tmp_path) -> None:
    root = tmp_path / "<img src=x onerror=1>"
    preds, gts = write_toy_score_folders(root, seed=3, classes=("<script>boom", "b&c"),
                                         n_per_class=6, size=24)
    hot = preds / "<script>boom" / "001.npy"  # a normal image: make it a false positive
    np.save(hot, np.load(hot) + 5.0 * (np.arange(24)[:, None] == 3))
    images = tmp_path / "photos"
    for path in preds.rglob("*.*"):
        rel = path.relative_to(preds).with_suffix(".png")
        (images / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(images / rel)
    out = tmp_path / "page.html"
    result = CliRunner().invoke(main, ["report", str(preds), str(gts), "--images", str(images),
                                       "--out", str(out), "--resamples", "20"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "<script" not in html.lower() and "<img src=x" not in html
    assert "&lt;script&gt;boom" in html and "b&amp;c" in html
    assert "&lt;img src=x onerror=1&gt;" in html
    assert 'class="metrics"' in html and "mean of 2 classes" in html
    examples = html.count('class="example ')
    assert examples > 0 and html.count('<img alt="image" ') == examples


def test_wrong_number_of_paths_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(main, ["report", "a", "b", "c", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "give RUN_DIR, or PREDS and GTS" in result.output


@pytest.mark.parametrize("case", ["no_config", "bad_out", "missing_meta"])
def test_user_errors_are_one_line_and_write_nothing(case, run_dir, tmp_path) -> None:
    out = tmp_path / "r.html"
    args, expected = {
        "no_config": ([str(tmp_path)], "no config.json"),
        "bad_out": ([str(run_dir)], "cannot write the report"),
        "missing_meta": ([str(run_dir / "maps"), str(run_dir / "gts"), "--meta",
                          str(tmp_path / "none.json")], "meta file not found"),
    }[case]
    if case == "bad_out":
        out = tmp_path / "missing" / "r.html"
    result = CliRunner().invoke(main, ["report", *args, "--out", str(out)])
    assert result.exit_code == 1
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not out.exists()


def test_missing_matplotlib_names_the_extra(run_dir, tmp_path) -> None:
    out = tmp_path / "r.html"
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from adbench.cli import main\n"
            f"main(['report', {str(run_dir)!r}, '--out', {str(out)!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 1
    assert "pip install 'adbench[report]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_resize_follows_the_scorers_rule(tmp_path) -> None:
    preds, gts = write_toy_score_folders(tmp_path / "toy", seed=4, classes=("a",),
                                         n_per_class=6, size=24)
    for mask in gts.rglob("*.png"):
        Image.open(mask).resize((48, 48), Image.Resampling.NEAREST).save(mask)
    out = tmp_path / "r.html"
    refused = CliRunner().invoke(main, ["report", str(preds), str(gts), "--out", str(out)])
    assert refused.exit_code == 1 and "--resize masks or --resize maps" in refused.output
    assert not out.exists()
    done = CliRunner().invoke(main, ["report", str(preds), str(gts), "--out", str(out),
                                     "--resize", "masks", "--resamples", "20"])
    assert done.exit_code == 0, done.output
    assert "resize masks" in out.read_text()
