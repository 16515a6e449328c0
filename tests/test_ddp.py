"""DDP: `torchrun --nproc_per_node 2` on CPU/gloo trains the same model as one process
with the same global batch.

Why they agree and how closely: both runs build the model from the same seed and see the
same global batches (the DistributedSampler splits each single-process batch of 8 into
two halves of 4, see test_data). DDP averages the two halves' mean-loss gradients, which
equals the gradient of the mean loss over the 8 images up to summation order. The model
runs in float64 (the AE with GroupNorm, its inputs and loss cast to double): in float32
that order costs ~1e-7 of a gradient's terms, and Adam, dividing by sqrt(v), turns such
noise on a gradient that is ~0 into a step of up to lr, a difference that depends on the
CPU's kernels. In float64 the noise is ~1e-16 of the terms and stays far below Adam's
eps, so after 8 steps the two runs agree to 1.4e-13 of each tensor's largest value
(measured; in float32 they differed by up to 1.5e-6 absolute); we allow 1e-9 of it,
while a missing all-reduce, a wrong lr scaling or a different data split moves weights
by whole steps (lr 2.5e-4) and fails. BatchNorm would differ per process (SyncBatchNorm
needs CUDA; the trainer converts to it on CUDA), hence GroupNorm. Both runs use
`--cache`, so the DDP run also builds it on one process while the other waits.
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

class DoubleAutoencoder(ConvAutoencoder):
    """The AE with GroupNorm in float64: inputs cast to double, the loss left in double."""

    def forward(self, images):
        return super().forward(images.double())

    def loss(self, outputs):
        images, reconstructions = outputs
        return torch.nn.functional.mse_loss(reconstructions, images)


@register_baseline("ae-groupnorm-fp64", recipe=get_baseline("ae").recipe)
def build(image_size, weights, **options):
    return DoubleAutoencoder(image_size, norm="group").double()

run_baseline(RunConfig(name="ae-groupnorm-fp64", data=Path(sys.argv[1]), epochs=2, batch_size=8,
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
    for key, value in single["model"].items():
        assert value.dtype == torch.float64, key
        torch.testing.assert_close(ddp["model"][key], value, rtol=1e-9,
                                   atol=1e-9 * float(value.abs().max()))
    torch.manual_seed(3)  # the initial weights of both runs
    initial = ConvAutoencoder(32, norm="group").double().state_dict()["encoder.0.0.weight"]
    moved = (single["model"]["encoder.0.0.weight"] - initial).abs().max().item()
    assert moved > 1e-4  # training moved the weights by far more than the tolerance
