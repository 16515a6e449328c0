"""`metrics.Scorer` across processes: `torchrun --nproc_per_node 2` on CPU/gloo, each rank
scoring its half of a class (with a memory bound small enough to spill), the ranks'
Scorers collected with `torch.distributed.all_gather_object` and merged on rank 0, gives
bitwise the result of `metrics.score` on the whole class in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

WORKER = '''
import json, sys, warnings
import numpy as np
import torch
import torch.distributed as dist
from metrics import Scorer

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
data = np.load(sys.argv[1])
maps, masks = torch.from_numpy(data["maps"]), torch.from_numpy(data["masks"])
local = Scorer(max_memory=1e-4)  # spills: the pickles must carry the spilled data
for start in range(rank * 4, len(maps), 4 * world):  # this rank's batches of 4
    local.update(maps[start:start + 4].to(torch.bfloat16), masks[start:start + 4])
gathered = [None] * world
dist.all_gather_object(gathered, local)
if rank == 0:
    total = gathered[0]
    for other in gathered[1:]:
        total.merge(other)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = total.compute()
    with open(sys.argv[2], "w") as handle:
        json.dump({"result": result, "images": total.n_images}, handle)
dist.destroy_process_group()
'''


@pytest.mark.slow
def test_ranks_gathered_and_merged_equal_one_process(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from metrics import score

    rng = np.random.default_rng(0)
    masks = rng.random((22, 24, 24)) < 0.1
    maps = (rng.random(masks.shape) + 0.6 * masks).astype(np.float32)
    maps = torch.from_numpy(maps).to(torch.bfloat16).float().numpy()  # what the ranks send
    np.savez(tmp_path / "class.npz", maps=maps, masks=masks)
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nnodes", "1", "--nproc_per_node", "2", str(worker),
                           str(tmp_path / "class.npz"), str(tmp_path / "out.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    gathered = json.loads((tmp_path / "out.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = score(maps, masks)
    assert gathered["images"] == 22
    assert gathered["result"] == json.loads(json.dumps(expected))  # floats round-trip exactly
