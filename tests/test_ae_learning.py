"""Learning test: a short CPU run of the `ae` baseline on the generated MVTec-style data
finds the synthetic defects.

Threshold: pixel AUROC >= 0.90 for the mean and >= 0.85 for each class (chance is 0.5;
a run measured at 0.95-0.99 on these settings). A map that is misaligned with its mask,
paired with the wrong image, transposed or constant scores near 0.5, so the threshold
catches every such pipeline bug with a wide margin while leaving room for the numeric
noise of different CPUs. The toy defects are chroma-shifted patches: a reconstruction
error ranks them high once the model reproduces the texture's colours, which training
does in a few epochs (the loss must fall by half, the evidence that it learned).
The per-class AUROCs of metrics.json are checked against scikit-learn on the written files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from baselines.run import RunConfig, run_baseline


def test_ae_finds_toy_defects(toy_mvtec_root: Path, tmp_path: Path):
    try:
        from metrics import score_folders  # noqa: F401
    except ImportError as error:
        pytest.skip(f"metrics not merged yet: {error}")
    result = run_baseline(RunConfig(name="ae", data=toy_mvtec_root, epochs=6, batch_size=8,
                                    image_size=64, weights="none", device="cpu", seed=0,
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

    epochs = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in epochs if e["event"] == "epoch"]
    assert len(losses) == 6 and losses[-1] < 0.5 * losses[0]
