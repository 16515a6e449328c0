"""Pairing a PREDS tree of maps with a GTS tree of masks, and grouping them into classes.

Rules (docs/metrics.md, "Scoring folders"): the mask of `PREDS/REL/STEM.ext` is
`GTS/REL/STEM.png` or `GTS/REL/STEM_mask.png`; in an MVTec AD layout (REL has a `test`
component and GTS holds a `ground_truth` folder beside it) the mask is looked up with
`ground_truth` in place of `test` (only there, so the test images themselves are never
taken for masks). A map without a mask is a normal image. The class is REL's first
component; maps directly under PREDS form one class named after PREDS. Every mask of a
scored class must belong to a map. With a cocoad/ADer meta file, its test entries name
the images instead (see `pairs_from_meta`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cocoad.meta import MetaEntry, MetaError, check_distinct_maps, map_candidates, read_meta
from metrics.errors import ScoreInputError
from metrics.readers import MAP_SUFFIXES


@dataclass
class ClassItems:
    """The maps of one class, their masks (None = normal image) and their image keys."""

    name: str
    maps: list[Path] = field(default_factory=list)
    masks: list[Path | None] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def _walk(root: Path, suffixes: tuple[str, ...]) -> list[PurePosixPath]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = Path(folder).relative_to(root)
        found += [PurePosixPath(rel.as_posix()) / f for f in sorted(files)
                  if f.lower().endswith(suffixes) and not f.startswith(".")]
    return found


def _mvtec_root(gts: Path, rel_dir: PurePosixPath) -> int | None:
    """Index of the `test` component of rel_dir whose sibling `ground_truth` exists."""
    for i, part in enumerate(rel_dir.parts):
        if part == "test" and (gts.joinpath(*rel_dir.parts[:i]) / "ground_truth").is_dir():
            return i
    return None


def mask_candidates(gts: Path, rel_map: PurePosixPath) -> list[Path]:
    """Where the mask of the map at PREDS/rel_map may be, in order of preference."""
    rel_dir, stem = rel_map.parent, rel_map.stem
    test_at = _mvtec_root(gts, rel_dir)
    if test_at is not None:
        parts = list(rel_dir.parts)
        parts[test_at] = "ground_truth"
        folder = gts.joinpath(*parts)
    else:
        folder = gts.joinpath(*rel_dir.parts)
    return [folder / f"{stem}.png", folder / f"{stem}_mask.png"]


def _is_mask_file(gts: Path, rel: PurePosixPath) -> bool:
    """False for the images of an MVTec layout (anything beside a ground_truth folder)."""
    for i in range(len(rel.parts) - 1):
        if (gts.joinpath(*rel.parts[:i]) / "ground_truth").is_dir():
            return rel.parts[i] == "ground_truth"
    return True


def pairs_from_folders(preds: Path, gts: Path) -> list[ClassItems]:
    """Classes of maps under PREDS with their masks under GTS (rules in the module doc)."""
    if not preds.is_dir():
        raise ScoreInputError(f"{preds}: prediction folder not found")
    if not gts.is_dir():
        raise ScoreInputError(f"{gts}: mask folder not found")
    rel_maps = _walk(preds, MAP_SUFFIXES)
    if not rel_maps:
        raise ScoreInputError(f"{preds}: no anomaly maps ({'/'.join(MAP_SUFFIXES)}) found")
    classes: dict[str, ClassItems] = {}
    seen: dict[tuple[PurePosixPath, str], PurePosixPath] = {}
    used_masks: set[Path] = set()
    for rel in rel_maps:
        key = (rel.parent, rel.stem)
        if key in seen:
            raise ScoreInputError(f"{preds / rel}: two maps for one image "
                                  f"(also {preds / seen[key]})")
        seen[key] = rel
        name = rel.parts[0] if len(rel.parts) > 1 else preds.resolve().name
        items = classes.setdefault(name, ClassItems(name))
        mask = next((p for p in mask_candidates(gts, rel) if p.is_file()), None)
        items.maps.append(preds / rel)
        items.masks.append(mask)
        items.keys.append(str(rel.with_suffix("")))
        if mask is not None:
            used_masks.add(mask)
    flat = all(len(rel.parts) == 1 for rel in rel_maps)
    for cls in classes:
        root = gts if flat else gts / cls
        if not root.is_dir():
            continue
        for rel in _walk(root, (".png",)):
            in_gts = PurePosixPath((root / rel).relative_to(gts).as_posix())
            if _is_mask_file(gts, in_gts) and root / rel not in used_masks:
                raise ScoreInputError(f"{root / rel}: mask without a map")
    return list(classes.values())


def _meta_map(preds: Path, entry: MetaEntry) -> tuple[Path, str] | None:
    for rel in map_candidates(entry):
        for suffix in MAP_SUFFIXES:
            path = preds / f"{rel}{suffix}"
            if path.is_file():
                return path, rel
    return None


def pairs_from_meta(preds: Path, gts: Path, meta: Path) -> list[ClassItems]:
    """Classes from the test entries of a cocoad/ADer meta file (read by `cocoad.meta`).

    The map of an entry is PREDS/<map_rel>.<ext> (the layout run-baseline writes: see
    `cocoad.meta.map_rel`), else PREDS/<cls_name>/<image stem>.<ext>; a missing map is
    an error. Its mask (anomalous entries, or entries with a mask_path) is found by the
    folder rules under GTS first (the evaluated, resized masks a run writes), else at
    `mask_path` relative to the meta file's folder.
    """
    if not preds.is_dir():
        raise ScoreInputError(f"{preds}: prediction folder not found")
    try:
        entries = read_meta(meta, splits=("test",))["test"]
    except MetaError as error:
        raise ScoreInputError(str(error)) from None
    if not entries:
        raise ScoreInputError(f"{meta}: no test entries")
    found = []
    for entry in entries:
        hit = _meta_map(preds, entry)
        if hit is None:
            raise ScoreInputError(f"{preds}: no map for {entry.img_path} (looked for "
                                  f"{' or '.join(map_candidates(entry))}.<ext>, named in "
                                  f"{meta.name})")
        found.append(hit)
    try:
        check_distinct_maps(entries, [key for _, key in found], meta)
    except MetaError as error:
        raise ScoreInputError(str(error)) from None
    classes: dict[str, ClassItems] = {}
    for entry, (path, key) in zip(entries, found, strict=True):
        items = classes.setdefault(entry.cls_name, ClassItems(entry.cls_name))
        mask = None
        if entry.anomalous or entry.mask_path:
            tries = mask_candidates(gts, PurePosixPath(f"{key}{path.suffix}"))
            if entry.mask_path:
                tries.append(meta.parent / entry.mask_path)
            mask = next((p for p in tries if p.is_file()), None)
            if mask is None:
                raise ScoreInputError(f"{meta}: no mask for anomalous image {entry.img_path} "
                                      f"(tried {', '.join(map(str, tries))})")
        items.maps.append(path)
        items.masks.append(mask)
        items.keys.append(key)
    return list(classes.values())
