"""How far `--compat ader` (adeval's 50 bins) is from the exact definitions.

Scores the workload written by `score_coco_sized.py` (or the first --maps of it) both
ways, then again after setting a few pixels to 7x the maximum (outliers stretch the
bins' [min, max]). Prints the per-metric differences in percentage points. Usage:
    PYTHONPATH=. python benchmarks/score_compat_gap.py [--root DIR] [--maps N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from metrics.folders import pairs_from_folders
from metrics.loading import load_class
from metrics.score import score_stacks

SHOWN = ("auroc_p", "ap_p", "f1max_p", "aupro_p")


def gap(maps: np.ndarray, masks: np.ndarray, label: str) -> None:
    exact = score_stacks(maps, masks, None, None)
    ader = score_stacks(maps, masks, None, "ader")
    cells = ", ".join(f"{k} {100 * exact[k]:.2f} vs {100 * ader[k]:.2f} "
                      f"({100 * (ader[k] - exact[k]):+.2f})" for k in SHOWN)
    print(f"{label}: exact vs ader, percent: {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "adbench-bench")
    parser.add_argument("--maps", type=int, default=1238)
    args = parser.parse_args()
    items = pairs_from_folders(args.root / "preds", args.root / "gts")[0]
    items.maps, items.masks = items.maps[:args.maps], items.masks[:args.maps]
    maps, masks = load_class(items, 4, False)
    gap(maps, masks, f"{len(maps)} maps")
    rng = np.random.default_rng(0)
    flat = maps.reshape(-1)
    flat[rng.choice(flat.size, 10, replace=False)] = 7 * flat.max()
    gap(maps, masks, f"{len(maps)} maps + 10 outlier pixels at 7x max")


if __name__ == "__main__":
    main()
