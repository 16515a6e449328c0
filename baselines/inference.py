"""Inference: the test anomaly maps and the masks they are evaluated against, on disk.

For every test image with relative path REL (see `baselines.data.Sample.rel`) it writes
  RUN_DIR/maps/REL.npy  float32 (S, S), the model's final map (never rescaled)
  RUN_DIR/gts/REL.png   uint8 (S, S), 255 where the resized mask is > 0.5, else 0
so `adbench score RUN_DIR/maps RUN_DIR/gts` scores exactly what the run scored. Every
image gets a mask file (all zeros for normal ones) so the evaluated labels are explicit.
Files are written by a thread pool, each under a temporary name then renamed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from adcommon.atomic import atomic_path
from baselines.base import AnomalyModel
from baselines.data import ImageDataset, make_loader


def _save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.save(handle, array)


def _save_png(mask: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temp:
        Image.fromarray(mask.astype(np.uint8) * 255).save(temp, format="PNG")


@torch.no_grad()
def write_maps(model: AnomalyModel, dataset: ImageDataset, run_dir: Path, batch_size: int,
               to_input: Callable[[torch.Tensor], torch.Tensor], amp: bool, workers: int,
               pin_memory: bool, progress: bool = True) -> tuple[Path, Path]:
    """Run the model in eval mode over `dataset`; write maps/ and gts/; return both folders."""
    maps_dir, gts_dir = run_dir / "maps", run_dir / "gts"
    loader = make_loader(dataset, batch_size, train=False, seed=0, workers=workers,
                         pin_memory=pin_memory)
    model.eval()
    with ThreadPoolExecutor(4) as pool:
        pending = []
        for images, masks, indices in tqdm(loader, desc="inference", leave=False,
                                           disable=not progress, unit="batch"):
            x = to_input(images)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
                maps = model.anomaly_map(model(x))
            maps = maps.float().cpu().numpy()
            for array, mask, index in zip(maps, masks.numpy(), indices.tolist(), strict=True):
                rel = dataset.samples[index].rel
                for folder in (maps_dir, gts_dir):
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                pending.append(pool.submit(_save_npy, array, maps_dir / f"{rel}.npy"))
                pending.append(pool.submit(_save_png, mask, gts_dir / f"{rel}.png"))
        for job in pending:
            job.result()
    return maps_dir, gts_dir
