"""Memory and time of small scorers: what a training loop's per-class scorers cost.

Four `Scorer`s given four 32x32 maps each (the resident memory they add, from
/proc/self/statm), and `metrics.score` on eight 32x32 maps (mean of 10 calls, after a
warm-up). Run it for two source trees to compare commits:
    python benchmarks/small_scorers.py [TREE]
(TREE: a checkout or worktree; default this one. The editable install's finder is
dropped so TREE's packages are the ones imported.)
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path


def resident_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096 / 2**20


def main() -> None:
    tree = str(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1]).resolve())
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, tree)
    import numpy as np

    import metrics
    from metrics import Scorer, score

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    maps = [rng.random((32, 32), dtype=np.float32) for _ in range(8)]
    masks = [rng.random((32, 32)) < 0.2 for _ in range(8)]
    score(maps, masks)  # numba's cache loaded
    before = resident_mib()
    scorers = []
    for _ in range(4):
        scorer = Scorer()
        for amap, mask in zip(maps[:4], masks[:4], strict=True):
            scorer.add_image(amap, mask)
        scorers.append(scorer)
    added = resident_mib() - before
    start = time.perf_counter()
    for _ in range(10):
        score(maps, masks)
    per_call = (time.perf_counter() - start) / 10
    print(f"{Path(metrics.__file__).parent.parent}: 4 scorers of 4 small maps add "
          f"{added:.0f} MiB resident; score() of 8 maps of 32x32: {per_call * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
