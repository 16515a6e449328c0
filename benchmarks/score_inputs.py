"""Benchmark what the checked inputs of `adbench score` cost, each against a plain
reference run in this process:

- reading a class (every image through `metrics.pairs.load_pair`, the folder scorer's
  per-image call: header checks, palette handling, the distinct-values test) against
  the plainest reading of the same files on the same thread pool (`np.load` of each map
  and `np.asarray(Image.open(mask)) != 0`), both into preallocated stacks;
- `metrics.resize_map` (NumPy) against `torch.nn.functional.interpolate` (bilinear,
  align_corners=False, one torch thread), 256x256 float32 maps to 480x640, if torch is
  installed;
- `metrics.resize_mask` against the bare Pillow call it wraps, 480x640 masks to 256x256.

Times are the best of `--repeats` runs, the two sides interleaved: wall time, and the
process's CPU time (all threads; steadier than wall time on a loaded machine). Usage:
    PYTHONPATH=. python benchmarks/score_inputs.py [--maps N] [--workers W]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from metrics import load_pair, resize_map, resize_mask
from metrics.folders import ClassItems

SIZE = 256


def _write_class(root: Path, count: int, rng: np.random.Generator) -> ClassItems:
    """count 256x256 float32 .npy maps, 0/255 PNG masks for 60% of them."""
    items = ClassItems("bench")
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for i in range(count):
        amap = root / f"{i:05d}.npy"
        np.save(amap, rng.random((SIZE, SIZE), dtype=np.float32))
        mask_path = None
        if i % 5 < 3:
            cy, cx, r = rng.integers(40, SIZE - 40), rng.integers(40, SIZE - 40), 30
            mask = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8) * 255
            mask_path = root / f"{i:05d}.png"
            Image.fromarray(mask).save(mask_path)
        items.maps.append(amap)
        items.masks.append(mask_path)
        items.keys.append(str(i))
    return items


def _checked_load(items: ClassItems, workers: int) -> tuple[np.ndarray, np.ndarray]:
    count = len(items.maps)
    maps = np.empty((count, SIZE, SIZE), np.float32)
    masks = np.zeros((count, SIZE, SIZE), np.uint8)

    def load(i: int) -> None:
        maps[i], masks[i], _ = load_pair(items.maps[i], items.masks[i])

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(load, range(count)))
    return maps, masks


def _plain_load(items: ClassItems, workers: int) -> tuple[np.ndarray, np.ndarray]:
    count = len(items.maps)
    maps = np.empty((count, SIZE, SIZE), np.float32)
    masks = np.zeros((count, SIZE, SIZE), np.uint8)

    def load(i: int) -> None:
        maps[i] = np.load(items.maps[i])
        mask = items.masks[i]
        if mask is not None:
            masks[i] = np.asarray(Image.open(mask)) != 0

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(load, range(count)))
    return maps, masks


def _best(calls: dict[str, Callable[[], object]], repeats: int,
          ) -> dict[str, tuple[float, float]]:
    """Per call: the best wall time and the best CPU time over the repeats."""
    best = dict.fromkeys(calls, (float("inf"), float("inf")))
    for _ in range(repeats):
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def _report(title: str, ours: str, reference: str, best: dict[str, tuple[float, float]],
            count: int) -> None:
    (wall, cpu), (ref_wall, ref_cpu) = best[ours], best[reference]
    print(f"{title} ({count} items): {ours} {wall:.3f} s wall / {cpu:.3f} s CPU, "
          f"{reference} {ref_wall:.3f} s / {ref_cpu:.3f} s; ratio wall {wall / ref_wall:.2f}, "
          f"CPU {cpu / ref_cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resizes", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        items = _write_class(Path(folder), args.maps, rng)
        ours, plain = _checked_load(items, args.workers), _plain_load(items, args.workers)
        assert np.array_equal(ours[0], plain[0]) and np.array_equal(ours[1], plain[1])
        best = _best({"load_pair": lambda: _checked_load(items, args.workers),
                      "plain": lambda: _plain_load(items, args.workers)}, args.repeats)
        _report("read a class", "load_pair", "plain", best, args.maps)

    maps = [rng.random((SIZE, SIZE), dtype=np.float32) for _ in range(args.resizes)]
    calls: dict[str, Callable[[], object]] = {
        "resize_map": lambda: [resize_map(m, (480, 640)) for m in maps]}
    try:
        import torch
    except ImportError:  # the reference is optional
        torch = None  # type: ignore[assignment]
    if torch is not None:
        torch.set_num_threads(1)
        interpolate = torch.nn.functional.interpolate
        calls["torch"] = lambda: [interpolate(torch.from_numpy(m)[None, None], size=(480, 640),
                                              mode="bilinear", align_corners=False)
                                  for m in maps]
        best = _best(calls, args.repeats)
        _report("map 256x256 -> 480x640", "resize_map", "torch", best, args.resizes)
    else:
        best = _best(calls, args.repeats)
        print(f"map 256x256 -> 480x640: resize_map {best['resize_map'][0]:.3f} s "
              f"({args.resizes} maps); torch not installed, no reference")

    masks = [rng.random((480, 640)) > 0.7 for _ in range(args.resizes)]

    def pil_only() -> list:
        return [np.asarray(Image.fromarray(np.where(m, np.uint8(255), np.uint8(0))).resize(
            (SIZE, SIZE), Image.Resampling.BILINEAR)) >= 128 for m in masks]

    best = _best({"resize_mask": lambda: [resize_mask(m, (SIZE, SIZE)) for m in masks],
                  "pillow": pil_only}, args.repeats)
    _report("mask 480x640 -> 256x256", "resize_mask", "pillow", best, args.resizes)


if __name__ == "__main__":
    main()
