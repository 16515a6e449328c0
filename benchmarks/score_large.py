"""The folder scorer on classes larger than memory: peak RSS, time, passes over the data.

Two generated workloads (files written once under --root, removed with --clean):
- `native`: 4952 COCO-AD-like maps at COCO's own sizes (640x480, 480x640, 640x427, ...;
  ~1.5e9 px, float32 `.npy`, 6 GB) with blob masks on ~60% of the images;
- `huge`: one class of 100,000 maps of 256x256 (6.6e9 px) stored as float16 `.npy`
  (13 GB; exact in float32), blob masks on ~40% of the images.
Each is scored by `metrics.score_folders(max_memory=4)` in a fresh process, which reports
its wall and CPU time, its peak resident memory (`ru_maxrss`), how many map and mask files
it read, and how many bytes it wrote to and read back from spill files; `--check` scores
it again with max_memory=1.5 (another spill pattern) and compares the two results bit for
bit. adeval's CPU evaluator (nstrips=50) runs on the first `--adeval-maps` maps in this
process and its time is scaled linearly to the whole class (adeval's cost is linear in
the pixels). Usage:
    PYTHONPATH=. python benchmarks/score_large.py native|huge [--root DIR] [--check] [--clean]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

COCO_SIZES = ((480, 640), (640, 480), (427, 640), (640, 427), (375, 500), (512, 640),
              (424, 640), (640, 512), (333, 500), (480, 360))

DRIVER = """
import json, os, resource, sys, time
import metrics.runs, metrics.spill
from metrics import score_folders
written = [0]
read = [0]
real_init = metrics.spill.SpillFile.__init__
real_read = metrics.spill.SpillFile.read_into
def counting_init(self, arrays, folder):
    real_init(self, arrays, folder)
    written[0] += self.nbytes
def counting_read(self, position, out):
    real_read(self, position, out)
    read[0] += out.nbytes
metrics.spill.SpillFile.__init__ = counting_init
metrics.spill.SpillFile.read_into = counting_read
t = os.times(); start = time.perf_counter()
result = score_folders(sys.argv[1], sys.argv[2], max_memory=float(sys.argv[3]), workers=4)
wall = time.perf_counter() - start; u = os.times()
print(json.dumps({"wall": wall, "cpu": u.user + u.system - t.user - t.system,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "spill_written": written[0], "spill_read": read[0],
                  "result": result["classes"], "counts": result["counts"]}))
"""


def _blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    mask = np.zeros((h, w), dtype=bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.integers(h // 8, h - h // 8), rng.integers(w // 8, w - w // 8)
        ry, rx = rng.integers(h // 30 + 2, h // 4), rng.integers(w // 30 + 2, w // 4)
        mask |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    return mask


def _smooth(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    coarse = rng.random((h // 16 + 1, w // 16 + 1))
    return (0.4 * np.kron(coarse, np.ones((16, 16)))[:h, :w] + 0.2 * rng.random((h, w)))


def generate(root: Path, kind: str) -> tuple[Path, Path, int]:
    """Write root/kind/{preds,gts}/cls (once); returns (preds, gts, pixels)."""
    base = root / kind
    preds, gts = base / "preds" / "cls", base / "gts" / "cls"
    n_maps, anomalous, dtype = ((4952, 0.6, np.float32) if kind == "native"
                                else (100_000, 0.4, np.float16))
    done = base / "complete.json"
    if done.exists():
        return base / "preds", base / "gts", json.loads(done.read_text())["pixels"]
    preds.mkdir(parents=True, exist_ok=True)
    gts.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pixels = 0
    for i in range(n_maps):
        h, w = COCO_SIZES[i % len(COCO_SIZES)] if kind == "native" else (256, 256)
        amap = _smooth(rng, h, w)
        if rng.random() < anomalous:
            mask = _blob(rng, h, w)
            amap += mask * rng.uniform(0.05, 0.5)
            Image.fromarray(mask.astype(np.uint8) * 255).save(gts / f"{i:06d}.png")
        np.save(preds / f"{i:06d}.npy", amap.astype(dtype))
        pixels += h * w
    done.write_text(json.dumps({"pixels": pixels}))
    return base / "preds", base / "gts", pixels


def score_in_subprocess(preds: Path, gts: Path, max_memory: float) -> dict:
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    out = subprocess.run([sys.executable, "-c", DRIVER, str(preds), str(gts),
                          str(max_memory)], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def adeval_seconds(preds: Path, gts: Path, n_maps: int) -> tuple[float, int]:
    """Wall seconds of adeval's CPU evaluator over the first n_maps maps (files read)."""
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # type: ignore[attr-defined]
    from adeval import EvalAccumulator

    paths = sorted(preds.glob("*.npy"))[:n_maps]
    lo, hi, pixels = np.inf, -np.inf, 0
    for path in paths:
        amap = np.load(path)
        lo, hi, pixels = min(lo, float(amap.min())), max(hi, float(amap.max())), pixels + amap.size
    accumulator = EvalAccumulator(lo, hi, lo, hi, nstrips=50)
    start = time.perf_counter()
    for path in paths:
        amap = np.load(path).astype(np.float32)
        mask_path = gts / f"{path.stem}.png"
        mask = (np.asarray(Image.open(mask_path)) != 0 if mask_path.exists()
                else np.zeros(amap.shape, dtype=bool))
        accumulator.add_anomap(amap, mask.astype(np.uint8))
        accumulator.add_image(float(amap.max()), int(mask.any()))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # its unused per-sample accumulator is empty
        accumulator.summary()
    return time.perf_counter() - start, pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("native", "huge"))
    parser.add_argument("--root", type=Path,
                        default=Path(tempfile.gettempdir()) / "adbench-bench-large")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--adeval-maps", type=int, default=2000)
    args = parser.parse_args()
    start = time.perf_counter()
    preds, gts, pixels = generate(args.root, args.kind)
    print(f"{args.kind}: {pixels / 1e9:.2f}e9 px under {preds.parent} "
          f"({time.perf_counter() - start:.0f} s to make or find)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    run = score_in_subprocess(preds, gts, 4.0)
    n_masks = sum(1 for _ in (gts / "cls").iterdir())
    print(f"score_folders(max_memory=4): {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU, "
          f"peak RSS {run['peak_gib']:.2f} GiB; read {sum(run['counts']['cls'].values())} "
          f"maps + {n_masks} masks once; spill written {run['spill_written'] / 2**30:.2f} GiB,"
          f" read back {run['spill_read'] / 2**30:.2f} GiB")
    print("  " + ", ".join(f"{k} {v:.6f}" for k, v in run["result"]["cls"].items()
                           if k in ("auroc_p", "ap_p", "aupro_p", "auroc_i")))
    if args.check:
        again = score_in_subprocess(preds, gts, 1.5)
        print(f"max_memory=1.5: {again['wall']:.1f} s, peak {again['peak_gib']:.2f} GiB, "
              f"spilled {again['spill_written'] / 2**30:.2f} GiB; bitwise the same result: "
              f"{again['result'] == run['result']}")
    seconds, sub_pixels = adeval_seconds(preds / "cls", gts / "cls", args.adeval_maps)
    scaled = seconds * pixels / sub_pixels
    print(f"adeval CPU evaluator: {seconds:.1f} s on {sub_pixels / 1e9:.3f}e9 px, scaled to "
          f"the class: {scaled:.0f} s ({scaled / run['wall']:.1f}x score_folders' wall time)")
    if args.clean:
        shutil.rmtree(args.root / args.kind)


if __name__ == "__main__":
    main()
