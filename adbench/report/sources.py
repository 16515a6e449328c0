"""What a report is made of: the classes, each image's map, mask, photo and COCO categories.

Two entry points, one result (`ReportInputs`):
- `inputs_from_run(run_dir)`: a run folder (`config.json`, `maps/`, `gts/`, maybe
  `image_scores.csv`); its `data` (a meta file or an MVTec-style root) gives the photos.
- `inputs_from_folders(preds, gts, meta)`: the `adbench score` arguments.

Maps and masks are paired by `metrics.folders` (the scorer's own rules), so a report
shows exactly what `adbench score` scores. Photos: the meta file's `img_path`, else
`IMAGES/<map path>.<ext>` or `IMAGES/<map stem>.<ext>`. For a COCO-AD fold, the
manifest beside the meta file (`manifest_P_K.json`) gives each anomalous test image's
category ids. See docs/report.md.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adbench.rundir_layout import CONFIG_NAME, GTS_DIR, IMAGE_SCORES_NAME, MAPS_DIR
from adcommon.errors import InputError
from cocoad.layout import default_fold_meta, manifest_beside
from cocoad.manifest import read_manifest
from cocoad.meta import MetaEntry, MetaError, map_candidates, read_meta
from metrics.folder_scoring import read_image_scores
from metrics.folders import ClassItems, pairs_from_folders, pairs_from_meta

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".JPG", ".PNG", ".JPEG")


class ReportInputError(InputError):
    """A report cannot be made from what was given; one line naming the file and why."""


@dataclass(frozen=True)
class ReportImage:
    """One test image: its map, its mask (None: normal), its photo (None: unknown) and, in
    a COCO-AD fold, its anomalous COCO category ids (empty for a normal image)."""

    key: str  # the map's path relative to PREDS, without extension
    map_path: Path
    mask_path: Path | None
    image_path: Path | None
    category_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReportClass:
    """One class's images in scoring order and, if the run gave them, its image scores."""

    name: str
    images: list[ReportImage]
    image_scores: np.ndarray | None


@dataclass(frozen=True)
class FoldCategories:
    """The anomalous COCO categories of a COCO-AD fold (id -> name, manifest order)."""

    names: dict[int, str]
    manifest: Path


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report reads: a title, provenance lines, the classes, the fold's
    categories (None unless a COCO-AD manifest was found) and notes for the reader."""

    title: str
    provenance: list[tuple[str, str]]
    classes: list[ReportClass]
    categories: FoldCategories | None
    notes: list[str]


class PhotoFinder:
    """Where the photo of a map is: a meta entry's img_path, else a file under a folder."""

    def __init__(self, folder: Path | None, meta_entries: dict[str, MetaEntry] | None = None,
                 meta_dir: Path | None = None) -> None:
        self.folder = folder
        self.meta_entries = meta_entries or {}
        self.meta_dir = meta_dir

    def find(self, key: str) -> Path | None:
        """The photo for the map `key`, or None when there is none to be found."""
        entry = self.meta_entries.get(key)
        if self.folder is None:
            if entry is None or self.meta_dir is None:
                return None
            path = Path(os.path.normpath(self.meta_dir / entry.img_path))
            return path if path.is_file() else None
        stems = [key, posixpath.basename(key)]
        if entry is not None:
            stems.append(Path(entry.img_path).stem)
        tries = (self.folder / f"{stem}{suffix}" for stem in stems for suffix in IMAGE_SUFFIXES)
        return next((path for path in tries if path.is_file()), None)


def _meta_entries_by_key(meta: Path) -> dict[str, MetaEntry]:
    """Every test entry under each map key `adbench score --meta` may find it by."""
    try:
        entries = read_meta(meta, splits=("test",))["test"]
    except MetaError as error:
        raise ReportInputError(str(error)) from None
    by_key: dict[str, MetaEntry] = {}
    for entry in entries:
        for key in map_candidates(entry):
            by_key.setdefault(key, entry)
    return by_key


def fold_categories(path: Path | None
                    ) -> tuple[FoldCategories | None, dict[str, tuple[int, ...]]]:
    """A COCO-AD manifest (`cocoad.layout.manifest_beside` a `meta_P_K.json`): the fold's
    anomalous categories and each anomalous test image's category ids by img_path.
    (None, {}) when the meta file is not a fold's (None) or has no manifest beside it."""
    if path is None or not path.is_file():
        return None, {}
    manifest = read_manifest(path)
    try:
        names = {int(c["id"]): str(c["name"]) for c in manifest["anomalous_categories"]}
        by_image = {str(e["img_path"]): tuple(int(i) for i in e["category_ids"])
                    for e in manifest["anomalous_test_images"]}
    except (KeyError, TypeError, ValueError) as error:
        raise ReportInputError(f"{path}: manifest without category ids ({error!r})") from None
    return FoldCategories(names, path), by_image


def _classes(groups: list[ClassItems], photos: PhotoFinder,
             categories_of: dict[str, tuple[int, ...]],
             image_scores: dict[str, float] | None, scores_source: str) -> list[ReportClass]:
    classes = []
    for items in sorted(groups, key=lambda g: g.name):
        images = []
        for map_path, mask_path, key in zip(items.maps, items.masks, items.keys, strict=True):
            entry = photos.meta_entries.get(key)
            ids = categories_of.get(entry.img_path, ()) if entry is not None else ()
            images.append(ReportImage(key, map_path, mask_path, photos.find(key), ids))
        scores = None
        if image_scores is not None:
            missing = [key for key in items.keys if key not in image_scores]
            if missing:
                raise ReportInputError(f"{scores_source}: no score for {missing[0]} "
                                       f"({len(missing)} maps of class {items.name} missing)")
            scores = np.array([image_scores[key] for key in items.keys], dtype=np.float64)
        classes.append(ReportClass(items.name, images, scores))
    return classes


def _gather(preds: Path, gts: Path, meta: Path | None, images: Path | None,
            image_scores: Path | None) -> tuple[list[ReportClass], FoldCategories | None,
                                                list[str]]:
    notes = []
    if images is not None and not images.is_dir():
        raise ReportInputError(f"{images}: image folder not found")
    if meta is not None:
        if not meta.is_file():
            raise ReportInputError(f"{meta}: meta file not found")
        groups = pairs_from_meta(preds, gts, meta)
        entries = _meta_entries_by_key(meta)
        photos = PhotoFinder(images, entries, meta.parent)
        manifest = manifest_beside(meta)
        categories, categories_of = fold_categories(manifest)
        if categories is None and manifest is not None:
            notes.append(f"No manifest beside {meta.name}: no per-category breakdown.")
    else:
        groups = pairs_from_folders(preds, gts)
        photos = PhotoFinder(images)
        categories, categories_of = None, {}
    scores = None if image_scores is None else read_image_scores(image_scores)
    classes = _classes(groups, photos, categories_of, scores, str(image_scores))
    shown = sum(image.image_path is not None for c in classes for image in c.images)
    total = sum(len(c.images) for c in classes)
    if shown < total:
        where = "give --images DIR" if images is None else f"looked in {images}"
        notes.append(f"{total - shown} of {total} photos not found ({where}): those examples "
                     "show the map and mask only.")
    return classes, categories, notes


def inputs_from_folders(preds: Path, gts: Path, meta: Path | None = None,
                        images: Path | None = None) -> ReportInputs:
    """The report's inputs for `adbench report PREDS GTS [--meta META] [--images DIR]`."""
    classes, categories, notes = _gather(preds, gts, meta, images, None)
    provenance = [("maps", str(preds)), ("masks", str(gts))]
    if meta is not None:
        provenance.append(("meta", str(meta)))
    title = Path(preds).resolve().name
    if meta is not None:
        title += f" on {meta.stem}"
    return ReportInputs(title, provenance, classes, categories, notes)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """RUN_DIR/config.json as a dict; a one-line error if RUN_DIR is not a run folder."""
    path = run_dir / CONFIG_NAME
    if not run_dir.is_dir():
        raise ReportInputError(f"{run_dir}: run folder not found")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportInputError(f"{run_dir}: no {CONFIG_NAME} (not a run folder; for maps "
                               "and masks pass PREDS GTS)") from None
    except (OSError, ValueError) as error:
        raise ReportInputError(f"{path}: not a readable run configuration ({error})") from None
    if not isinstance(config, dict):
        raise ReportInputError(f"{path}: not a run configuration (not a JSON object)")
    return config


def run_data(config: dict[str, Any]) -> Path | None:
    """The run's data (meta file or MVTec root) as config.json names it; a run with no
    `data` trained on COCO-AD fold `fold` of `num_folds` in the default COCO root."""
    if config.get("data"):
        return Path(str(config["data"]))
    fold, num_folds = config.get("fold"), config.get("num_folds")
    if isinstance(fold, int) and isinstance(num_folds, int) and num_folds > 0:
        return default_fold_meta(fold, num_folds)
    return None


def inputs_from_run(run_dir: Path, meta: Path | None = None,
                    images: Path | None = None) -> ReportInputs:
    """The report's inputs for `adbench report RUN_DIR`: maps/ against gts/, the run's
    image scores if it wrote them, photos and categories from its data (or --meta /
    --images, which take precedence)."""
    config = read_run_config(run_dir)
    notes = []
    data = run_data(config)
    if meta is None and images is None and data is not None:
        if data.is_file() and data.suffix == ".json":
            meta = data
        elif data.is_dir():
            images = data
        else:
            notes.append(f"The run's data {data} is not here: no photos or categories "
                         "(pass --meta or --images).")
    scores = run_dir / IMAGE_SCORES_NAME
    classes, categories, more = _gather(run_dir / MAPS_DIR, run_dir / GTS_DIR, meta,
                                        images, scores if scores.is_file() else None)
    provenance = [("run", str(run_dir))]
    for key in ("name", "dataset", "fold", "epochs", "image_size", "backbone", "weights"):
        if config.get(key) not in (None, ""):
            provenance.append((key.replace("_", " "), str(config[key])))
    if data is not None:
        provenance.append(("data", str(data)))
    if scores.is_file():
        provenance.append(("image scores", IMAGE_SCORES_NAME))
    title = run_dir.resolve().name
    return ReportInputs(title, provenance, classes, categories, notes + more)
