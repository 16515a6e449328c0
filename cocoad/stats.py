"""`cocoad stats`: each fold's anomalous classes and image counts, computed without writing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from cocoad.annotations import load_annotations
from cocoad.categories import CATEGORY_NAMES, COCO_CATEGORIES
from cocoad.folds import DEFAULT_NUM_FOLDS, check_fold_arguments, split_fold
from cocoad.layout import CocoLayout


@dataclass(frozen=True)
class FoldStats:
    """The class split and the image counts of one fold."""

    fold: int
    num_folds: int
    first_label: int
    anomalous_names: list[str]
    train: int
    train_dropped: int
    train_unannotated: int
    test_normal: int
    test_anomalous: int
    test_unannotated: int


def fold_statistics(coco_root: Path, folds: Sequence[int], num_folds: int = DEFAULT_NUM_FOLDS,
                    progress: bool = False) -> list[FoldStats]:
    """Parse both annotation files once and count every requested fold's images.

    With `progress`, a bar over the two files (parsing the train file takes ~10 s at
    COCO's size)."""
    for fold in folds:
        check_fold_arguments(fold, num_folds)
    layout = CocoLayout(coco_root)
    with tqdm(total=2, desc="parsing annotations", unit="file", disable=not progress) as bar:
        val = load_annotations(layout.val_annotations, keep_segmentations=False)
        bar.update()
        train = load_annotations(layout.train_annotations, keep_segmentations=False)
        bar.update()
    stats = []
    for fold in folds:
        split = split_fold(train, val, fold, num_folds)
        anomalous = len(split.test_anomalous)
        labels = [label for label, (cat_id, _, _) in enumerate(COCO_CATEGORIES)
                  if cat_id in split.anomalous_ids]
        stats.append(FoldStats(
            fold=fold, num_folds=num_folds, first_label=labels[0],
            anomalous_names=[CATEGORY_NAMES[cat_id] for cat_id in split.anomalous_ids],
            train=len(split.train), train_dropped=split.train_dropped,
            train_unannotated=train.num_images - len(train.images),
            test_normal=len(split.test) - anomalous, test_anomalous=anomalous,
            test_unannotated=val.num_images - len(val.images)))
    return stats


def format_stats(stats: FoldStats) -> str:
    """A few lines describing one fold, for the terminal."""
    last_label = stats.first_label + len(stats.anomalous_names) - 1
    return "\n".join([
        f"fold {stats.fold} of {stats.num_folds}: anomalous labels "
        f"{stats.first_label}-{last_label}: {', '.join(stats.anomalous_names)}",
        f"  train: {stats.train} images ({stats.train_dropped} anomalous dropped, "
        f"{stats.train_unannotated} without annotations left out)",
        f"  test:  {stats.test_normal + stats.test_anomalous} images: "
        f"{stats.test_anomalous} anomalous, {stats.test_normal} normal "
        f"({stats.test_unannotated} without annotations left out)",
    ])
