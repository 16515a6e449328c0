"""Training throughput of a baseline on synthetic batches, per precision/compile mode.

Runs the trainer's own step (`baselines.training.make_train_step`: forward + loss under
autocast, backward, gradient clipping, Adam, lr schedule; with a recipe's `update_every`
k > 1, the batches in between only refresh, as in training, so s/iter is the mean over
both kinds, like ADer's logged per-iteration times) on one fixed random batch, so
data loading is excluded and the figure is the real loop's compute ceiling. Each mode
gets a fresh model from the same seed; warm-up steps (compilation happens there) are not
timed. One table line per model and mode, with its speed relative to the first line measured in
the same process (fp32-eager by default), and `--json` for the record.

    python benchmarks/train_speed.py --model rd --batch-size 16 --image-size 256 \\
        --weights none --device cuda --json rd_speed.json
    python benchmarks/train_speed.py --model rd,rdpp --image-size 64 --backbone resnet18 \\
        --batch-size 8 --device cpu --modes fp32-eager      # rdpp relative to rd
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import click
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.registry import build_model, get_baseline
from baselines.training import DistContext, make_train_step, prepare_model

MODES = ("fp32-eager", "bf16-eager", "fp32-compile", "bf16-compile", "bf16-compile-nographs")
# "-compile" is what `run-baseline --compile` does (CUDA graphs on one GPU);
# "-compile-nographs" is torch.compile's default mode, to show what the graphs add.


def _peak_memory_mib(device: torch.device) -> float:
    """Peak allocated CUDA memory of this mode, or the process's peak RSS on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(model_name: str, mode: str, batch_size: int, image_size: int, steps: int,
            warmup: int, weights: str, backbone: str | None, device: torch.device,
            seed: int = 0) -> dict[str, Any]:
    """Images/s and seconds/iteration of `steps` timed train steps in `mode`."""
    amp, compile_model = mode.startswith("bf16"), "-compile" in mode
    compile_mode = "default" if mode.endswith("nographs") else None
    torch.manual_seed(seed)
    entry = get_baseline(model_name)
    model = build_model(model_name, image_size=image_size, weights=weights, backbone=backbone)
    channels_last = device.type == "cuda"
    model, forward_module = prepare_model(model, DistContext(0, 1, device), channels_last)
    model.train()
    step = make_train_step(model, entry.recipe, batch_size, warmup + steps, amp, compile_model,
                           forward_module, compile_mode)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    started = time.perf_counter()
    for iteration in range(warmup):
        step(images, iteration)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    warmup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    losses = [step(images, warmup + iteration) for iteration in range(steps)]
    # recipes that update every k-th batch return None for the others (refresh only)
    updates = [loss for loss in losses if loss is not None]
    final_loss = float(updates[-1]) if updates else float("nan")  # synchronises
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    return {"mode": mode, "images_per_second": steps * batch_size / seconds,
            "seconds_per_iteration": seconds / steps, "warmup_seconds": warmup_seconds,
            "peak_memory_mib": _peak_memory_mib(device), "final_loss": final_loss}


@click.command()
@click.option("--model", "model_names", default="rd", show_default=True,
              help="A registered baseline (ae, rd, rdpp, invad, invad-lite, vitad, uniad, "
                   "mambaad, ...), or several separated by commas: all are measured in this "
                   "process, relative to the first.")
@click.option("--batch-size", type=int, default=None, help="Default: each recipe's.")
@click.option("--image-size", type=int, default=256, show_default=True)
@click.option("--steps", type=int, default=20, show_default=True, help="Timed steps per mode.")
@click.option("--warmup", type=int, default=5, show_default=True,
              help="Untimed steps first (compilation, cuDNN autotuning).")
@click.option("--weights", default="none", show_default=True,
              help="Encoder weights: none | default | PATH (speed does not depend on them).")
@click.option("--backbone", default=None, help="Override the registered encoder.")
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default=None,
              help="Default: cuda when available.")
@click.option("--modes", default=None,
              help=f"Comma-separated subset of {','.join(MODES)} "
                   "[default: all on CUDA, the eager ones on the CPU].")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the results as JSON.")
def main(model_names: str, batch_size: int | None, image_size: int, steps: int, warmup: int,
         weights: str, backbone: str | None, device: str | None, modes: str | None,
         json_out: Path | None) -> None:
    """Training images/s of baseline MODEL(s) on synthetic batches, per mode."""
    device_name = device or ("cuda" if torch.cuda.is_available() else "cpu")
    target = torch.device(device_name)
    chosen = modes.split(",") if modes else (
        list(MODES) if target.type == "cuda" else ["fp32-eager", "bf16-eager"])
    unknown = [m for m in chosen if m not in MODES]
    if unknown:
        raise click.UsageError(f"unknown mode(s) {', '.join(unknown)} (known: {', '.join(MODES)})")
    models = model_names.split(",")
    batches = {name: batch_size or get_baseline(name).recipe.batch_size for name in models}
    hardware = torch.cuda.get_device_name(target) if target.type == "cuda" else (
        platform.processor() or platform.machine())
    click.echo(f"{image_size} px, {steps} steps after {warmup} warm-up, {hardware}, "
               f"torch {torch.__version__}")
    click.echo(f"{'model':<12}{'batch':>6}  {'mode':<14}{'images/s':>10}{'s/iter':>10}"
               f"{'vs first':>10}{'peak MiB':>10}{'loss':>12}")
    results: list[dict[str, Any]] = []
    for name in models:
        for mode in chosen:
            label = f"{name:<12}{batches[name]:>6}  {mode:<14}"
            try:
                result = measure(name, mode, batches[name], image_size, steps, warmup, weights,
                                 backbone, target)
            except Exception as error:  # a mode that cannot run here (e.g. no compiler)
                click.echo(f"{label}failed: {type(error).__name__}: "
                           f"{str(error).splitlines()[0]}")
                results.append({"model": name, "mode": mode,
                                "error": f"{type(error).__name__}: {error}"})
                continue
            result = {"model": name, "batch_size": batches[name], **result}
            first = next(r for r in [*results, result] if "error" not in r)
            result["relative_to_first"] = (result["images_per_second"]
                                           / first["images_per_second"])
            results.append(result)
            click.echo(f"{label}{result['images_per_second']:>10.1f}"
                       f"{result['seconds_per_iteration']:>10.4f}"
                       f"{result['relative_to_first']:>9.2f}x"
                       f"{result['peak_memory_mib']:>10.0f}{result['final_loss']:>12.4g}")
    if json_out is not None:
        record = {"model": model_names, "batch_size": batch_size, "image_size": image_size,
                  "steps": steps, "warmup": warmup, "weights": weights, "backbone": backbone,
                  "device": hardware, "torch": torch.__version__, "results": results}
        json_out.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
