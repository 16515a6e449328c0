"""The COCO-AD fold rule (InvAD paper, ADer toolbox), applied to parsed annotation sets.

Labels 0..79 follow category-id order. With P = 80 / num_folds, fold K's anomalous
classes are labels K*P .. K*P+P-1. Train: train2017 images with at least one annotation
and none of an anomalous class. Test: every val2017 image with at least one annotation,
anomalous when one of them is of an anomalous class.
"""

from __future__ import annotations

from dataclasses import dataclass

from cocoad.annotations import AnnotationSet, ImageRecord
from cocoad.categories import COCO_CATEGORIES, NUM_CATEGORIES
from cocoad.errors import CocoadError

DEFAULT_NUM_FOLDS = 4
"""COCO-AD's split: 4 folds of 20 anomalous classes (the paper's benchmark)."""


def check_num_folds(num_folds: int) -> int:
    """Check that num_folds divides 80; return P = 80 / num_folds."""
    if num_folds < 1 or NUM_CATEGORIES % num_folds:
        raise CocoadError(f"--num-folds {num_folds} does not divide {NUM_CATEGORIES} "
                          "(use 1, 2, 4, 5, 8, 10, 16, 20, 40 or 80)")
    return NUM_CATEGORIES // num_folds


def check_fold_arguments(fold: int, num_folds: int) -> int:
    """Check that num_folds divides 80 and 0 <= fold < num_folds; return P = 80 / num_folds."""
    per_fold = check_num_folds(num_folds)
    if not 0 <= fold < num_folds:
        raise CocoadError(f"--fold {fold} is out of range: "
                          f"{num_folds} folds are 0..{num_folds - 1}")
    return per_fold


def anomalous_category_ids(fold: int, num_folds: int) -> list[int]:
    """The COCO category ids of fold `fold`'s anomalous classes, in label order."""
    per_fold = check_fold_arguments(fold, num_folds)
    return [cat_id for cat_id, _, _ in COCO_CATEGORIES[fold * per_fold:(fold + 1) * per_fold]]


@dataclass(frozen=True)
class TestImage:
    """A test image and the anomalous category ids it contains (empty when normal)."""

    image: ImageRecord
    anomalous_ids: tuple[int, ...]
    index: int  # position in the val AnnotationSet, to find its segmentations


@dataclass(frozen=True)
class FoldSplit:
    """One fold: its anomalous category ids, the kept train images and all test images."""

    fold: int
    num_folds: int
    anomalous_ids: tuple[int, ...]
    train: list[ImageRecord]
    train_dropped: int
    test: list[TestImage]

    @property
    def per_fold(self) -> int:
        """P = 80 / num_folds, the number of anomalous classes."""
        return NUM_CATEGORIES // self.num_folds

    @property
    def test_anomalous(self) -> list[TestImage]:
        """The anomalous test images, in val-file order."""
        return [t for t in self.test if t.anomalous_ids]


def split_train(train: AnnotationSet, fold: int, num_folds: int) -> list[ImageRecord]:
    """The train images of a fold: annotated train images without an anomalous class."""
    anomalous = frozenset(anomalous_category_ids(fold, num_folds))
    return [image for image, cats in zip(train.images, train.category_ids, strict=True)
            if not cats & anomalous]


def split_test(val: AnnotationSet, fold: int, num_folds: int) -> list[TestImage]:
    """The test images of a fold: every annotated val image, with its anomalous category ids."""
    anomalous = frozenset(anomalous_category_ids(fold, num_folds))
    return [TestImage(image, tuple(sorted(cats & anomalous)), index)
            for index, (image, cats) in enumerate(zip(val.images, val.category_ids, strict=True))]


def split_fold(train: AnnotationSet, val: AnnotationSet, fold: int, num_folds: int) -> FoldSplit:
    """Apply the fold rule to parsed train and val annotation sets."""
    kept = split_train(train, fold, num_folds)
    return FoldSplit(fold=fold, num_folds=num_folds,
                     anomalous_ids=tuple(anomalous_category_ids(fold, num_folds)),
                     train=kept, train_dropped=len(train.images) - len(kept),
                     test=split_test(val, fold, num_folds))
