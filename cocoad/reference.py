"""Whether a fold has the real COCO-AD sizes: tells COCO-AD from other COCO-format data.

Built from the full COCO 2017 download with the default four folds, COCO-AD's folds
have fixed image counts (ADer's training logs of the paper's runs print them; see
docs/cocoad.md, "Telling real COCO-AD from other data"). A fold built from a subset, a
toy set or another COCO-format dataset with the same rule has other counts, and its
numbers must not be ranked beside the paper's. The run pipeline labels its leaderboard
rows with `dataset_label`: `coco-ad` only for the real sizes. No torch, no files read.
"""

from __future__ import annotations

REFERENCE_NUM_FOLDS = 4
REFERENCE_TRAIN_IMAGES: tuple[int, ...] = (30438, 65133, 79083, 77580)
"""Train images of folds 0..3 of the real COCO-AD (4 folds)."""
REFERENCE_TEST_IMAGES = 4952
"""Test images of every fold of the real COCO-AD (all of val2017 with an annotation)."""

COCO_AD_LABEL = "coco-ad"
OTHER_LABEL = "coco-format"


def is_reference_fold(fold: int, num_folds: int, train_images: int, test_images: int) -> bool:
    """True when (fold, num_folds, train/test image counts) are those of real COCO-AD."""
    return (
        num_folds == REFERENCE_NUM_FOLDS
        and 0 <= fold < REFERENCE_NUM_FOLDS
        and train_images == REFERENCE_TRAIN_IMAGES[fold]
        and test_images == REFERENCE_TEST_IMAGES
    )


def dataset_label(fold: int, num_folds: int, train_images: int, test_images: int) -> str:
    """The leaderboard `dataset` of a run on this fold: `coco-ad` for the real sizes,
    else `coco-format` (COCO-format data split by the same rule, not COCO-AD)."""
    if is_reference_fold(fold, num_folds, train_images, test_images):
        return COCO_AD_LABEL
    return OTHER_LABEL
