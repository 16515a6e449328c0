"""Benchmark what `adbench report` costs beyond scoring the same maps with `adbench score`.

Data, one of:
- a toy COCO-AD fold (default; `--val N` generated COCO validation images, maps from
  `adbench.toydata.fold_maps`), or the same from a real COCO root (`--coco-root`);
- `--coco-sized N`: a COCO-AD-sized fold written directly: N 256 x 256 float32 maps
  (a third anomalous, each with 1-3 of 20 categories and a blob mask; the normal ones with
  a false-positive blob now and then), a meta file and a manifest, no photos.
In this process, alternately: `metrics.score_folders` (the reference: what `adbench
score --meta` does) and `adbench.report.write_folder_report` (scoring with curves, the
per-category scorers, bootstrap, plots, examples, the page). Prints the best of
`--repeats` wall times of each and their ratio. Usage:
    PYTHONPATH=. python benchmarks/report_time.py [--val N | --coco-root DIR |
                                                    --coco-sized N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from adbench.report import write_folder_report
from adbench.toydata.coco import write_toy_coco
from adbench.toydata.fold_maps import write_fold_maps
from cocoad.build import build_fold
from cocoad.categories import COCO_CATEGORIES
from cocoad.meta import MetaEntry, dump_meta
from metrics import score_folders

SIZE = 256


def coco_sized_fold(root: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """Write PREDS and a fold (meta_20_0.json, masks, manifest_20_0.json); return
    (preds, meta)."""
    rng = np.random.default_rng(seed)
    preds, masks = root / "preds" / "coco", root / "fold" / "masks"
    preds.mkdir(parents=True)
    masks.mkdir(parents=True)
    categories = [{"label": k, "id": cid, "name": name}
                  for k, (cid, name, _) in enumerate(COCO_CATEGORIES[:20])]
    skill = rng.uniform(0.1, 1.0, 20)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    entries, anomalous = [], []
    for i in range(count):
        stem = f"{i:012d}"
        amap = 0.3 * rng.random((SIZE, SIZE), dtype=np.float32)
        cy, cx = rng.integers(30, SIZE - 30, 2)
        r = int(rng.integers(8, 40))
        blob = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        mask_path = ""
        if i % 3 == 0:
            picked = rng.choice(20, size=int(rng.integers(1, 4)), replace=False)
            amap[blob] += float(skill[picked].mean()) * rng.random(int(blob.sum()))
            mask_path = f"masks/{stem}.png"
            Image.fromarray(blob.astype(np.uint8) * 255).save(root / "fold" / mask_path)
            anomalous.append({"img_path": f"val2017/{stem}.jpg", "mask_path": mask_path,
                              "category_ids": [categories[k]["id"] for k in picked]})
        elif rng.random() < 0.2:
            amap[blob] += 0.4 * rng.random(int(blob.sum()))
        np.save(preds / f"{stem}.npy", amap.astype(np.float32))
        entries.append(MetaEntry(f"val2017/{stem}.jpg", mask_path, "coco", bool(mask_path)))
    meta = root / "fold" / "meta_20_0.json"
    meta.write_bytes(dump_meta([], entries, "coco"))
    (root / "fold" / "manifest_20_0.json").write_text(json.dumps(
        {"anomalous_categories": categories, "anomalous_test_images": anomalous}))
    return root / "preds", meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=int, default=200, help="toy COCO validation images")
    parser.add_argument("--coco-root", type=Path, default=None, help="a COCO 2017 root")
    parser.add_argument("--coco-sized", type=int, default=None, metavar="N",
                        help="N generated 256 x 256 maps instead of a COCO fold")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.coco_sized:
            preds, meta = coco_sized_fold(root, args.coco_sized)
        else:
            coco = args.coco_root or write_toy_coco(root / "coco", seed=0, n_train=8,
                                                    n_val=args.val)
            meta = build_fold(coco, out=root / "fold", fold=0, workers=1).meta_path
            preds = write_fold_maps(meta, root / "preds", seed=0)
        out = root / "report.html"
        best = {"score": float("inf"), "report": float("inf")}
        for _ in range(args.repeats):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                score_folders(preds, meta.parent, meta, workers=args.workers)
                best["score"] = min(best["score"], time.perf_counter() - started)
                started = time.perf_counter()
                write_folder_report(preds, meta.parent, out, meta=meta, workers=args.workers)
                best["report"] = min(best["report"], time.perf_counter() - started)
        maps = list(preds.rglob("*.npy"))
        pixels = sum(np.load(path, mmap_mode="r").size for path in maps)
        print(f"{len(maps)} test images, {pixels / 1e6:.1f} M pixels")
        print(f"adbench score --meta: {best['score']:.2f} s (best of {args.repeats})")
        print(f"adbench report:       {best['report']:.2f} s, page "
              f"{out.stat().st_size / 1e6:.2f} MB")
        print(f"ratio report / score: {best['report'] / best['score']:.1f}")


if __name__ == "__main__":
    main()
