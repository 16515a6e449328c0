"""DDP: `torchrun --nproc_per_node 2` on CPU/gloo trains the same model as one process
with the same global batch.

Why they agree and how closely: both runs build the model from the same seed and see the
same global batches (the DistributedSampler splits each single-process batch of 8 into
two halves of 4, see test_data). DDP averages the two halves' mean-loss gradients, which
equals the gradient of the mean loss over the 8 images up to float32 summation order
(~1e-7 relative). Adam then divides by sqrt(v), which can enlarge such differences for
parameters with tiny gradients, and they compound over the steps; after 8 steps at
lr 2.5e-4 we allow 1e-5 absolute (1e-4 relative), far below one Adam step (2.5e-4): a
missing all-reduce, a wrong lr scaling or a different data split moves weights by
whole steps and fails. BatchNorm would differ per process (SyncBatchNorm needs CUDA;
the trainer converts to it on CUDA), so this test uses the AE with GroupNorm. Both runs
use `--cache`, so the DDP run also builds it on one process while the other waits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from baselines.models.ae import ConvAutoencoder

REPO = Path(__file__).resolve().parents[1]

WORKER = '''
import sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from baselines import get_baseline, register_baseline
from baselines.models.ae import ConvAutoencoder
from adbench.pipeline import RunConfig, run_baseline

@register_baseline("ae-groupnorm", recipe=get_baseline("ae").recipe)
def build(image_size, weights, **options):
    return ConvAutoencoder(image_size, norm="group")

run_baseline(RunConfig(name="ae-groupnorm", data=Path(sys.argv[1]), epochs=2, batch_size=8,
                       image_size=32, weights="none", device="cpu", seed=3,
                       out=Path(sys.argv[2]), record=False, evaluate=False, progress=False,
                       cache=True, cache_dir=Path(sys.argv[2]) / "cache"))
'''


def _run(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


def test_ddp_two_processes_match_one_process(toy_mvtec_root: Path, tmp_path: Path):
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    _run([sys.executable, str(worker), str(toy_mvtec_root), str(tmp_path / "single")])
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
          "--nproc_per_node", "2", str(worker), str(toy_mvtec_root), str(tmp_path / "ddp")])

    starts = {}
    for name in ("single", "ddp"):
        events = [json.loads(line) for line in (tmp_path / name / "log.jsonl").open()]
        starts[name] = next(e for e in events if e["event"] == "start")
    assert (starts["single"]["world_size"], starts["single"]["per_process_batch"]) == (1, 8)
    assert (starts["ddp"]["world_size"], starts["ddp"]["per_process_batch"]) == (2, 4)

    single = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=False)
    ddp = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=False)
    assert single["epoch"] == ddp["epoch"] == 2
    assert len(list((tmp_path / "ddp" / "cache").glob("*.images.npy"))) == 2
    assert single["scheduler"]["last_epoch"] == ddp["scheduler"]["last_epoch"] == 8
    for key, value in single["model"].items():  # measured: max difference ~1.3e-6
        torch.testing.assert_close(ddp["model"][key], value, atol=1e-5, rtol=1e-4)
    torch.manual_seed(3)  # the initial weights of both runs
    initial = ConvAutoencoder(32, norm="group").state_dict()["encoder.0.0.weight"]
    moved = (single["model"]["encoder.0.0.weight"] - initial).abs().max().item()
    assert moved > 1e-4  # training moved the weights by far more than the tolerance
