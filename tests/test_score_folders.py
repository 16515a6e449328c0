"""`score_folders` and `adbench score`: folder rules, outputs, and bad input."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from adbench.cli import main
from adbench.toydata.maps import write_toy_score_folders
from metrics import METRIC_KEYS, ScoreInputError, score, score_folders, write_json
from metrics.readers import read_map


@pytest.fixture
def toy(tmp_path):
    return write_toy_score_folders(tmp_path / "toy", seed=1, classes=("a", "b", "c"),
                                   n_per_class=6, size=24)


def _arrays(preds, gts, cls):
    maps, masks = [], []
    for path in sorted((preds / cls).iterdir()):
        maps.append(read_map(path))
        mask = gts / cls / f"{path.stem}.png"
        masks.append(np.asarray(Image.open(mask)) if mask.exists() else np.zeros((24, 24)))
    return maps, masks


def test_folders_equal_arrays(toy):
    preds, gts = toy
    result = score_folders(preds, gts)
    assert set(result) == {"classes", "mean", "counts", "definition", "resize"}
    assert result["definition"] == "adbench-1" and result["resize"] == "none"
    for cls in ("a", "b", "c"):
        maps, masks = _arrays(preds, gts, cls)
        assert result["classes"][cls] == score(maps, masks)
        anomalous = sum(np.any(m) for m in masks)
        assert result["counts"][cls] == {"normal": 6 - anomalous, "anomalous": anomalous}
    for key in METRIC_KEYS:
        assert result["mean"][key] == pytest.approx(
            np.mean([result["classes"][c][key] for c in "abc"]), abs=1e-15)


def test_mvtec_layout_mask_suffix_and_flat_class(tmp_path):
    rng = np.random.default_rng(0)
    mvtec, preds = tmp_path / "mvtec", tmp_path / "preds"
    maps, masks = [], []
    for defect, n in (("good", 2), ("crack", 3)):
        (preds / "bottle" / "test" / defect).mkdir(parents=True)
        (mvtec / "bottle" / "test" / defect).mkdir(parents=True)
        for i in range(n):
            amap = rng.random((8, 8)).astype(np.float32)
            np.save(preds / "bottle" / "test" / defect / f"{i:03d}.npy", amap)
            # the test image itself must never be taken for a mask
            Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(
                mvtec / "bottle" / "test" / defect / f"{i:03d}.png")
            mask = np.zeros((8, 8), np.uint8)
            if defect != "good":
                mask[i:i + 3, 2:5] = 255
                (mvtec / "bottle" / "ground_truth" / defect).mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask).save(
                    mvtec / "bottle" / "ground_truth" / defect / f"{i:03d}_mask.png")
            maps.append(amap)
            masks.append(mask)
    (mvtec / "bottle" / "train" / "good").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mvtec / "bottle/train/good/000.png")
    result = score_folders(preds, mvtec)
    assert result["counts"] == {"bottle": {"normal": 2, "anomalous": 3}}
    assert result["classes"]["bottle"] == score(maps, masks)
    flat = tmp_path / "flatpreds"
    shutil.copytree(preds / "bottle" / "test" / "crack", flat)
    gts = tmp_path / "flatgts"
    shutil.copytree(mvtec / "bottle" / "ground_truth" / "crack", gts)
    with pytest.warns(UserWarning, match="no anomalous or no normal image"):
        assert list(score_folders(flat, gts)["classes"]) == ["flatpreds"]


def test_meta_file_and_image_scores(toy, tmp_path):
    preds, gts = toy
    entries = [{"img_path": f"a/{p.stem}.jpg", "mask_path": "", "cls_name": "a",
                "specie_name": "", "anomaly": int((gts / "a" / f"{p.stem}.png").exists())}
               for p in sorted((preds / "a").iterdir())]
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"train": {}, "test": {"a": entries}}))
    by_meta = score_folders(preds, gts, meta=meta)
    assert by_meta["classes"]["a"] == score_folders(preds, gts)["classes"]["a"]
    entries.append({**entries[0], "img_path": "a/missing.jpg"})
    meta.write_text(json.dumps({"train": {}, "test": {"a": entries}}))
    with pytest.raises(ScoreInputError, match=r"no map for a/missing\.jpg"):
        score_folders(preds, gts, meta=meta)
    stems = sorted(p.stem for p in (preds / "b").iterdir())
    values = np.linspace(0, 1, len(stems))
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("path,score\n" + "".join(f"b/{s}.npy,{v}\n"
                                                 for s, v in zip(stems, values, strict=True)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = score_folders(preds / "b", gts / "b", image_scores={s: v for s, v in
                                                                  zip(stems, values,
                                                                      strict=True)})
        maps, masks = _arrays(preds, gts, "b")
        ref = score(maps, masks, image_scores=values)
    assert res["classes"]["b"]["auroc_i"] == ref["auroc_i"]
    cli = CliRunner().invoke(main, ["score", str(preds), str(gts), "--image-scores",
                                    str(csv_path)])
    assert cli.exit_code == 1 and "no score for a/000" in cli.output


def test_cli_outputs_match_api(toy, tmp_path):
    preds, gts = toy
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    res = CliRunner().invoke(main, ["score", str(preds), str(gts), "--json", str(out_json),
                                    "--csv", str(out_csv)])
    assert res.exit_code == 0, res.output
    api = tmp_path / "api.json"
    write_json(score_folders(preds, gts), api)
    assert out_json.read_bytes() == api.read_bytes()
    loaded = json.loads(out_json.read_text())
    rows = out_csv.read_text().splitlines()
    assert rows[0].split(",") == ["class", *METRIC_KEYS]
    assert [r.split(",")[0] for r in rows[1:]] == ["a", "b", "c", "mean"]
    assert float(rows[1].split(",")[4]) == loaded["classes"]["a"]["auroc_p"]
    table_mean = next(line for line in res.output.splitlines() if line.startswith("mean"))
    assert f"{100 * loaded['mean']['auroc_p']:.1f}" in table_mean.split()
    assert "anomalous" in res.output and "normal images" in res.output
    ader = CliRunner().invoke(main, ["score", str(preds), str(gts), "--compat", "ader",
                                     "--json", str(out_json)])
    assert ader.exit_code == 0
    assert json.loads(out_json.read_text())["definition"] == "ader"


def _bad(args):
    res = CliRunner().invoke(main, ["score", *map(str, args)])
    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit), res.exception  # a ClickException, no crash
    assert "Traceback" not in res.output
    errors = [line for line in res.output.splitlines() if "Error" in line]
    assert len(errors) == 1 and errors[0].startswith("Error: ")
    return res.output


def test_bad_input_one_line_errors(toy, tmp_path):
    preds, gts = toy
    nan_map = np.zeros((24, 24), np.float32)
    nan_map[3, 3] = np.nan
    np.save(preds / "a" / "000.npy", nan_map)
    assert "a/000.npy: map holds NaN" in _bad([preds, gts])
    np.save(preds / "a" / "000.npy", np.zeros((24, 25), np.float32))
    out = _bad([preds, gts])
    assert "000" in out and ("24x25" in out)
    (preds / "a" / "000.npy").write_bytes(b"not a numpy file")
    assert "a/000.npy: cannot read map" in _bad([preds, gts])
    (preds / "a" / "000.npy").unlink()
    if (gts / "a" / "000.png").exists():
        assert "mask without a map" in _bad([preds, gts])
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no anomaly maps" in _bad([empty, gts])
    out_json = tmp_path / "never.json"
    _bad([empty, gts, "--json", out_json])
    assert not out_json.exists()


def test_class_without_anomalies_is_null_with_warning(tmp_path):
    preds, gts = write_toy_score_folders(tmp_path, classes=("a", "b"), n_per_class=4, size=16)
    for mask in (gts / "b").iterdir():
        mask.unlink()
    with pytest.warns(UserWarning, match="class b"):
        result = score_folders(preds, gts)
    assert all(result["classes"]["b"][k] is None for k in METRIC_KEYS)
    assert result["mean"]["auroc_p"] == result["classes"]["a"]["auroc_p"]
    res = CliRunner().invoke(main, ["score", str(preds), str(gts)])
    assert res.exit_code == 0 and "warning: class b" in res.output


def test_no_torch_and_help():
    import subprocess
    import sys

    code = "import sys, metrics, adbench.commands.score; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    res = CliRunner().invoke(main, ["score", "--help"])
    assert res.exit_code == 0 and "--compat" in res.output and "--image-scores" in res.output


def test_image_scores_csv_and_bad_mask_file(toy, tmp_path):
    preds, gts = toy
    rels = sorted(p.relative_to(preds) for p in preds.rglob("*.*"))
    rng = np.random.default_rng(5)
    values = {str(r.with_suffix("")): float(v) for r, v in zip(rels, rng.random(len(rels)),
                                                              strict=True)}
    csv_path = tmp_path / "scores.csv"
    csv_path.write_text("path,score\n" + "".join(f"{k}.npy,{v!r}\n" for k, v in values.items()))
    from_csv = score_folders(preds, gts, image_scores=csv_path)
    assert from_csv == score_folders(preds, gts, image_scores=values)
    maps, masks = _arrays(preds, gts, "c")
    ref = score(maps, masks, image_scores=[values[f"c/{i:03d}"] for i in range(6)])
    assert from_csv["classes"]["c"] == ref
    csv_path.write_text("path,score\na/000,nan\n")
    assert "NaN" in _bad([preds, gts, "--image-scores", csv_path])
    (gts / "a" / "000.png").write_bytes(b"garbage")
    assert "a/000.png: cannot read mask" in _bad([preds, gts])


def test_image_scores_file_errors_name_the_file(toy, tmp_path):
    preds, gts = toy
    missing = tmp_path / "absent.csv"
    assert (f"Error: cannot read {missing}: No such file or directory"
            in _bad([preds, gts, "--image-scores", missing]))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("file,value\n")
    out = _bad([preds, gts, "--image-scores", wrong])
    assert f"{wrong}: image scores need the header path,score (found file,value)" in out
    partial = tmp_path / "partial.csv"
    partial.write_text("path,score\na/000.npy,0.5\n")
    assert f"{partial}: no score for a/001" in _bad([preds, gts, "--image-scores", partial])


def test_outputs_checked_before_either_is_written(toy, tmp_path, monkeypatch):
    """--json and --csv are written together or not at all."""
    preds, gts = toy
    out_json = tmp_path / "r.json"
    missing_folder = tmp_path / "no" / "such" / "r.csv"
    out = _bad([preds, gts, "--json", out_json, "--csv", missing_folder])
    assert "cannot write output" in out and str(missing_folder.parent) in out
    assert "is a directory" in _bad([preds, gts, "--json", out_json, "--csv", tmp_path])
    assert "same file" in _bad([preds, gts, "--json", out_json, "--csv", out_json])
    assert not out_json.exists()
    import metrics.report

    real_access = metrics.report.os.access
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(metrics.report.os, "access",
                        lambda path, mode: Path(path) != locked and real_access(path, mode))
    out = _bad([preds, gts, "--json", out_json, "--csv", locked / "r.csv"])
    assert "not writable" in out and not out_json.exists()
    monkeypatch.undo()
    # a failure while writing the second file leaves neither file nor temporary behind
    calls = []
    real_write_bytes = Path.write_bytes

    def failing_write_bytes(self, data):
        calls.append(self)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write_bytes)
    out_csv = tmp_path / "r.csv"
    assert "No space left" in _bad([preds, gts, "--json", out_json, "--csv", out_csv])
    assert len(calls) == 2 and not out_json.exists() and not out_csv.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked", "toy"]
