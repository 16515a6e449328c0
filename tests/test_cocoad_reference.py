"""`cocoad.reference`: only the real COCO-AD fold sizes are labelled `coco-ad`."""

from __future__ import annotations

import pytest

from cocoad.reference import dataset_label, is_reference_fold

# COCOAD.md "Reference sizes" (ADer's training logs of the paper's runs): 4 folds.
TRAIN_IMAGES = {0: 30438, 1: 65133, 2: 79083, 3: 77580}
TEST_IMAGES = 4952


@pytest.mark.parametrize("fold", [0, 1, 2, 3])
def test_the_published_sizes_are_coco_ad(fold: int) -> None:
    assert is_reference_fold(fold, 4, TRAIN_IMAGES[fold], TEST_IMAGES)
    assert dataset_label(fold, 4, TRAIN_IMAGES[fold], TEST_IMAGES) == "coco-ad"


@pytest.mark.parametrize(
    ("fold", "num_folds", "train", "test"),
    [
        (0, 4, 30438 - 1, 4952),  # one training image short (a subset, a failed download)
        (0, 4, 30438, 4952 + 1),
        (1, 4, 30438, 4952),  # fold 0's count under fold 1
        (0, 8, 30438, 4952),  # another split
        (4, 4, 30438, 4952),  # no such fold
        (-1, 4, 77580, 4952),
        (0, 4, 60, 40),  # a toy COCO-format set
    ],
)
def test_other_sizes_are_coco_format(fold: int, num_folds: int, train: int, test: int) -> None:
    assert not is_reference_fold(fold, num_folds, train, test)
    assert dataset_label(fold, num_folds, train, test) == "coco-format"
