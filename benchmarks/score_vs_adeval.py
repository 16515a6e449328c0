"""The folder scorer on a COCO-AD fold against adeval's CPU evaluator, in one process.

Workload: `score_coco_sized.py`'s files (4952 maps of 256x256 float32 `.npy`, blob masks
on ~60% of the images; generated once under --root). Timed in this process, each after a
warm-up call on 20 maps (numba's cache loaded):
- `metrics.score_folders(PREDS, GTS)`: reading every file, the exact suite, max_memory=4;
- adeval 1.1 (`pip install --no-deps adeval`; never a dependency of adbench), its CPU
  `EvalAccumulator` with nstrips=50 as ADer calls it: every file read, `add_anomap` and
  `add_image` per image, `summary()`. Its score bounds (ADer computes them from the maps
  in memory) are given to it for free, outside the timing;
- `Scorer.update` fed from maps already in memory, batches of 32, then `compute`: the
  per-pixel cost of the streaming API against the folder scorer's.
Prints wall and CPU seconds, the ratios, and how far adeval's binned values lie from the
exact ones. Usage:
    PYTHONPATH=. python benchmarks/score_vs_adeval.py [--root DIR] [--maps N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from score_coco_sized import generate

from metrics import Scorer, score_folders
from metrics.folders import pairs_from_folders


def clock() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process: user + system, every thread)."""
    t = os.times()
    return time.perf_counter(), t.user + t.system


def since(start: tuple[float, float]) -> tuple[float, float]:
    now = clock()
    return now[0] - start[0], now[1] - start[1]


def files(root: Path, n_maps: int) -> list[tuple[Path, Path | None]]:
    items = pairs_from_folders(root / "preds", root / "gts")[0]
    return list(zip(items.maps, items.masks, strict=True))[:n_maps]


def read(pair: tuple[Path, Path | None]) -> tuple[np.ndarray, np.ndarray]:
    amap = np.load(pair[0])
    mask = (np.asarray(Image.open(pair[1])) != 0 if pair[1] is not None
            else np.zeros(amap.shape, dtype=bool))
    return amap, mask


def run_adeval(pairs: list[tuple[Path, Path | None]], bounds: tuple[float, ...]) -> dict:
    """adeval's CPU evaluator over the files (np.trapz shimmed: NumPy 2.4 removed it)."""
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # type: ignore[attr-defined]
    from adeval import EvalAccumulator

    lo, hi, score_lo, score_hi = bounds
    accumulator = EvalAccumulator(score_lo - 1e-6, score_hi + 1e-6, lo, hi,
                                  skip_pixel_aupro=False, nstrips=50)
    for pair in pairs:
        amap, mask = read(pair)
        accumulator.add_anomap(amap, mask.astype(np.uint8))
        accumulator.add_image(float(amap.max()), int(mask.any()))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return accumulator.summary()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "adbench-bench")
    parser.add_argument("--maps", type=int, default=4952)
    args = parser.parse_args()
    generate(args.root, args.maps)
    pairs = files(args.root, args.maps)
    n_pixels = sum(np.load(p, mmap_mode="r").size for p, _ in pairs)
    print(f"load average {os.getloadavg()[0]:.1f}; {len(pairs)} maps, {n_pixels / 1e6:.0f}M px")

    warm = args.root / "warm"
    if not warm.is_dir():
        (warm / "preds" / "coco").mkdir(parents=True)
        (warm / "gts" / "coco").mkdir(parents=True)
        for amap, mask in pairs[:20]:
            (warm / "preds" / "coco" / amap.name).symlink_to(amap)
            if mask is not None:
                (warm / "gts" / "coco" / mask.name).symlink_to(mask)
    score_folders(warm / "preds", warm / "gts")

    start = clock()
    ours = score_folders(args.root / "preds", args.root / "gts")["classes"]["coco"]
    ours_wall, ours_cpu = since(start)
    print(f"score_folders (exact suite, files read): {ours_wall:.2f} s wall, "
          f"{ours_cpu:.2f} s CPU, {ours_cpu / n_pixels * 1e9:.1f} ns CPU per pixel")

    maps = [read(p) for p in pairs]
    lo = min(float(m.min()) for m, _ in maps)
    hi = max(float(m.max()) for m, _ in maps)
    image_scores = [float(m.max()) for m, _ in maps]
    start = clock()
    with Scorer() as scorer:
        for i in range(0, len(maps), 32):
            batch = maps[i:i + 32]
            scorer.update(np.stack([m for m, _ in batch]), np.stack([k for _, k in batch]))
        streamed = scorer.compute()
    update_wall, update_cpu = since(start)
    del maps
    print(f"Scorer.update (in memory, batches of 32) + compute: {update_wall:.2f} s wall, "
          f"{update_cpu:.2f} s CPU, {update_cpu / n_pixels * 1e9:.1f} ns CPU per pixel "
          f"(folder scorer / update, CPU: {ours_cpu / update_cpu:.2f}); same result: "
          f"{streamed == ours}")

    run_adeval(pairs[:20], (lo, hi, min(image_scores), max(image_scores)))
    start = clock()
    theirs = run_adeval(pairs, (lo, hi, min(image_scores), max(image_scores)))
    adeval_wall, adeval_cpu = since(start)
    print(f"adeval EvalAccumulator (CPU, nstrips=50, files read): {adeval_wall:.2f} s wall, "
          f"{adeval_cpu:.2f} s CPU")
    print(f"ratio adeval / score_folders: {adeval_wall / ours_wall:.2f}x wall, "
          f"{adeval_cpu / ours_cpu:.2f}x CPU")
    for key, theirs_key in (("auroc_p", "p_auroc"), ("ap_p", "p_aupr"), ("aupro_p", "p_aupro"),
                            ("auroc_i", "i_auroc")):
        print(f"  {key}: exact {ours[key]:.6f}, adeval {theirs[theirs_key]:.6f} "
              f"({theirs[theirs_key] - ours[key]:+.2e})")


if __name__ == "__main__":
    main()
