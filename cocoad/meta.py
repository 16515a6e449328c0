"""The meta file, ADer's dataset index: its one writer, its one reader, its name, and the
one rule placing an entry's anomaly map (docs/cocoad.md, "Outputs").

A meta file is `{"train": {group: [entry...]}, "test": {group: [entry...]}}`, entry =
`{"img_path", "mask_path", "cls_name", "specie_name", "anomaly": 0|1}`, paths relative to
the meta file's folder (cocoad writes `../COCO/val2017/x.jpg` when its `--out` is not the
COCO root). `cocoad build` writes it here; `adbench run-baseline` (baselines.data) and
`adbench score --meta` (metrics.folders) read it here, so the map a run writes for an
entry is the map the scorer looks for. A fold's file is named `meta_P_K.json` (P classes
per fold, fold K), as ADer names it.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adcommon.errors import InputError
from cocoad.categories import NUM_CATEGORIES

_FOLD_NAME = re.compile(r"^meta_(\d+)_(\d+)\.json$")


class MetaError(InputError):
    """A meta file that cannot be read or breaks the format; one line naming the file."""


@dataclass(frozen=True)
class FoldName:
    """What a fold's meta file name says: P classes per fold and the fold K."""

    per_fold: int
    fold: int

    @property
    def num_folds(self) -> int:
        """80 / P: the number of folds of the split."""
        return NUM_CATEGORIES // self.per_fold


def meta_file_name(per_fold: int, fold: int) -> str:
    """`meta_P_K.json`, the name of fold K's meta file with P anomalous classes per fold."""
    return f"meta_{per_fold}_{fold}.json"


def parse_meta_name(path: Path | str) -> FoldName | None:
    """The fold a meta file's name gives (`meta_P_K.json` with P dividing 80), else None."""
    match = _FOLD_NAME.match(Path(path).name)
    if match is None:
        return None
    per_fold, fold = int(match.group(1)), int(match.group(2))
    if per_fold < 1 or NUM_CATEGORIES % per_fold or fold >= NUM_CATEGORIES // per_fold:
        return None
    return FoldName(per_fold, fold)


@dataclass(frozen=True)
class MetaEntry:
    """One image of a meta file; `mask_path` is "" for a normal image."""

    img_path: str
    mask_path: str
    cls_name: str
    anomalous: bool


def _entry(raw: object, split: str, path: Path) -> MetaEntry:
    def fail(problem: str) -> MetaError:
        return MetaError(f"{path}: {split} entry {problem}: {json.dumps(raw)[:200]}")

    if not isinstance(raw, dict):
        raise fail("is not an object")
    for key in ("img_path", "cls_name"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise fail(f"without {key} (a non-empty string)")
    if PurePosixPath(posixpath.normpath(raw["img_path"])).name in ("", ".", ".."):
        raise fail("has an img_path that names no file")
    mask_path = raw.get("mask_path", "")
    if not isinstance(mask_path, str):
        raise fail("has a mask_path that is not a string")
    anomaly = raw.get("anomaly", 0)
    if anomaly not in (0, 1):
        raise fail("has an anomaly other than 0 or 1")
    return MetaEntry(raw["img_path"], mask_path, raw["cls_name"], bool(anomaly))


def _entry_object(entry: MetaEntry) -> dict[str, object]:
    return {"img_path": entry.img_path, "mask_path": entry.mask_path,
            "cls_name": entry.cls_name, "specie_name": "", "anomaly": int(entry.anomalous)}


def dump_meta(train: Sequence[MetaEntry], test: Sequence[MetaEntry], group: str) -> bytes:
    """The meta file's bytes: both splits under one group name, one entry per line
    (readable, and fast to write)."""
    def block(entries: Sequence[MetaEntry]) -> str:
        return ",\n".join("    " + json.dumps(_entry_object(entry)) for entry in entries)
    key = json.dumps(group)
    return (f'{{"train": {{{key}: [\n{block(train)}\n]}},\n'
            f' "test": {{{key}: [\n{block(test)}\n]}}}}\n').encode()


def read_meta(path: Path, splits: tuple[str, ...] = ("train", "test"),
              ) -> dict[str, list[MetaEntry]]:
    """The entries of each requested split, in file order (groups in file order).

    Raises MetaError (one line naming the file and the problem) if the file cannot
    be read, is not JSON, lacks a requested split, or holds a malformed entry.
    """
    try:
        text = path.read_text()
    except OSError as error:
        raise MetaError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        meta = json.loads(text)
    except ValueError as error:
        raise MetaError(f"{path}: not a cocoad/ADer meta file (invalid JSON: "
                              f"{error})") from None
    if not isinstance(meta, dict):
        raise MetaError(f"{path}: not a cocoad/ADer meta file (top level is not an "
                              "object)")
    entries: dict[str, list[MetaEntry]] = {}
    for split in splits:
        groups = meta.get(split)
        if not isinstance(groups, dict):
            raise MetaError(f"{path}: not a cocoad/ADer meta file ({split!r} must map "
                                  "class names to lists of entries)")
        entries[split] = []
        for group in groups.values():
            if not isinstance(group, list):
                raise MetaError(f"{path}: not a cocoad/ADer meta file ({split!r} must "
                                      "map class names to lists of entries)")
            entries[split] += [_entry(raw, split, path) for raw in group]
    return entries


def map_rel(entry: MetaEntry) -> str:
    """Where the map of an entry lives, relative to the maps folder, without extension.

    `<cls_name>/<img_path without suffix>`, not repeating the class when the path starts
    with it. A path that leaves the meta folder (`../`, or absolute) keeps only its folder
    and file name (`coco/val2017/000000000139`), so maps always stay inside the maps folder.
    """
    parts = PurePosixPath(posixpath.normpath(entry.img_path)).with_suffix("").parts
    if parts[0] in ("..", "/"):
        parts = tuple(p for p in parts[-2:] if p not in ("..", "/"))
    stem = "/".join(parts)
    return stem if parts[0] == entry.cls_name else f"{entry.cls_name}/{stem}"


def map_candidates(entry: MetaEntry) -> list[str]:
    """Where `adbench score --meta` looks for an entry's map, in order: `map_rel` (the
    layout run-baseline writes), then `<cls_name>/<image stem>` (maps of other tools)."""
    flat = f"{entry.cls_name}/{PurePosixPath(entry.img_path).stem}"
    return [map_rel(entry)] + ([flat] if flat != map_rel(entry) else [])


def check_distinct_maps(entries: list[MetaEntry], rels: list[str], path: Path) -> None:
    """Raise MetaError if two different images of `entries` share one map path."""
    seen: dict[str, str] = {}
    for entry, rel in zip(entries, rels, strict=True):
        if seen.setdefault(rel, entry.img_path) != entry.img_path:
            raise MetaError(f"{path}: test images {seen[rel]} and {entry.img_path} "
                                  f"would share the map {rel}")
