"""Build COCO-AD folds: meta_P_K.json, val2017_mask_ad_P_K/*.png and manifest_P_K.json.

Order of work, chosen so that nothing is written unless everything is valid and so that
the masks are rasterised while the big train file is parsed:

1. check the arguments and that the output folder can be written;
2. read and hash both annotation files; stop if every fold's manifest says "up to date";
3. parse and check the val file; hand the train file's parse and the anomalous test
   masks to worker processes (`cocoad.workers`) and wait for them (an empty mask is an
   error); split each fold;
4. optionally check that every image file exists;
5. write each fold as a whole: stage its masks, meta file and manifest, then rename them
   into place (`cocoad.output`).

What a failed or interrupted build leaves behind: docs/cocoad.md, "When a command fails".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cocoad.annotations import AnnotationSet, RawFile, parse_annotations
from cocoad.errors import CocoadError
from cocoad.folds import (
    DEFAULT_NUM_FOLDS,
    FoldSplit,
    check_fold_arguments,
    check_num_folds,
    split_fold,
    split_test,
)
from cocoad.layout import CocoLayout, FoldOutputs, mask_file_name, relative_posix
from cocoad.manifest import (
    is_up_to_date,
    make_manifest,
    manifest_bytes,
    manifest_inputs,
    read_manifest,
)
from cocoad.masks import MaskError, MaskJob, MaskResult, render_masks, require_opencv
from cocoad.meta import MetaEntry, MetaError, dump_meta, read_meta
from cocoad.output import write_fold_outputs
from cocoad.rasterisers import DEFAULT_RASTERISER, RASTERISERS
from cocoad.workers import Task, Workers

MaskResults = dict[tuple[int, str], tuple[bytes, str]]
CHUNK = 64  # masks per progress step when rendering in this process
MAX_NAME_BYTES = 255  # a file name's limit on common file systems

COCO_GROUP = "coco"
"""COCO-AD's one class: the meta files' group and every entry's `cls_name`."""


@dataclass(frozen=True)
class BuildResult:
    """What a build produced (or found up to date) for one fold."""

    fold: int
    num_folds: int
    meta_path: Path
    manifest_path: Path
    mask_dir: Path
    counts: dict[str, int]
    up_to_date: bool


def build_fold(coco_root: Path, out: Path | None = None, fold: int = 0,
               num_folds: int = DEFAULT_NUM_FOLDS, workers: int | None = None,
               force: bool = False, check_images: bool = False,
               progress: bool = False, masks: str = DEFAULT_RASTERISER) -> BuildResult:
    """Build one fold (see `build_folds`)."""
    return build_folds(coco_root, out, [fold], num_folds, workers, force, check_images,
                       progress, masks)[0]


def build_folds(coco_root: Path, out: Path | None, folds: Sequence[int],
                num_folds: int = DEFAULT_NUM_FOLDS, workers: int | None = None,
                force: bool = False, check_images: bool = False,
                progress: bool = False, masks: str = DEFAULT_RASTERISER) -> list[BuildResult]:
    """Build the given folds of the COCO-AD benchmark from `coco_root`'s annotation files.

    `out` defaults to `coco_root`; `workers` (default: CPU count) processes rasterise the
    masks while one more parses the train file, 1 means everything in this process
    (outside Linux they are spawned: a script calling this needs the usual
    `if __name__ == "__main__":` guard). `masks` names the rasteriser
    (`cocoad.masks`). Folds whose manifest records the same inputs and whose outputs are
    present are left alone unless `force`. Raises CocoadError on bad input, before
    anything is written, and on a failed write, leaving the fold as it was.
    """
    per_fold = check_num_folds(num_folds)
    if not folds:
        raise CocoadError("no fold to build")
    for fold in folds:
        check_fold_arguments(fold, num_folds)
    if masks not in RASTERISERS:
        raise CocoadError(f"--masks {masks}: choose one of {', '.join(RASTERISERS)}")
    if masks == "ader":
        require_opencv()
    layout = CocoLayout(coco_root)
    out = coco_root if out is None else out
    _check_writable(out)
    val_raw = RawFile(layout.val_annotations)
    train_raw = RawFile(layout.train_annotations)
    image_root = relative_posix(coco_root, out)
    plans = {fold: (FoldOutputs(out, per_fold, fold),
                    manifest_inputs(fold, num_folds, train_raw.sha256, val_raw.sha256,
                                    image_root, masks))
             for fold in folds}
    todo = [fold for fold in folds if force or not is_up_to_date(*plans[fold])]
    if not todo:
        if check_images:
            for outputs, _ in plans.values():
                _check_image_files(_meta_images(outputs.meta), out)
        return [_result_from_manifest(fold, num_folds, plans[fold][0], True) for fold in folds]

    val = parse_annotations(val_raw, keep_segmentations=True)
    jobs = [job for fold in todo for job in _mask_jobs(val, fold, num_folds)]
    try:
        train, rendered = _parse_while_rendering(train_raw, jobs, workers or os.cpu_count() or 1,
                                                 masks, progress)
    except MaskError as exc:
        raise CocoadError(f"{val.path}: {exc}") from None
    splits = {fold: split_fold(train, val, fold, num_folds) for fold in todo}
    del train, val
    metas = {fold: _meta_entries(splits[fold], layout, out, plans[fold][0]) for fold in todo}
    if check_images:
        for fold in todo:
            _check_image_files(metas[fold][0] + metas[fold][1], out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CocoadError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    for fold in todo:
        outputs, inputs = plans[fold]
        _write_fold(splits[fold], outputs, inputs, metas[fold], rendered)
    return [_result_from_manifest(fold, num_folds, plans[fold][0], fold not in todo)
            for fold in folds]


def _check_writable(out: Path) -> None:
    """Fail early (before parsing) when `out` cannot become a writable folder."""
    try:
        existing = out
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise CocoadError(f"{out}: cannot write the output folder ({existing} is not a "
                              "folder)")
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise CocoadError(f"{out}: output folder is not writable ({exc.strerror})") from None


def _mask_name(image_id: int, file_name: str, source: Path) -> str:
    """The mask file name of a test image (`mask_file_name`), checked to be writable."""
    name = mask_file_name(file_name)
    try:
        too_long = len(os.fsencode(name)) > MAX_NAME_BYTES
    except UnicodeError:
        too_long = True
    if name == ".png" or too_long:
        raise CocoadError(f"{source}: image {image_id}: file_name {file_name!r:.60} gives no "
                          "usable mask file name")
    return name


def _mask_jobs(val: AnnotationSet, fold: int, num_folds: int) -> Iterator[MaskJob]:
    assert val.segmentations is not None
    seen: set[str] = set()
    for test in split_test(val, fold, num_folds):
        if not test.anomalous_ids:
            continue
        name = _mask_name(test.image.id, test.image.file_name, val.path)
        if name in seen:
            raise CocoadError(f"{val.path}: two test images share the mask name {name}")
        seen.add(name)
        anomalous = set(test.anomalous_ids)
        segms = [segm for cat, segm in val.segmentations[test.index] if cat in anomalous]
        yield MaskJob((fold, name), test.image.id, test.image.height, test.image.width, segms)


def _parse_while_rendering(train_raw: RawFile, jobs: list[MaskJob], workers: int,
                           rasteriser: str, progress: bool
                           ) -> tuple[AnnotationSet, MaskResults]:
    """Parse the train file and render the masks at the same time; return both.

    With `workers` > 1, one child process parses the train file and `workers` render the
    masks, while this process only waits (so Ctrl-C acts at once); the parent drops its
    copy of the train file's bytes once the parser has its own. With 1, both happen here,
    one after the other. The workers are started before the progress bar, whose monitor
    thread would make the fork happen in a process with threads."""
    def bar() -> tqdm:
        return tqdm(total=len(jobs), desc="masks", unit="mask", disable=not progress)

    rendered: list[MaskResult] = []
    if workers <= 1:
        train = parse_annotations(train_raw, keep_segmentations=False)
        with bar() as progress_bar:
            for start in range(0, len(jobs), CHUNK):
                chunk = jobs[start:start + CHUNK]
                rendered += render_masks(chunk, rasteriser)
                progress_bar.update(len(chunk))
    else:
        count = max(1, min(workers, len(jobs)))
        shares = [jobs[start::count] for start in range(count)] if jobs else []
        tasks: list[Task] = [(parse_annotations, (train_raw, False))]
        tasks += [(render_masks, (share, rasteriser)) for share in shares]
        with Workers(tasks) as pool, bar() as progress_bar:
            train_raw.take()  # the parser has its own copy now
            results = pool.results(
                lambda index, value: progress_bar.update(len(value)) if index else None)
        train = results[0]
        rendered = [mask for share in results[1:] for mask in share]
    return train, {key: (png, digest) for key, png, digest in rendered}


def _meta_entries(split: FoldSplit, layout: CocoLayout, out: Path, outputs: FoldOutputs
                  ) -> tuple[list[MetaEntry], list[MetaEntry]]:
    """The fold's train and test entries, paths relative to the meta file's folder."""
    train_prefix = relative_posix(layout.train_images, out)
    val_prefix = relative_posix(layout.val_images, out)
    train = [MetaEntry(f"{train_prefix}/{image.file_name}", "", COCO_GROUP, False)
             for image in split.train]
    test = [MetaEntry(f"{val_prefix}/{t.image.file_name}",
                      (f"{outputs.mask_dir_name}/{mask_file_name(t.image.file_name)}"
                       if t.anomalous_ids else ""),
                      COCO_GROUP, bool(t.anomalous_ids))
            for t in split.test]
    return train, test


def _check_image_files(entries: list[MetaEntry], out: Path) -> None:
    """Error listing how many image files are missing and the first few."""
    base = out.absolute()  # paths are lexically relative: out may not exist yet
    missing = [entry.img_path for entry in entries
               if not os.path.isfile(os.path.normpath(base / entry.img_path))]
    if missing:
        raise CocoadError(f"{len(missing)} of {len(entries)} image files missing (paths relative "
                          f"to {out}): {', '.join(missing[:5])}"
                          f"{', ...' if len(missing) > 5 else ''}")


def _meta_images(path: Path) -> list[MetaEntry]:
    """Every entry (train and test) of an already built fold's meta file."""
    try:
        meta = read_meta(path)
    except MetaError as error:
        raise CocoadError(str(error)) from None
    return meta["train"] + meta["test"]


def _write_fold(split: FoldSplit, outputs: FoldOutputs, inputs: dict[str, Any],
                meta: tuple[list[MetaEntry], list[MetaEntry]], masks: MaskResults) -> None:
    """Write one fold's masks, meta file and manifest as a whole (`cocoad.output`)."""
    train, test_entries = meta
    anomalous_entries = [entry for entry in test_entries if entry.anomalous]
    mask_files: dict[str, bytes] = {}
    mask_entries = []
    for test, entry in zip(split.test_anomalous, anomalous_entries, strict=True):
        name = Path(entry.mask_path).name
        png, digest = masks[(split.fold, name)]
        mask_files[name] = png
        mask_entries.append({"img_path": entry.img_path, "mask_path": entry.mask_path,
                             "mask_sha256": digest, "category_ids": list(test.anomalous_ids)})
    meta_bytes = dump_meta(train, test_entries, COCO_GROUP)
    manifest = make_manifest(split, inputs, outputs, meta_bytes, mask_entries)
    write_fold_outputs(outputs, mask_files, meta_bytes, manifest_bytes(manifest))


def _result_from_manifest(fold: int, num_folds: int, outputs: FoldOutputs, up_to_date: bool
                          ) -> BuildResult:
    manifest = read_manifest(outputs.manifest)
    return BuildResult(fold=fold, num_folds=num_folds, meta_path=outputs.meta,
                       manifest_path=outputs.manifest, mask_dir=outputs.mask_dir,
                       counts=dict(manifest["counts"]), up_to_date=up_to_date)
