"""The zoo learns: a short CPU training through the shared trainer localises pasted
defects on synthetic textures, which the same model before training does not.

Self-contained data (generated here, seeded): normal images are crossed sine gratings
(period 8 px, random phases, one colour per channel) with pixel noise 0.1; anomalous ones
get one N(0, 1) noise square of 10-17 px, with its mask. Models run at 64 x 64 with a
random frozen ResNet18 teacher (`weights="none"`), through `make_train_step` with the
method's registered recipe (its optimiser, learning-rate groups, schedule, clipping and
update cadence), the learning rate raised by `lr_factor` so that a few dozen updates
suffice.

rdpp: 80 iterations of batch 8 (40 updates: its recipe updates every second batch),
lr x 3. Measured pixel AUROC (sklearn over every test pixel) 0.41 -> 0.95 with model seed
0; seeds 1 and 2 (standing in for another machine's numerics) gave 0.52 -> 0.88 and
0.44 -> 0.83. Thresholds: > 0.75 after and a gain > 0.25 (chance is 0.5), which a broken
loss, map, noise pass or update cadence does not reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pytest
import torch
from sklearn.metrics import roc_auc_score

from baselines.base import AnomalyModel
from baselines.registry import build_model, get_baseline
from baselines.training import make_train_step

SIZE, BATCH = 64, 8
MIN_AUROC, MIN_GAIN = 0.75, 0.25


@dataclass(frozen=True)
class Schedule:
    iterations: int
    lr_factor: float


ZOO = {"rdpp": Schedule(iterations=80, lr_factor=3.0)}


def gratings(count: int, generator: torch.Generator) -> torch.Tensor:
    """Normal images: product of a horizontal and a vertical sine (period 8 px) with
    random phases, coloured (0.9, 0.5, 0.2), plus N(0, 0.1^2) noise."""
    rows = torch.arange(SIZE).view(1, SIZE, 1)
    cols = torch.arange(SIZE).view(1, 1, SIZE)
    phases = torch.rand(count, 2, 1, 1, generator=generator) * 2 * math.pi
    pattern = (torch.sin(2 * math.pi * rows / 8 + phases[:, 0])
               * torch.sin(2 * math.pi * cols / 8 + phases[:, 1]))
    colour = torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)
    return pattern[:, None] * colour + 0.1 * torch.randn(count, 3, SIZE, SIZE,
                                                         generator=generator)


def with_defects(images: torch.Tensor, generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """One N(0, 1) noise square (side 10-17 px, 4 px from the border) per image, and the
    (N, S, S) masks."""
    images, masks = images.clone(), torch.zeros(len(images), SIZE, SIZE)
    for index in range(len(images)):
        side = int(torch.randint(10, 18, (1,), generator=generator))
        top, left = torch.randint(4, SIZE - side - 4, (2,), generator=generator).tolist()
        images[index, :, top:top + side, left:left + side] = torch.randn(
            3, side, side, generator=generator)
        masks[index, top:top + side, left:left + side] = 1.0
    return images, masks


def pixel_auroc(model: AnomalyModel, images: torch.Tensor, masks: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        maps = model.anomaly_map(model(images))
    model.train()
    assert maps.shape == masks.shape
    return float(roc_auc_score(masks.flatten().numpy(), maps.flatten().numpy()))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_model_localises_pasted_defects_after_short_training(name: str) -> None:
    schedule = ZOO[name]
    data = torch.Generator().manual_seed(0)
    train = gratings(64, data)
    anomalous, masks = with_defects(gratings(16, data), data)
    test_images = torch.cat([gratings(8, data), anomalous])
    test_masks = torch.cat([torch.zeros(8, SIZE, SIZE), masks])

    torch.manual_seed(0)
    model = build_model(name, image_size=SIZE, weights="none", backbone="resnet18")
    before = pixel_auroc(model, test_images, test_masks)
    recipe = get_baseline(name).recipe
    recipe = replace(recipe, lr=recipe.lr * schedule.lr_factor)
    step = make_train_step(model, recipe, BATCH, schedule.iterations, amp=False)
    model.train()
    batches = torch.Generator().manual_seed(1)
    losses = []
    for iteration in range(schedule.iterations):
        batch = train[torch.randint(0, len(train), (BATCH,), generator=batches)]
        loss = step(batch, iteration)
        if loss is not None:
            losses.append(float(loss))

    after = pixel_auroc(model, test_images, test_masks)
    assert losses[-1] < 0.5 * losses[0], losses
    assert after > MIN_AUROC, (before, after)
    assert after - before > MIN_GAIN, (before, after)
