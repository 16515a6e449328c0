"""Pairing a PREDS tree of maps with a GTS tree of masks, and grouping them into classes.

Rules (INTERFACES.md, `score: folders`): the mask of `PREDS/REL/STEM.ext` is
`GTS/REL/STEM.png` or `GTS/REL/STEM_mask.png`; in an MVTec AD layout (REL has a `test`
component and GTS holds a `ground_truth` folder beside it) the mask is looked up with
`ground_truth` in place of `test` (only there, so the test images themselves are never
taken for masks). A map without a mask is a normal image. The class is REL's first
component; maps directly under PREDS form one class named after PREDS. Every mask of a
scored class must belong to a map. With a cocoad/ADer meta file, its test entries name
the images instead (see `pairs_from_meta`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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


def _meta_map(preds: Path, entry: dict) -> tuple[Path, str] | None:
    img = PurePosixPath(entry["img_path"])
    tries = [img.with_suffix(""), PurePosixPath(entry["cls_name"]) / img.with_suffix(""),
             PurePosixPath(entry["cls_name"]) / img.stem]
    for rel in tries:
        for suffix in MAP_SUFFIXES:
            path = preds / f"{rel}{suffix}"
            if path.is_file():
                return path, str(rel)
    return None


def pairs_from_meta(preds: Path, gts: Path, meta: Path) -> list[ClassItems]:
    """Classes from the test entries of a cocoad/ADer meta file.

    The map of an entry is PREDS/<img_path without extension>.<ext>, else
    PREDS/<cls_name>/<img_path without extension>.<ext>, else
    PREDS/<cls_name>/<image stem>.<ext>; a missing map is an error. Its mask (anomalous
    entries only) is found by the folder rules under GTS first (the evaluated, resized
    masks a run writes), else at `mask_path` relative to the meta file's folder.
    """
    try:
        test = json.loads(meta.read_text())["test"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ScoreInputError(f"{meta}: not a cocoad/ADer meta file ({error})") from None
    classes: dict[str, ClassItems] = {}
    for entries in test.values():
        for entry in entries:
            found = _meta_map(preds, entry)
            if found is None:
                raise ScoreInputError(f"{preds}: no map for {entry['img_path']} "
                                      f"(named in {meta.name})")
            path, key = found
            items = classes.setdefault(entry["cls_name"], ClassItems(entry["cls_name"]))
            mask = None
            if int(entry.get("anomaly", 0)) == 1 or entry.get("mask_path"):
                rel = PurePosixPath(path.relative_to(preds).as_posix())
                tries = [*mask_candidates(gts, rel), meta.parent / entry.get("mask_path", "")]
                mask = next((p for p in tries if p.is_file()), None)
                if mask is None:
                    raise ScoreInputError(f"{meta.parent / entry.get('mask_path', '')}: "
                                          f"mask of anomalous image {entry['img_path']} "
                                          "not found")
            items.maps.append(path)
            items.masks.append(mask)
            items.keys.append(key)
    if not classes:
        raise ScoreInputError(f"{meta}: no test entries")
    return list(classes.values())
