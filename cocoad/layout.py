"""Where things live: the COCO 2017 download's layout and the names of a fold's outputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from adcommon.paths import default_coco_root
from cocoad.categories import NUM_CATEGORIES
from cocoad.meta import meta_file_name, parse_meta_name


@dataclass(frozen=True)
class CocoLayout:
    """The COCO 2017 download: annotations/instances_{train,val}2017.json and image folders."""

    root: Path

    @property
    def train_annotations(self) -> Path:
        """annotations/instances_train2017.json"""
        return self.root / "annotations" / "instances_train2017.json"

    @property
    def val_annotations(self) -> Path:
        """annotations/instances_val2017.json"""
        return self.root / "annotations" / "instances_val2017.json"

    @property
    def train_images(self) -> Path:
        """train2017/"""
        return self.root / "train2017"

    @property
    def val_images(self) -> Path:
        """val2017/"""
        return self.root / "val2017"


@dataclass(frozen=True)
class FoldOutputs:
    """The files one fold writes into the output folder, named after P and K like ADer's."""

    out: Path
    per_fold: int
    fold: int

    @property
    def suffix(self) -> str:
        """`P_K`, e.g. 20_0 for fold 0 of 4."""
        return f"{self.per_fold}_{self.fold}"

    @property
    def meta(self) -> Path:
        """meta_P_K.json: the ADer meta file."""
        return self.out / meta_file_name(self.per_fold, self.fold)

    @property
    def manifest(self) -> Path:
        """manifest_P_K.json: counts, checksums, parameters."""
        return self.out / f"manifest_{self.suffix}.json"

    @property
    def mask_dir_name(self) -> str:
        """val2017_mask_ad_P_K: the folder of the anomalous test images' masks."""
        return f"val2017_mask_ad_{self.suffix}"

    @property
    def mask_dir(self) -> Path:
        """The mask folder's full path."""
        return self.out / self.mask_dir_name


def mask_file_name(file_name: str) -> str:
    """The mask file name of a test image: its file name's stem + .png."""
    return Path(file_name).stem + ".png"


def default_fold_meta(fold: int, num_folds: int) -> Path:
    """meta_P_K.json of COCO-AD fold `fold` of `num_folds` in the default COCO root
    ($COCO_ROOT, else data/coco)."""
    return FoldOutputs(default_coco_root(), NUM_CATEGORIES // num_folds, fold).meta


def manifest_beside(meta: Path) -> Path | None:
    """Where the manifest of a fold's `meta_P_K.json` is: `manifest_P_K.json` beside it
    (which may not exist); None when the meta file's name is not a fold's."""
    named = parse_meta_name(meta)
    if named is None:
        return None
    return FoldOutputs(meta.parent, named.per_fold, named.fold).manifest


def relative_posix(path: Path, start: Path) -> str:
    """`path` relative to `start` with forward slashes (the meta file's path style)."""
    return Path(os.path.relpath(path.absolute(), start.absolute())).as_posix()
