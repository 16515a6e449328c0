"""Build COCO-AD folds: meta_P_K.json, val2017_mask_ad_P_K/*.png and manifest_P_K.json.

Order of work, chosen so that nothing is written unless everything is valid and so that
the masks are rasterised while the big train file is parsed:

1. check the arguments and that the output folder can be written;
2. read and hash both annotation files; stop if every fold's manifest says "up to date";
3. parse the val file and hand the anomalous test masks to a process pool (`workers`);
4. parse the train file meanwhile, then split each fold;
5. optionally check that every image file exists;
6. write the masks, the meta file and, last, the manifest (each through a temp name).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from adcommon.atomic import remove_stale_temps, write_atomic
from cocoad.annotations import AnnotationSet, parse_annotations, read_bytes_and_hash
from cocoad.errors import CocoadError
from cocoad.folds import (
    DEFAULT_NUM_FOLDS,
    FoldSplit,
    check_fold_arguments,
    check_num_folds,
    split_fold,
    split_test,
)
from cocoad.layout import CocoLayout, FoldOutputs, relative_posix
from cocoad.manifest import (
    is_up_to_date,
    make_manifest,
    manifest_inputs,
    read_manifest,
    write_manifest,
)
from cocoad.masks import MaskJob, render_masks
from cocoad.meta import MetaEntry, MetaError, dump_meta, read_meta

MaskResults = dict[tuple[int, str], tuple[bytes, str]]

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
               progress: bool = False) -> BuildResult:
    """Build one fold (see `build_folds`)."""
    return build_folds(coco_root, out, [fold], num_folds, workers, force, check_images,
                       progress)[0]


def build_folds(coco_root: Path, out: Path | None, folds: Sequence[int],
                num_folds: int = DEFAULT_NUM_FOLDS, workers: int | None = None,
                force: bool = False, check_images: bool = False,
                progress: bool = False) -> list[BuildResult]:
    """Build the given folds of the COCO-AD benchmark from `coco_root`'s annotation files.

    `out` defaults to `coco_root`; `workers` (default: CPU count) processes rasterise the
    masks, 1 means in this process. Folds whose manifest records the same inputs and
    whose outputs are present are left alone unless `force`. Raises CocoadError on bad
    input, before anything is written.
    """
    per_fold = check_num_folds(num_folds)
    if not folds:
        raise CocoadError("no fold to build")
    for fold in folds:
        check_fold_arguments(fold, num_folds)
    layout = CocoLayout(coco_root)
    out = coco_root if out is None else out
    _check_writable(out)
    val_bytes, val_sha = read_bytes_and_hash(layout.val_annotations)
    train_bytes, train_sha = read_bytes_and_hash(layout.train_annotations)
    image_root = relative_posix(coco_root, out)
    plans = {fold: (FoldOutputs(out, per_fold, fold),
                    manifest_inputs(fold, num_folds, train_sha, val_sha, image_root))
             for fold in folds}
    todo = [fold for fold in folds if force or not is_up_to_date(*plans[fold])]
    if not todo:
        if check_images:
            for outputs, _ in plans.values():
                _check_image_files(_meta_images(outputs.meta), out)
        return [_result_from_manifest(fold, num_folds, plans[fold][0], True) for fold in folds]

    val = parse_annotations(layout.val_annotations, val_bytes, val_sha, keep_segmentations=True)
    del val_bytes
    train_source = [train_bytes]  # popped by the parse, so the bytes are freed once parsed
    del train_bytes
    jobs = [job for fold in todo for job in _mask_jobs(val, fold, num_folds)]

    def parse_train() -> AnnotationSet:
        return parse_annotations(layout.train_annotations, train_source.pop(), train_sha,
                                 keep_segmentations=False)

    train, masks = _render_while(parse_train, jobs, workers or os.cpu_count() or 1, progress)
    splits = {fold: split_fold(train, val, fold, num_folds) for fold in todo}
    del train, val
    metas = {fold: _meta_entries(splits[fold], layout, out, plans[fold][0]) for fold in todo}
    if check_images:
        for fold in todo:
            _check_image_files(metas[fold][0] + metas[fold][1], out)
    out.mkdir(parents=True, exist_ok=True)
    for fold in todo:
        outputs, inputs = plans[fold]
        _write_fold(splits[fold], outputs, inputs, metas[fold], masks)
    return [_result_from_manifest(fold, num_folds, plans[fold][0], fold not in todo)
            for fold in folds]


def _check_writable(out: Path) -> None:
    """Fail early (before parsing) when `out` cannot become a writable folder."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CocoadError(f"{out}: cannot write the output folder ({existing} is not a folder)")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise CocoadError(f"{out}: output folder is not writable ({exc.strerror})") from None


def _mask_jobs(val: AnnotationSet, fold: int, num_folds: int) -> Iterator[MaskJob]:
    assert val.segmentations is not None
    seen: set[str] = set()
    for test in split_test(val, fold, num_folds):
        if not test.anomalous_ids:
            continue
        name = Path(test.image.file_name).stem + ".png"
        if name in seen:
            raise CocoadError(f"{val.path}: two test images share the mask name {name}")
        seen.add(name)
        anomalous = set(test.anomalous_ids)
        segms = [segm for cat, segm in val.segmentations[test.index] if cat in anomalous]
        yield MaskJob((fold, name), test.image.height, test.image.width, segms)


def _chunks(jobs: list[MaskJob], workers: int) -> Iterable[list[MaskJob]]:
    size = max(1, min(64, len(jobs) // (workers * 8)))
    return (jobs[start:start + size] for start in range(0, len(jobs), size))


def _render_while(parse: Callable[[], AnnotationSet], jobs: list[MaskJob], workers: int,
                  progress: bool) -> tuple[AnnotationSet, MaskResults]:
    """Run `parse()` here while a process pool renders the masks; return both results."""
    bar = tqdm(total=len(jobs), desc="masks", unit="mask", disable=not progress)
    masks: MaskResults = {}

    def collect(results: list[tuple[tuple[int, str], bytes, str]]) -> None:
        for key, png, digest in results:
            masks[key] = (png, digest)
        bar.update(len(results))

    try:
        if workers <= 1:
            parsed = parse()
            for chunk in _chunks(jobs, 1):
                collect(render_masks(chunk))
            return parsed, masks
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures: list[Future[Any]] = [pool.submit(render_masks, chunk)
                                          for chunk in _chunks(jobs, workers)]
            try:
                parsed = parse()
                for future in as_completed(futures):
                    collect(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return parsed, masks
    finally:
        bar.close()


def _meta_entries(split: FoldSplit, layout: CocoLayout, out: Path, outputs: FoldOutputs
                  ) -> tuple[list[MetaEntry], list[MetaEntry]]:
    """The fold's train and test entries, paths relative to the meta file's folder."""
    train_prefix = relative_posix(layout.train_images, out)
    val_prefix = relative_posix(layout.val_images, out)
    train = [MetaEntry(f"{train_prefix}/{image.file_name}", "", COCO_GROUP, False)
             for image in split.train]
    test = [MetaEntry(f"{val_prefix}/{t.image.file_name}",
                      (f"{outputs.mask_dir_name}/{Path(t.image.file_name).stem}.png"
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
    """Write one fold's masks, meta file and manifest; the manifest last."""
    outputs.manifest.unlink(missing_ok=True)
    outputs.mask_dir.mkdir(exist_ok=True)
    remove_stale_temps(outputs.out)
    remove_stale_temps(outputs.mask_dir)
    train, test_entries = meta
    anomalous_entries = [entry for entry in test_entries if entry.anomalous]
    mask_entries = []
    for test, entry in zip(split.test_anomalous, anomalous_entries, strict=True):
        png, digest = masks[(split.fold, Path(entry.mask_path).name)]
        write_atomic(outputs.out / entry.mask_path, png)
        mask_entries.append({"img_path": entry.img_path, "mask_path": entry.mask_path,
                             "mask_sha256": digest, "category_ids": list(test.anomalous_ids)})
    wanted = {Path(entry["mask_path"]).name for entry in mask_entries}
    for stale in outputs.mask_dir.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    meta_bytes = dump_meta(train, test_entries, COCO_GROUP)
    write_atomic(outputs.meta, meta_bytes)
    write_manifest(outputs.manifest, make_manifest(split, inputs, outputs, meta_bytes,
                                                   mask_entries))


def _result_from_manifest(fold: int, num_folds: int, outputs: FoldOutputs, up_to_date: bool
                          ) -> BuildResult:
    manifest = read_manifest(outputs.manifest)
    return BuildResult(fold=fold, num_folds=num_folds, meta_path=outputs.meta,
                       manifest_path=outputs.manifest, mask_dir=outputs.mask_dir,
                       counts=dict(manifest["counts"]), up_to_date=up_to_date)
