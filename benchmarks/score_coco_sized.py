"""Benchmark `adbench score` on a generated COCO-AD-sized workload against scikit-learn.

Writes N maps (default 4952) of 256x256 float32 `.npy` and object-like `.png` masks on
about 60% of the images, then times, each in a fresh process (files read included):
- the whole `adbench score` command on all maps (warm numba cache), wall time and peak RSS;
- the whole command on the first 1500 maps, once with an empty numba cache and once warm;
- the command on the first `--sklearn-maps` maps (default 1238) and, in this process,
  scikit-learn's roc_auc_score + average_precision_score on exactly those pixels.
Prints the figures and the ratios. Usage:
    PYTHONPATH=. python benchmarks/score_coco_sized.py [--root DIR] [--maps N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 256


def _mask(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx = rng.integers(20, SIZE - 20, 2)
        ry, rx = rng.integers(6, 70, 2)
        angle = rng.uniform(0, np.pi)
        u = ((yy - cy) * np.cos(angle) + (xx - cx) * np.sin(angle)) / ry
        v = (-(yy - cy) * np.sin(angle) + (xx - cx) * np.cos(angle)) / rx
        mask |= u**2 + v**2 <= 1 + 0.3 * np.sin(5 * np.arctan2(v, u))
    return mask


def generate(root: Path, n_maps: int, seed: int = 0) -> None:
    """Write root/preds/coco/<i>.npy and root/gts/coco/<i>.png (anomalous images only)."""
    preds, gts = root / "preds" / "coco", root / "gts" / "coco"
    if preds.is_dir() and len(os.listdir(preds)) == n_maps:
        return
    preds.mkdir(parents=True, exist_ok=True)
    gts.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n_maps):
        coarse = rng.random((16, 16))
        smooth = np.kron(coarse, np.ones((16, 16)))
        amap = 0.4 * smooth + 0.2 * rng.random((SIZE, SIZE))
        if rng.random() < 0.6:
            mask = _mask(rng)
            amap += mask * rng.uniform(0.05, 0.5)
            Image.fromarray(mask.astype(np.uint8) * 255).save(gts / f"{i:06d}.png")
        np.save(preds / f"{i:06d}.npy", amap.astype(np.float32))


def subset(root: Path, n_maps: int) -> Path:
    """root/sub_N/{preds,gts}/coco with links to the first N maps and their masks."""
    sub = root / f"sub_{n_maps}"
    if not sub.is_dir():
        for kind, ext in (("preds", ".npy"), ("gts", ".png")):
            (sub / kind / "coco").mkdir(parents=True)
            for i in range(n_maps):
                src = root / kind / "coco" / f"{i:06d}{ext}"
                if src.exists():
                    (sub / kind / "coco" / src.name).symlink_to(src)
    return sub


def timed_command(data: Path, env: dict[str, str]) -> tuple[float, float, dict]:
    """Wall seconds and peak RSS (GB) of `python -m adbench score` in a fresh process."""
    out = data / "result.json"
    probe = ("import resource,subprocess,sys,time;t=time.perf_counter();"
             "subprocess.run(sys.argv[1:],check=True,stdout=subprocess.DEVNULL,"
             "stderr=subprocess.DEVNULL);"
             "print(time.perf_counter()-t,resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "adbench", "score",
           str(data / "preds"), str(data / "gts"), "--json", str(out)]
    wall, rss_kb = subprocess.run(cmd, check=True, capture_output=True, text=True,
                                  env=env).stdout.split()
    return float(wall), int(rss_kb) / 2**20, json.loads(out.read_text())


def sklearn_reference(data: Path) -> tuple[float, float, float, float]:
    """Seconds, peak RSS growth (GB), AUROC, AP of scikit-learn on the subset's pixels."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    paths = sorted((data / "preds" / "coco").iterdir())
    scores = np.stack([np.load(p) for p in paths]).ravel()
    labels = np.zeros(scores.shape, dtype=bool).reshape(len(paths), SIZE, SIZE)
    for i, p in enumerate(paths):
        mask = data / "gts" / "coco" / f"{p.stem}.png"
        if mask.exists():
            labels[i] = np.asarray(Image.open(mask)) != 0
    labels = labels.ravel()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    auroc = roc_auc_score(labels, scores)
    ap = average_precision_score(labels, scores)
    seconds = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 2**20
    return seconds, grown, auroc, ap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "adbench-bench")
    parser.add_argument("--maps", type=int, default=4952)
    parser.add_argument("--small", type=int, default=1500)
    parser.add_argument("--sklearn-maps", type=int, default=1238)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo))
    t0 = time.perf_counter()
    generate(args.root, args.maps)
    print(f"data: {args.maps} maps under {args.root} ({time.perf_counter() - t0:.0f} s)")

    with tempfile.TemporaryDirectory() as cold_cache:
        wall_cold, rss, _ = timed_command(subset(args.root, args.small),
                                          dict(env, NUMBA_CACHE_DIR=cold_cache))
    print(f"{args.small} maps, empty numba cache: {wall_cold:.2f} s, peak {rss:.2f} GB")
    timed_command(subset(args.root, args.small), env)  # make sure the cache is warm
    wall_small, rss_small, _ = timed_command(subset(args.root, args.small), env)
    print(f"{args.small} maps, warm cache: {wall_small:.2f} s, peak {rss_small:.2f} GB")
    wall_full, rss_full, _ = timed_command(args.root, env)
    print(f"{args.maps} maps (full suite): {wall_full:.2f} s, peak {rss_full:.2f} GB")

    ref = subset(args.root, args.sklearn_maps)
    wall_ref, rss_ours, ours = timed_command(ref, env)
    sk_seconds, sk_gb, auroc, ap = sklearn_reference(ref)
    print(f"{args.sklearn_maps} maps: adbench score {wall_ref:.2f} s (peak {rss_ours:.2f} GB), "
          f"sklearn roc_auc+ap {sk_seconds:.2f} s (+{sk_gb:.2f} GB peak)")
    got = ours["classes"]["coco"]
    print(f"  agreement: |dAUROC| {abs(got['auroc_p'] - auroc):.1e}, "
          f"|dAP| {abs(got['ap_p'] - ap):.1e}")
    print(f"  ratio (same pixels, whole command vs sklearn's two calls): "
          f"{sk_seconds / wall_ref:.1f}x")
    per_map = sk_seconds / args.sklearn_maps
    print(f"  ratio at {args.small} maps vs sklearn scaled linearly: "
          f"{per_map * args.small / wall_small:.1f}x warm cache, "
          f"{per_map * args.small / wall_cold:.1f}x empty cache; at {args.maps}: "
          f"{per_map * args.maps / wall_full:.1f}x")


if __name__ == "__main__":
    main()
