"""Evaluating a trained model: its maps, the masks they are scored against, the metrics.

For every test image with relative path REL (`baselines.data.Sample.rel`) the final
evaluation writes
  RUN_DIR/maps/REL.npy  float32 (S, S), the model's final map (never rescaled)
  RUN_DIR/gts/REL.png   uint8 (S, S), 255 where the evaluated mask is anomalous, else 0
and, when the method scores images its own way (`AnomalyModel.image_score` overridden),
RUN_DIR/image_scores.csv. The evaluated mask is the image's mask brought to the map's
size by the scorer's own `--resize masks` rule (`metrics.resize_mask`), so the run and
`adbench score RUN_DIR/maps RUN_DIR/gts [--image-scores RUN_DIR/image_scores.csv]`
score the same pixels; the run then scores those files with that very command's code,
once per definition: metrics.json (exact) and metrics_ader.json (`--compat ader`).
`--eval-every` scores the model in memory (`metrics.DatasetScorer`), writing nothing
but its log line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import metrics
from adbench.rundir_layout import GTS_DIR, IMAGE_SCORES_NAME, MAPS_DIR
from adcommon.atomic import atomic_path, write_atomic
from baselines.base import AnomalyModel
from baselines.data import ImageDataset, Sample, make_loader

#: The definitions a run scores, and the file each result goes to.
RESULT_FILES: dict[str | None, str] = {None: "metrics.json", "ader": "metrics_ader.json"}


def evaluated_mask(sample: Sample, size: int) -> np.ndarray:
    """The (S, S) boolean mask a map of `sample` is scored against: the image's mask read
    as `adbench score` reads masks and resized by its `masks` rule; all False for a normal
    image."""
    if sample.mask is None:
        return np.zeros((size, size), dtype=bool)
    return metrics.resize_mask(metrics.read_mask(sample.mask), (size, size))


@dataclass
class Prediction:
    """One batch of the model's test outputs, on the CPU."""

    samples: list[Sample]
    maps: np.ndarray  # (B, S, S) float32
    image_scores: np.ndarray  # (B,) float64


@torch.no_grad()
def predict(model: AnomalyModel, dataset: ImageDataset, batch_size: int,
            to_input: Callable[[torch.Tensor], torch.Tensor], amp: bool, workers: int,
            pin_memory: bool, progress: bool) -> Iterator[Prediction]:
    """The model's maps and image scores for `dataset`, batch by batch, in eval mode."""
    loader = make_loader(dataset, batch_size, train=False, seed=0, workers=workers,
                         pin_memory=pin_memory)
    model.eval()
    for images, indices in tqdm(loader, desc="inference", leave=False, disable=not progress,
                                unit="batch"):
        x = to_input(images)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            outputs = model(x)
            maps = model.anomaly_map(outputs).float()
            scores = model.image_score(outputs, maps).double()
        yield Prediction([dataset.samples[i] for i in indices.tolist()],
                         maps.cpu().numpy(), scores.cpu().numpy())


def _save_npy(array: np.ndarray, path: Path) -> None:
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.save(handle, array)


def _save_evaluated_mask(sample: Sample, size: int, path: Path) -> None:
    mask = evaluated_mask(sample, size)
    with atomic_path(path) as temp:
        Image.fromarray(mask.astype(np.uint8) * 255).save(temp, format="PNG")


def _image_scores_csv(scores: dict[str, float]) -> bytes:
    """The `--image-scores` file: path (relative to maps/, with .npy) and score."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "score"])
    writer.writerows((f"{rel}.npy", repr(score)) for rel, score in scores.items())
    return buffer.getvalue().encode()


def write_predictions(predictions: Iterator[Prediction], run_dir: Path, size: int,
                      own_image_scores: bool) -> Path | None:
    """Write maps/, gts/ (and image_scores.csv when `own_image_scores`); returns the
    image-score file or None. Files are written by a thread pool, each atomically."""
    maps_dir, gts_dir = run_dir / MAPS_DIR, run_dir / GTS_DIR
    scores: dict[str, float] = {}
    with ThreadPoolExecutor(4) as pool:
        pending: list[Future[Any]] = []
        for batch in predictions:
            for sample, amap, score in zip(batch.samples, batch.maps, batch.image_scores,
                                           strict=True):
                for folder in (maps_dir, gts_dir):
                    (folder / sample.rel).parent.mkdir(parents=True, exist_ok=True)
                pending.append(pool.submit(_save_npy, amap, maps_dir / f"{sample.rel}.npy"))
                pending.append(pool.submit(_save_evaluated_mask, sample, size,
                                           gts_dir / f"{sample.rel}.png"))
                scores[sample.rel] = float(score)
        for job in pending:
            job.result()
    if not own_image_scores:
        return None
    path = run_dir / IMAGE_SCORES_NAME
    write_atomic(path, _image_scores_csv(scores))
    return path


def score_run_folder(run_dir: Path, image_scores: Path | None) -> list[metrics.ScoreResult]:
    """Score RUN_DIR/maps against RUN_DIR/gts exactly as `adbench score` does, for every
    definition of RESULT_FILES from one read of the files, and write each result's file."""
    results = metrics.score_folders_by_definition(run_dir / MAPS_DIR, run_dir / GTS_DIR,
                                                  list(RESULT_FILES), image_scores=image_scores)
    for result, name in zip(results, RESULT_FILES.values(), strict=True):
        metrics.write_json(result, run_dir / name)
    return results


def score_in_memory(predictions: Iterator[Prediction], size: int
                    ) -> list[metrics.ScoreResult]:
    """The metrics of every definition of RESULT_FILES, from the predictions alone (no
    file written): `--eval-every`."""
    scorers = {compat: metrics.DatasetScorer(compat=compat) for compat in RESULT_FILES}
    for batch in predictions:
        masks = [evaluated_mask(sample, size) for sample in batch.samples]
        classes = [sample.cls_name for sample in batch.samples]
        for scorer in scorers.values():
            scorer.update(classes, batch.maps, masks, batch.image_scores)
    return [scorer.compute() for scorer in scorers.values()]
