"""Shared by the learning tests (test_invad_learning.py, test_zoo_learning.py): pasted
defects on synthetic normal images, and the pixel AUROC of a model's anomaly maps.
"""

from __future__ import annotations

import torch
from sklearn.metrics import roc_auc_score

from baselines.base import AnomalyModel


def paste_defects(images: torch.Tensor, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One N(0, 1) noise square (side 10-17 px, 4 px from the border) per square image, and
    the (N, S, S) masks."""
    size = images.shape[-1]
    images, masks = images.clone(), torch.zeros(len(images), size, size)
    for index in range(len(images)):
        side = int(torch.randint(10, 18, (1,), generator=generator))
        top, left = torch.randint(4, size - side - 4, (2,), generator=generator).tolist()
        images[index, :, top:top + side, left:left + side] = torch.randn(
            3, side, side, generator=generator)
        masks[index, top:top + side, left:left + side] = 1.0
    return images, masks


def pixel_auroc(model: AnomalyModel, images: torch.Tensor, masks: torch.Tensor) -> float:
    """sklearn's ROC AUC over every pixel of the model's maps (eval mode, no grad), the
    model left in train mode."""
    model.eval()
    with torch.no_grad():
        maps = model.anomaly_map(model(images))
    model.train()
    assert maps.shape == masks.shape
    return float(roc_auc_score(masks.flatten().numpy(), maps.flatten().numpy()))
