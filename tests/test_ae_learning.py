"""Learning test: a short CPU run of the `ae` baseline on the generated MVTec-style data
finds the synthetic defects, which the same model before training does not.

Thresholds: after 32 epochs (64 px, batch 8, 10-15 s) pixel AUROC >= 0.90 for the mean and
>= 0.85 for each class; chance is 0.5. Measured with model seeds 0-11 (standing in for
another machine's numerics): mean 0.971-0.988, classes 0.956-0.992 (seed 0: 0.980, its
classes 0.971 and 0.990), so the smallest margin is 0.07. At 16 epochs the same seeds
gave 0.89-0.98 (seed 0: 0.902), a margin a different CPU could erase; at 24, 0.888 for
seed 7. The untrained model (same seed) must stay <= 0.70 (measured 0.38): the toy
defects have the texture's normalised magnitude, so only a model that learned the texture
finds them; the gap is the learning. A map misaligned with its mask, paired with the
wrong image or transposed scores near 0.5, so the first threshold also catches such
pipeline bugs. The per-class AUROCs of metrics.json are checked against scikit-learn on
the written files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from adbench.pipeline import RunConfig, run_baseline
from adbench.pipeline.evaluation import evaluated_mask
from baselines.data import ImageDataset, load_source, to_model_input
from baselines.registry import build_model
from baselines.training import seed_everything

SEED, SIZE, EPOCHS = 0, 64, 32


def _untrained_pixel_auroc(root: Path) -> float:
    seed_everything(SEED)  # the run builds its model from the same seed
    model = build_model("ae", image_size=SIZE, weights="none").eval()
    samples = load_source(root).test
    dataset = ImageDataset(samples, SIZE)
    maps, masks = [], []
    with torch.no_grad():
        for image, index in dataset:
            x = to_model_input(image[None], torch.device("cpu"), channels_last=False)
            maps.append(model.anomaly_map(model(x))[0].numpy())
            masks.append(evaluated_mask(samples[index], SIZE))
    return roc_auc_score(np.stack(masks).ravel(), np.stack(maps).ravel())


def test_ae_learns_to_find_toy_defects(toy_mvtec_root: Path, tmp_path: Path):
    assert _untrained_pixel_auroc(toy_mvtec_root) <= 0.70

    result = run_baseline(RunConfig(name="ae", data=toy_mvtec_root, epochs=EPOCHS, batch_size=8,
                                    image_size=SIZE, weights="none", device="cpu", seed=SEED,
                                    out=tmp_path / "run", record=False, progress=False))
    metrics = json.loads(result.metrics_path.read_text())
    assert metrics["mean"]["auroc_p"] >= 0.90
    for cls_name in ("tile", "grid"):
        assert metrics["classes"][cls_name]["auroc_p"] >= 0.85
        maps, masks = [], []
        for path in sorted((result.maps_dir / cls_name).rglob("*.npy")):
            rel = path.relative_to(result.maps_dir).with_suffix("")
            maps.append(np.load(path))
            masks.append(np.asarray(Image.open(result.gts_dir / f"{rel}.png")) > 0)
        reference = roc_auc_score(np.stack(masks).ravel(), np.stack(maps).ravel())
        assert metrics["classes"][cls_name]["auroc_p"] == pytest.approx(reference, abs=1e-9)
