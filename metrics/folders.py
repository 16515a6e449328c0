"""Pairing a PREDS tree of maps with a GTS tree of masks, and grouping them into classes.

Rules (docs/metrics.md, "Inputs and bad input"): the mask of `PREDS/REL/STEM.ext` is
`GTS/REL/STEM.png` or `GTS/REL/STEM_mask.png`. GTS is an MVTec AD tree when GTS itself
or any of its class folders holds a `ground_truth` folder; then masks are looked up
only under `ground_truth` (REL's `test` component replaced by `ground_truth`), so no
test or train image is ever taken for a mask, and a class without a `ground_truth`
folder (all its test images good) has no masks. A map without a mask is a normal
image. The class is REL's first component; maps directly under PREDS form one class
named after PREDS. Every mask of a scored class must belong to a map. Folders reached
through symbolic links are walked like any other, a link back to a folder being walked
is not followed again. PREDS and GTS must be distinct folders, neither inside the
other. With a cocoad/ADer meta file, its test entries name the images instead (see
`pairs_from_meta`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from cocoad.meta import MetaEntry, MetaError, check_distinct_maps, map_candidates, read_meta
from metrics.errors import ScoreInputError
from metrics.readers import MAP_SUFFIXES

GROUND_TRUTH = "ground_truth"


@dataclass
class ClassItems:
    """The maps of one class, their masks (None = normal image) and their image keys."""

    name: str
    maps: list[Path] = field(default_factory=list)
    masks: list[Path | None] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of a folder, sorted by name (ScoreInputError if it cannot be read)."""
    try:
        with os.scandir(folder) as scan:
            return sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        raise ScoreInputError(f"{folder}: cannot read folder "
                              f"({error.strerror or error})") from None


def walk_files(root: Path, suffixes: tuple[str, ...]) -> list[PurePosixPath]:
    """Files under root ending in one of suffixes (case-insensitive), relative to root:
    each folder's files sorted, then its subfolders in sorted order. Hidden files and
    folders (names starting with ".") are left out. Symbolic links to folders are
    followed; a link to a folder that is already being walked (a loop) is not followed
    again, with a warning."""
    found: list[PurePosixPath] = []

    def visit(folder: Path, rel: PurePosixPath, ancestors: frozenset[tuple[int, int]]) -> None:
        stat = os.stat(folder)
        identity = (stat.st_dev, stat.st_ino)
        if identity in ancestors:
            warnings.warn(f"{folder}: a symbolic link back to a folder above it, not "
                          "followed again", stacklevel=3)
            return
        ancestors = ancestors | {identity}
        subfolders = []
        for entry in _scan(folder):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                subfolders.append(entry.name)
            elif entry.name.lower().endswith(suffixes):
                found.append(rel / entry.name)
        for name in subfolders:
            visit(folder / name, rel / name, ancestors)

    visit(root, PurePosixPath(), frozenset())
    return found


@dataclass(frozen=True)
class MaskTree:
    """A GTS folder and whether it is an MVTec AD tree (module doc)."""

    root: Path
    mvtec: bool

    @classmethod
    def at(cls, root: Path) -> MaskTree:
        if not root.is_dir():  # --meta without masks under GTS: they come from mask_path
            return cls(root, False)
        folders = [Path(entry.path) for entry in _scan(root) if entry.is_dir()]
        return cls(root, any((folder / GROUND_TRUTH).is_dir() for folder in [root, *folders]))

    def mask_folder(self, rel_dir: PurePosixPath) -> Path | None:
        """Where the masks of the maps in PREDS/rel_dir are (None: nowhere, normal images)."""
        if not self.mvtec:
            return self.root.joinpath(*rel_dir.parts)
        parts = list(rel_dir.parts)
        for i, part in enumerate(parts):
            if part == "test" and (self.root.joinpath(*parts[:i]) / GROUND_TRUTH).is_dir():
                parts[i] = GROUND_TRUTH
                return self.root.joinpath(*parts)
        return None

    def mask_candidates(self, rel_map: PurePosixPath) -> list[Path]:
        """Where the mask of the map at PREDS/rel_map may be, in order of preference."""
        folder = self.mask_folder(rel_map.parent)
        if folder is None:
            return []
        return [folder / f"{rel_map.stem}.png", folder / f"{rel_map.stem}_mask.png"]

    def is_mask_file(self, rel: PurePosixPath) -> bool:
        """Whether GTS/rel counts as a mask: in an MVTec tree only files under a
        `ground_truth` folder do (the test and train images never)."""
        return not self.mvtec or GROUND_TRUTH in rel.parts[:-1]


def _check_apart(preds: Path, gts: Path) -> None:
    """ScoreInputError if PREDS and GTS are one folder or one lies inside the other."""
    real_preds, real_gts = preds.resolve(), gts.resolve()
    if real_preds == real_gts:
        problem = "is"
    elif real_gts in real_preds.parents:
        problem = "lies inside"
    elif real_preds in real_gts.parents:
        problem = "holds"
    else:
        return
    raise ScoreInputError(f"{preds}: the prediction folder {problem} the mask folder {gts}; "
                          "maps and masks must be in separate folders")


def _check_folders(preds: Path, gts: Path, gts_needed: bool) -> None:
    if not preds.is_dir():
        raise ScoreInputError(f"{preds}: prediction folder not found")
    if gts_needed and not gts.is_dir():
        raise ScoreInputError(f"{gts}: mask folder not found")
    _check_apart(preds, gts)


def pairs_from_folders(preds: Path, gts: Path) -> list[ClassItems]:
    """Classes of maps under PREDS with their masks under GTS (rules in the module doc)."""
    _check_folders(preds, gts, gts_needed=True)
    rel_maps = walk_files(preds, MAP_SUFFIXES)
    if not rel_maps:
        raise ScoreInputError(f"{preds}: no anomaly maps ({'/'.join(MAP_SUFFIXES)}) found")
    tree = MaskTree.at(gts)
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
        mask = next((p for p in tree.mask_candidates(rel) if p.is_file()), None)
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
        for rel in walk_files(root, (".png",)):
            in_gts = PurePosixPath((root / rel).relative_to(gts).as_posix())
            if tree.is_mask_file(in_gts) and root / rel not in used_masks:
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
    `mask_path` relative to the meta file's folder (GTS need not exist then).
    """
    try:
        entries = read_meta(meta, splits=("test",))["test"]
    except MetaError as error:
        raise ScoreInputError(str(error)) from None
    if not entries:
        raise ScoreInputError(f"{meta}: no test entries")
    _check_folders(preds, gts, gts_needed=False)
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
    tree = MaskTree.at(gts)
    classes: dict[str, ClassItems] = {}
    for entry, (path, key) in zip(entries, found, strict=True):
        items = classes.setdefault(entry.cls_name, ClassItems(entry.cls_name))
        mask = None
        if entry.anomalous or entry.mask_path:
            tries = tree.mask_candidates(PurePosixPath(f"{key}{path.suffix}"))
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
