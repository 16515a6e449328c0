"""Inference: the test anomaly maps and the masks they are evaluated against, on disk.

For every test image with relative path REL (see `baselines.data.Sample.rel`) it writes
  RUN_DIR/maps/REL.npy  float32 (S, S), the model's final map (never rescaled)
  RUN_DIR/gts/REL.png   uint8 (S, S), 255 where the resized mask is > 0.5, else 0
so `adbench score RUN_DIR/maps RUN_DIR/gts` scores exactly what the run scored. Every
image gets a mask file (all zeros for normal ones) so the evaluated labels are explicit.
A model that scores images its own way (`AnomalyModel.image_score` overridden) also gets
  RUN_DIR/image_scores.csv  columns path,score (REL.npy, the float32 score)
the `--image-scores` file of `adbench score`. Files are written by a thread pool, each
under a temporary name then renamed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from adcommon.atomic import atomic_path, write_atomic
from baselines.base import AnomalyModel, defines_image_score
from baselines.data import ImageDataset, make_loader


def _save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.save(handle, array)


def _save_png(mask: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temp:
        Image.fromarray(mask.astype(np.uint8) * 255).save(temp, format="PNG")


class InferenceOutputs(NamedTuple):
    """Where `write_maps` wrote: maps/, gts/, and image_scores.csv (None when the model
    scores images by the map's maximum)."""

    maps_dir: Path
    gts_dir: Path
    image_scores: Path | None


def _write_scores(scores: dict[str, float], path: Path) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["path", "score"])
    writer.writerows([f"{rel}.npy", repr(score)] for rel, score in sorted(scores.items()))
    write_atomic(path, text.getvalue().encode())


@torch.no_grad()
def write_maps(model: AnomalyModel, dataset: ImageDataset, run_dir: Path, batch_size: int,
               to_input: Callable[[torch.Tensor], torch.Tensor], amp: bool, workers: int,
               pin_memory: bool, progress: bool = True) -> InferenceOutputs:
    """Run the model in eval mode over `dataset`; write maps/, gts/ and, if the model has
    its own image score, image_scores.csv."""
    maps_dir, gts_dir = run_dir / "maps", run_dir / "gts"
    own_scores = defines_image_score(model)
    scores: dict[str, float] = {}
    loader = make_loader(dataset, batch_size, train=False, seed=0, workers=workers,
                         pin_memory=pin_memory)
    model.eval()
    with ThreadPoolExecutor(4) as pool:
        pending = []
        for images, masks, indices in tqdm(loader, desc="inference", leave=False,
                                           disable=not progress, unit="batch"):
            x = to_input(images)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
                outputs = model(x)
                maps = model.anomaly_map(outputs)
                if own_scores:
                    batch_scores = model.image_score(outputs, maps).float().tolist()
            arrays = maps.float().cpu().numpy()
            for row, (array, mask, index) in enumerate(
                    zip(arrays, masks.numpy(), indices.tolist(), strict=True)):
                rel = dataset.samples[index].rel
                if own_scores:
                    scores[rel] = batch_scores[row]
                for folder in (maps_dir, gts_dir):
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                pending.append(pool.submit(_save_npy, array, maps_dir / f"{rel}.npy"))
                pending.append(pool.submit(_save_png, mask, gts_dir / f"{rel}.png"))
        for job in pending:
            job.result()
    scores_path = run_dir / "image_scores.csv" if own_scores else None
    if scores_path is not None:
        _write_scores(scores, scores_path)
    return InferenceOutputs(maps_dir, gts_dir, scores_path)
