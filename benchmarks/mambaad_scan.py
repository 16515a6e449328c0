"""MambaAD's selective scan: memory and time of our lean scan against plain autograd.

Two measurements, each against a reference run in the same process:

1. memory: one scan of the shape of a stage-3 SSM layer (default: 256 px, 8 directions x
   D = 128 channels, N = 16, L = 64 x 64), forward + backward. Peak of live tensor storage
   created during the call (tracked op by op, so the figure is the tensors', not the
   allocator's; the inputs are not included), and the storage autograd keeps between
   forward and backward (inputs included). Reference: the
   sequential recurrence (the scan's definition) under plain autograd. Both grow linearly
   with the batch, except the lean backward's recomputed states, which stop growing at the
   state budget: `--lean-batch 16` measures the lean scan alone at the recipe's batch.
2. time: forward + backward of one whole stage-3 SSM layer (`SSMLayer`, C = 64) at a small
   image size (default 64 px: a 16 x 16 grid), ours against the same layer with its scan
   replaced by the sequential recurrence under plain autograd.

    PYTHONPATH=. python benchmarks/mambaad_scan.py --batch 1 --lean-batch 16 --time-batch 16
"""

from __future__ import annotations

import platform
import sys
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import click
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.models.mambaad import ssm
from baselines.models.mambaad.scan import DEFAULT_STATE_BUDGET, selective_scan

GIB = 2**30


def sequential_scan(u, delta, A, B, C, D, delta_bias, **_: Any) -> torch.Tensor:
    """The recurrence one step at a time (mamba-ssm's `selective_scan_ref`), plain autograd.
    The inputs are unbound into steps once (slicing a step out of a full tensor would make
    every step's backward write a full-sized gradient)."""
    per_group = u.shape[1] // B.shape[1]
    B, C = B.repeat_interleave(per_group, 1), C.repeat_interleave(per_group, 1)
    dt = F.softplus(delta + delta_bias[:, None])
    x = u.new_zeros(*u.shape[:2], A.shape[1])
    ys = []
    for dt_t, u_t, b_t, c_t in zip(dt.unbind(-1), u.unbind(-1), B.unbind(-1), C.unbind(-1),
                                   strict=True):
        x = torch.exp(dt_t[..., None] * A) * x + (dt_t * u_t)[..., None] * b_t
        ys.append((x * c_t).sum(-1))
    return torch.stack(ys, dim=-1) + D[:, None] * u


class LiveStorage(TorchDispatchMode):
    """Bytes of tensor storage created under this mode that are still alive, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._seen: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self._track(tensor.untyped_storage())
        return out

    def _track(self, storage: torch.UntypedStorage) -> None:
        key = id(storage)
        if key in self._seen or storage.nbytes() == 0:
            return
        self._seen.add(key)
        self.live += storage.nbytes()
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key, storage.nbytes())

    def _free(self, key: int, nbytes: int) -> None:
        self._seen.discard(key)
        self.live -= nbytes


def saved_bytes(function: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, int]:
    """The output of `function()` and the bytes of the distinct storages autograd saved for
    its backward (inputs included; views of one storage counted once)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = function()
    return out, sum(storages.values())


def scan_inputs(batch: int, directions: int, channels: int, state: int, length: int
                ) -> list[torch.Tensor]:
    hidden = directions * channels
    return [x.requires_grad_() for x in (
        torch.randn(batch, hidden, length), torch.randn(batch, hidden, length),
        -torch.exp(torch.randn(hidden, state)), torch.randn(batch, directions, state, length),
        torch.randn(batch, directions, state, length), torch.randn(hidden),
        torch.randn(hidden))]


def measure_memory(scan: Callable[..., torch.Tensor], inputs: list[torch.Tensor]
                   ) -> dict[str, float]:
    grad = torch.randn(inputs[0].shape)
    started = time.perf_counter()
    with LiveStorage() as tracker:
        y, saved = saved_bytes(lambda: scan(*inputs))
        forward_peak = tracker.peak
        torch.autograd.grad(y, inputs, grad)
    return {"saved": saved, "forward_peak": forward_peak, "peak": tracker.peak,
            "seconds": time.perf_counter() - started}


def time_layer(scan: Callable[..., torch.Tensor], batch: int, image_size: int, repeats: int
               ) -> float:
    """Seconds per forward + backward of a stage-3 SSM layer (C = 64) using `scan`."""
    torch.manual_seed(0)
    grid = image_size // 4
    layer = ssm.SSMLayer(64, grid, drop_path=0.0)
    x = torch.randn(batch, grid, grid, 64, requires_grad=True)
    with mock.patch.object(ssm, "selective_scan", scan):
        layer(x).sum().backward()  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            layer(x).sum().backward()
    return (time.perf_counter() - started) / repeats


def report(name: str, batch: int, result: dict[str, float]) -> None:
    click.echo(f"  {name:<6} batch {batch:>2}: saved {result['saved'] / GIB:7.3f} GiB, "
               f"forward peak {result['forward_peak'] / GIB:7.3f} GiB, forward+backward peak "
               f"{result['peak'] / GIB:7.3f} GiB ({result['seconds']:.1f} s)")


@click.command()
@click.option("--batch", default=1, show_default=True, help="Batch of the memory measurement.")
@click.option("--image-size", default=256, show_default=True,
              help="Image size whose stage-3 scan shape the memory measurement uses.")
@click.option("--lean-batch", default=0, show_default=True,
              help="Also measure the lean scan's memory alone at this batch (0: skip).")
@click.option("--time-batch", default=16, show_default=True)
@click.option("--time-image-size", default=64, show_default=True)
@click.option("--repeats", default=2, show_default=True)
@click.option("--threads", default=1, show_default=True, help="torch CPU threads.")
def main(batch: int, image_size: int, lean_batch: int, time_batch: int, time_image_size: int,
         repeats: int, threads: int) -> None:
    """Peak memory and speed of the lean selective scan against plain autograd."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    length = (image_size // 4) ** 2
    click.echo(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
               f"{torch.get_num_threads()} threads; state budget {DEFAULT_STATE_BUDGET} elements")
    state_bytes = batch * 8 * 128 * 16 * length * 4
    click.echo(f"memory: scan of a stage-3 layer at {image_size} px (8 x 128 channels, N 16, "
               f"L {length}), batch {batch}; one state tensor = {state_bytes / GIB:.3f} GiB")
    results = {}
    for name, scan in (("lean", selective_scan), ("plain", sequential_scan)):
        results[name] = measure_memory(scan, scan_inputs(batch, 8, 128, 16, length))
        report(name, batch, results[name])
    click.echo(f"  plain / lean: saved {results['plain']['saved'] / results['lean']['saved']:.1f}x,"
               f" peak {results['plain']['peak'] / results['lean']['peak']:.1f}x")
    if lean_batch:
        report("lean", lean_batch,
               measure_memory(selective_scan, scan_inputs(lean_batch, 8, 128, 16, length)))
    click.echo(f"time: stage-3 SSM layer (C 64) at {time_image_size} px, batch {time_batch}, "
               f"forward + backward, mean of {repeats}")
    lean = time_layer(selective_scan, time_batch, time_image_size, repeats)
    plain = time_layer(sequential_scan, time_batch, time_image_size, repeats)
    click.echo(f"  lean {lean:.2f} s, plain {plain:.2f} s: plain / lean {plain / lean:.2f}x")


if __name__ == "__main__":
    main()
