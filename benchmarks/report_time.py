"""Benchmark what `adbench report` costs beyond scoring the same maps with `adbench score`.

Data: a COCO-AD fold with generated maps (`adbench.toydata.fold_maps`): a toy COCO
(`--val N` images, generated) or a real COCO root (`--coco-root`, e.g. a subset).
In this process, alternately: `metrics.score_folders` (the reference: what `adbench
score --meta` does) and `adbench.report.write_folder_report` (the whole page: scoring
with curves, the per-category scorers, bootstrap, plots, examples). Prints the best of
`--repeats` wall times of each, their ratio, and the report's size. Usage:
    PYTHONPATH=. python benchmarks/report_time.py [--val N | --coco-root DIR] [--repeats R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from adbench.report import write_folder_report
from adbench.toydata.coco import write_toy_coco
from adbench.toydata.fold_maps import write_fold_maps
from cocoad.build import build_fold
from metrics import score_folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=int, default=200, help="toy COCO validation images")
    parser.add_argument("--coco-root", type=Path, default=None, help="a COCO 2017 root")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        coco = args.coco_root or write_toy_coco(root / "coco", seed=0, n_train=8,
                                                n_val=args.val)
        fold = build_fold(coco, out=root / "fold", fold=0, workers=1)
        preds = write_fold_maps(fold.meta_path, root / "preds", seed=0)
        out = root / "report.html"
        best = {"score": float("inf"), "report": float("inf")}
        for _ in range(args.repeats):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                started = time.perf_counter()
                score_folders(preds, fold.meta_path.parent, fold.meta_path,
                              workers=args.workers)
                best["score"] = min(best["score"], time.perf_counter() - started)
                started = time.perf_counter()
                write_folder_report(preds, fold.meta_path.parent, out, meta=fold.meta_path,
                                    workers=args.workers)
                best["report"] = min(best["report"], time.perf_counter() - started)
        pixels = sum(path.stat().st_size - 128 for path in preds.rglob("*.npy")) // 4
        print(f"fold: {fold.counts['test_normal']} normal + {fold.counts['test_anomalous']} "
              f"anomalous test images, {pixels / 1e6:.1f} M pixels")
        print(f"adbench score --meta: {best['score']:.2f} s (best of {args.repeats})")
        print(f"adbench report:       {best['report']:.2f} s, page {out.stat().st_size / 1e6:.2f}"
              f" MB")
        print(f"ratio report / score: {best['report'] / best['score']:.1f}")


if __name__ == "__main__":
    main()
