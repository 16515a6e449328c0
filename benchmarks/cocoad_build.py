"""Time `cocoad build --fold 0` on a synthetic annotation set of COCO 2017's size.

Usage: python benchmarks/cocoad_build.py [--data /tmp/cocoad_bench] [--workers N]
                                         [--masks pycocotools|ader] [--code CHECKOUT]

1. Generates (once, cached under --data) instances_train2017.json with 118,287 images and
   ~860k annotations and instances_val2017.json with 5,000 images and ~36.8k annotations:
   COCO-like image sizes, ~0.9% images without annotations, a person-heavy category mix
   with ~2.9 categories per image, star-shaped polygons of ~24 vertices on average with
   COCO-like object sizes, ~1% crowd annotations as uncompressed RLE.
2. The floor: loads both files with pycocotools.COCO in this process (parsing + indexes).
3. A stricter reference: json.loads of both files with the garbage collector paused.
4. Runs `python -m cocoad build --fold 0 --force` in a subprocess (from --code, default
   this checkout: give an older checkout to compare), measuring its wall time, the peak
   resident memory of the build process itself and of its largest worker (the kernel's
   own high-water marks, read by the build process as it exits: exact; a forked worker's
   counts the pages it shares with the build),
   and the peak of the summed resident memory of it and its workers (polling /proc; the
   sum counts pages that forked workers share with the parent once per process: it
   over-states).
Prints the times and the ratios build / floor and build / parse (goal: <= 1.5, < 60 s, < 6 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cocoad.categories import COCO_CATEGORIES, coco_category_dicts  # noqa: E402

SIZES = [(640, 480), (480, 640), (640, 427), (427, 640), (640, 426), (640, 360), (500, 375),
         (640, 512), (612, 612)]


def _category_weights(rng: np.random.Generator) -> np.ndarray:
    """Person first and heavy, the rest a shuffled Zipf-like tail (COCO's image frequencies)."""
    tail = 1.0 / np.arange(1, 80) ** 0.8
    rng.shuffle(tail)
    weights = np.concatenate([[tail.sum() * 0.45], tail])
    return weights / weights.sum()


def _polygons(rng: np.random.Generator, n: int, widths: np.ndarray, heights: np.ndarray
              ) -> list[list[float]]:
    """n star-shaped polygons, ~24 vertices on average, COCO-like size spread."""
    vertices = np.clip(rng.lognormal(np.log(20), 0.6, n), 4, 250).astype(int)
    radius = np.clip(rng.lognormal(np.log(28), 1.0, n), 2, widths.clip(max=heights) / 2)
    cx = rng.uniform(0, widths)
    cy = rng.uniform(0, heights)
    owner = np.repeat(np.arange(n), vertices)
    angle = np.sort(owner + rng.random(owner.size)) - owner  # sorted within each polygon
    r = radius[owner] * rng.uniform(0.6, 1.0, owner.size)
    xs = np.clip(cx[owner] + r * np.cos(2 * np.pi * angle), 0, widths[owner] - 1)
    ys = np.clip(cy[owner] + r * np.sin(2 * np.pi * angle), 0, heights[owner] - 1)
    flat = np.round(np.stack([xs, ys], axis=1).ravel(), 2)
    return [part.tolist() for part in np.split(flat, np.cumsum(2 * vertices)[:-1])]


def _crowd_rle(rng: np.random.Generator, width: int, height: int) -> dict:
    """An uncompressed RLE of a random box, as COCO's crowd annotations store it."""
    x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    x1, y1 = int(rng.integers(x0 + 1, width)), int(rng.integers(y0 + 1, height))
    runs = [x0 * height + y0]
    for _ in range(x0, x1 - 1):
        runs += [y1 - y0, height - (y1 - y0)]
    runs += [y1 - y0, height * width - sum(runs) - (y1 - y0)]
    return {"counts": runs, "size": [height, width]}


def write_synthetic(path: Path, rng: np.random.Generator, n_images: int, n_empty: int,
                    first_id: int) -> int:
    """Write one COCO-size annotation file; return its number of annotations."""
    weights = _category_weights(rng)
    cat_ids = np.array([c[0] for c in COCO_CATEGORIES])
    sizes = np.array(SIZES)[rng.integers(0, len(SIZES), n_images)]
    counts = 1 + rng.negative_binomial(1.2, 1.2 / 7.53, n_images)
    counts[rng.choice(n_images, n_empty, replace=False)] = 0
    images = [{"license": 1, "file_name": f"{first_id + i:012d}.jpg", "height": int(h),
               "width": int(w), "id": first_id + i} for i, (w, h) in enumerate(sizes)]
    ann_image = np.repeat(np.arange(n_images), counts)
    ann_cat = np.empty(ann_image.size, dtype=int)
    start = 0
    for count in counts:
        n_cats = min(count, 1 + rng.poisson(1.9))
        if count:
            chosen = rng.choice(cat_ids, n_cats, replace=False, p=weights)
            ann_cat[start:start + count] = chosen[rng.integers(0, n_cats, count)]
        start += count
    widths, heights = sizes[ann_image, 0], sizes[ann_image, 1]
    polygons = _polygons(rng, ann_image.size, widths, heights)
    crowd = rng.random(ann_image.size) < 0.01
    with open(path, "w") as handle:
        handle.write('{"info": {"description": "synthetic COCO-size set"}, "licenses": [], ')
        handle.write(f'"images": {json.dumps(images)}, "annotations": [')
        for k in range(ann_image.size):
            w, h = int(widths[k]), int(heights[k])
            poly = polygons[k]
            segm = _crowd_rle(rng, w, h) if crowd[k] else [poly]
            xs, ys = poly[0::2], poly[1::2]
            bbox = [min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)]
            ann = {"segmentation": segm, "area": round(bbox[2] * bbox[3] * 0.55, 2),
                   "iscrowd": int(crowd[k]), "image_id": first_id + int(ann_image[k]),
                   "bbox": bbox, "category_id": int(ann_cat[k]), "id": first_id * 10 + k}
            handle.write(("," if k else "") + json.dumps(ann))
        handle.write(f'], "categories": {json.dumps(coco_category_dicts())}}}')
    return int(ann_image.size)


def ensure_data(root: Path) -> Path:
    """Generate the synthetic COCO-size annotation files under root once."""
    done = root / "annotations" / ".complete"
    if not done.exists():
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(2017)
        started = time.perf_counter()
        n_train = write_synthetic(root / "annotations" / "instances_train2017.json", rng,
                                  118287, 1021, 1)
        n_val = write_synthetic(root / "annotations" / "instances_val2017.json", rng,
                                5000, 48, 200000)
        done.write_text(f"{n_train} {n_val}\n")
        print(f"generated {n_train} + {n_val} annotations in "
              f"{time.perf_counter() - started:.0f} s")
    return root


def _tree_rss_kib(pid: int) -> int:
    """Summed VmRSS of a process and all its descendants, in KiB (0 once it is gone)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(status.split("VmRSS:")[1].split()[0]) if "VmRSS:" in status else 0
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# Runs the cocoad CLI and, as it exits, prints its own and its largest child's peak RSS.
# Its own is VmHWM, not getrusage's ru_maxrss, which after exec keeps the high-water mark
# of the process that started it (here this benchmark, grown by the floor's parse).
CLI_WITH_PEAKS = """
import atexit, resource, sys
def report():
    status = open("/proc/self/status").read()
    own = int(status.split("VmHWM:")[1].split()[0])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"PEAK_KIB {own} {children}", file=sys.stderr)
atexit.register(report)
sys.argv[0] = "cocoad"
from cocoad.cli import main
main()
"""


def time_build(root: Path, out: Path, workers: int | None, masks: str, code: Path
               ) -> tuple[float, float, float, float]:
    """Wall seconds and peak RSS in GiB (build process, largest worker, summed over all) of
    `cocoad build --fold 0 --force` run from checkout `code`."""
    command = [sys.executable, "-c", CLI_WITH_PEAKS, "build", "--fold", "0", "--force",
               "--coco-root", str(root), "--out", str(out)]
    if workers:
        command += ["--workers", str(workers)]
    if masks != "pycocotools":
        command += ["--masks", masks]
    env = {**os.environ, "PYTHONPATH": str(code)}
    peak = 0
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=code,  # -c puts the cwd first on the path
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def poll() -> None:
        nonlocal peak
        while process.poll() is None:
            peak = max(peak, _tree_rss_kib(process.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll)
    watcher.start()
    output, errors = process.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    if process.returncode:
        raise SystemExit(f"build failed ({process.returncode}): {errors[-2000:]}")
    own, worker = (int(v) for v in errors.split("PEAK_KIB ")[1].split()[:2])
    print(output.strip())
    return wall, own / 2**20, worker / 2**20, peak / 2**20


def time_floor(root: Path) -> float:
    """Seconds to load both annotation files with pycocotools.COCO."""
    from pycocotools.coco import COCO

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        loaded = [COCO(str(root / "annotations" / f"instances_{s}2017.json"))
                  for s in ("train", "val")]
    seconds = time.perf_counter() - started
    del loaded
    gc.collect()
    return seconds


def time_json_gc_paused(root: Path) -> float:
    """Seconds to json.loads both files with the garbage collector paused (cocoad's parse)."""
    started = time.perf_counter()
    gc.disable()
    try:
        loaded = [json.loads((root / "annotations" / f"instances_{s}2017.json").read_bytes())
                  for s in ("train", "val")]
    finally:
        gc.enable()
    seconds = time.perf_counter() - started
    del loaded
    gc.collect()
    return seconds


def main() -> None:
    """Generate if needed, time the floor and the build, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/cocoad_bench"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--masks", default="pycocotools", choices=["pycocotools", "ader"])
    parser.add_argument("--code", type=Path, action="append",
                        help="checkout whose cocoad is timed (default: this one); repeat it "
                             "to time several, e.g. before and after a change, in one run")
    args = parser.parse_args()
    root = ensure_data(args.data)
    for name in ("train", "val"):  # warm the page cache for both runs alike
        (root / "annotations" / f"instances_{name}2017.json").read_bytes()
    size_mb = sum((root / "annotations" / f"instances_{s}2017.json").stat().st_size
                  for s in ("train", "val")) / 1e6
    floor = time_floor(root)
    print(f"floor: pycocotools.COCO loads both files ({size_mb:.0f} MB): {floor:.1f} s")
    parse = time_json_gc_paused(root)
    print(f"json.loads of both files with the GC paused: {parse:.1f} s")
    for code in args.code or [REPO]:
        wall, own_gib, worker_gib, summed_gib = time_build(root, root / "out", args.workers,
                                                           args.masks, code)
        print(f"cocoad build --fold 0 ({code}): {wall:.1f} s wall; peak RSS: build process "
              f"{own_gib:.2f} GiB, largest worker {worker_gib:.2f} GiB, summed over all "
              f"processes {summed_gib:.2f} GiB")
        print(f"ratio build / floor: {wall / floor:.2f} (goal <= 1.5; < 60 s; < 6 GB); "
              f"build / GC-paused json parse: {wall / parse:.2f}")


if __name__ == "__main__":
    main()
