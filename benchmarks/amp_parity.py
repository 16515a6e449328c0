"""Does bf16 autocast reach the fp32 metrics? The same short runs in both precisions.

Trains a baseline on the generated MVTec-style data (`adbench.toydata.mvtec`) with
`--no-amp` and `--amp` for several seeds, through the real `run_baseline` path
(data, trainer, inference, metrics), and prints each run's main metrics plus the
per-metric gap between precisions beside the spread between seeds (the noise).
bf16 is acceptable where |mean bf16 - mean fp32| is within that spread.

    python benchmarks/amp_parity.py --model invad --device cuda --epochs 15 --seeds 0,1
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adbench.pipeline import RunConfig, run_baseline
from adbench.toydata.mvtec import write_toy_mvtec

KEYS = ("auroc_i", "auroc_p", "ap_p", "aupro_p", "mad")


@click.command()
@click.option("--model", "model_name", default="invad", show_default=True)
@click.option("--device", type=click.Choice(["cuda", "cpu"]), default="cuda", show_default=True)
@click.option("--epochs", type=int, default=15, show_default=True)
@click.option("--image-size", type=int, default=256, show_default=True)
@click.option("--batch-size", type=int, default=None, help="Default: the recipe's.")
@click.option("--backbone", default=None, help="Override the registered encoder.")
@click.option("--seeds", default="0,1", show_default=True, help="Comma-separated run seeds.")
@click.option("--n-train", type=int, default=64, show_default=True,
              help="Normal training images per toy class.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
def main(model_name: str, device: str, epochs: int, image_size: int, batch_size: int | None,
         backbone: str | None, seeds: str, n_train: int, json_out: Path | None) -> None:
    """Metrics of MODEL trained in fp32 and in bf16 autocast on the same toy data."""
    results: dict[str, list[dict[str, float]]] = {"fp32": [], "bf16": []}
    with tempfile.TemporaryDirectory() as scratch:
        data = write_toy_mvtec(Path(scratch) / "data", seed=0, size=image_size, n_train=n_train,
                               n_test_good=8, n_test_defect=8)
        for seed in (int(s) for s in seeds.split(",")):
            for precision, amp in (("fp32", False), ("bf16", True)):
                result = run_baseline(RunConfig(
                    name=model_name, data=data, epochs=epochs, image_size=image_size,
                    batch_size=batch_size, device=device, amp=amp, weights="none",
                    backbone=backbone, out=Path(scratch) / f"{precision}-{seed}",
                    record=False, seed=seed, progress=False, workers=4))
                assert result is not None
                row = {k: result.metrics["mean"][k] for k in KEYS}
                results[precision].append(row)
                click.echo(f"{precision} seed {seed}: " + "  ".join(
                    f"{k} {100 * v:.1f}" for k, v in row.items()) +
                    f"  ({result.images_per_second:.0f} img/s)")
    click.echo(f"{'metric':<10}{'fp32 mean':>10}{'bf16 mean':>10}{'gap':>8}{'seed spread':>13}")
    for key in KEYS:
        fp32 = [r[key] for r in results["fp32"]]
        bf16 = [r[key] for r in results["bf16"]]
        spread = max(max(fp32) - min(fp32), max(bf16) - min(bf16))
        gap = statistics.mean(bf16) - statistics.mean(fp32)
        means = f"{100 * statistics.mean(fp32):>10.2f}{100 * statistics.mean(bf16):>10.2f}"
        click.echo(f"{key:<10}{means}{100 * gap:>8.2f}{100 * spread:>13.2f}")
    if json_out is not None:
        json_out.write_text(json.dumps({"model": model_name, "epochs": epochs,
                                        "image_size": image_size, "results": results},
                                       indent=2) + "\n")


if __name__ == "__main__":
    main()
