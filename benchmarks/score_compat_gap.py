"""How far `compat="ader"` and `compat="ader-paper"` are from the exact definitions.

Scores the workload written by `score_coco_sized.py` (or its first --maps maps) three
ways, then again after two changes ADer's binned and sampled evaluators are sensitive to:
a few pixels at 7x the maximum (outliers stretch [min, max]), and saturated maps (every
map clipped at the 90th percentile of the class: many pixels at the maximum). Prints
each metric and the differences in percentage points. Usage:
    PYTHONPATH=. python benchmarks/score_compat_gap.py [--root DIR] [--maps N]
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np

from metrics import load_pair, score
from metrics.folders import pairs_from_folders
from metrics.keys import MetricKey

SHOWN: tuple[MetricKey, ...] = ("auroc_p", "ap_p", "f1max_p", "aupro_p")


def gap(maps: list[np.ndarray], masks: list[np.ndarray], label: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {compat: score(maps, masks, compat=compat)
                   for compat in (None, "ader", "ader-paper")}
    exact = results[None]
    print(f"{label}:")
    for key in SHOWN:
        reference = exact[key]
        if reference is None:
            print(f"  {key}: undefined")
            continue
        cells = [f"exact {100 * reference:.2f}"]
        for compat in ("ader", "ader-paper"):
            value = results[compat][key]
            cells.append(f"{compat} {100 * value:.2f} ({100 * (value - reference):+.2f})"
                         if value is not None else f"{compat} null")
        print(f"  {key}: " + ", ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "adbench-bench")
    parser.add_argument("--maps", type=int, default=1238)
    args = parser.parse_args()
    items = pairs_from_folders(args.root / "preds", args.root / "gts")[0]
    pairs = [load_pair(m, k) for m, k in list(zip(items.maps, items.masks,
                                                   strict=True))[:args.maps]]
    maps = [pair.map for pair in pairs]
    masks = [pair.mask for pair in pairs]
    gap(maps, masks, f"{len(maps)} maps")
    rng = np.random.default_rng(0)
    top = max(float(m.max()) for m in maps)
    outliers = [m.copy() for m in maps]
    for i in rng.choice(len(maps), 10, replace=False):
        outliers[i].flat[rng.integers(outliers[i].size)] = 7 * top
    gap(outliers, masks, f"{len(maps)} maps + 10 outlier pixels at 7x the maximum")
    ceiling = np.float32(np.quantile(np.concatenate([m.ravel() for m in maps[:200]]), 0.9))
    gap([np.minimum(m, ceiling) for m in maps], masks,
        f"{len(maps)} maps clipped at the 90th percentile (saturated)")


if __name__ == "__main__":
    main()
