"""The one reader of cocoad/ADer meta files, and the one rule placing an entry's map.

A meta file is `{"train": {group: [entry...]}, "test": {group: [entry...]}}`, entry =
`{"img_path", "mask_path", "cls_name", "specie_name", "anomaly": 0|1}`, paths relative to
the meta file's folder (cocoad writes `../COCO/val2017/x.jpg` when its `--out` is not the
COCO root). `adbench run-baseline` (baselines.data) and `adbench score --meta` both read
it here, so the map a run writes for an entry is the map the scorer looks for.
No torch: baselines may import this module, never the other way round.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from metrics.errors import ScoreInputError


@dataclass(frozen=True)
class MetaEntry:
    """One image of a meta file; `mask_path` is "" for a normal image."""

    img_path: str
    mask_path: str
    cls_name: str
    anomalous: bool


def _entry(raw: object, split: str, path: Path) -> MetaEntry:
    def fail(problem: str) -> ScoreInputError:
        return ScoreInputError(f"{path}: {split} entry {problem}: {json.dumps(raw)[:200]}")

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


def read_meta(path: Path, splits: tuple[str, ...] = ("train", "test"),
              ) -> dict[str, list[MetaEntry]]:
    """The entries of each requested split, in file order (groups in file order).

    Raises ScoreInputError (one line naming the file and the problem) if the file cannot
    be read, is not JSON, lacks a requested split, or holds a malformed entry.
    """
    try:
        text = path.read_text()
    except OSError as error:
        raise ScoreInputError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        meta = json.loads(text)
    except ValueError as error:
        raise ScoreInputError(f"{path}: not a cocoad/ADer meta file (invalid JSON: "
                              f"{error})") from None
    if not isinstance(meta, dict):
        raise ScoreInputError(f"{path}: not a cocoad/ADer meta file (top level is not an "
                              "object)")
    entries: dict[str, list[MetaEntry]] = {}
    for split in splits:
        groups = meta.get(split)
        if not isinstance(groups, dict):
            raise ScoreInputError(f"{path}: not a cocoad/ADer meta file ({split!r} must map "
                                  "class names to lists of entries)")
        entries[split] = []
        for group in groups.values():
            if not isinstance(group, list):
                raise ScoreInputError(f"{path}: not a cocoad/ADer meta file ({split!r} must "
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
    """Raise ScoreInputError if two different images of `entries` share one map path."""
    seen: dict[str, str] = {}
    for entry, rel in zip(entries, rels, strict=True):
        if seen.setdefault(rel, entry.img_path) != entry.img_path:
            raise ScoreInputError(f"{path}: test images {seen[rel]} and {entry.img_path} "
                                  f"would share the map {rel}")
