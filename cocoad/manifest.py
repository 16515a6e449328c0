"""The fold manifest: what was built from which inputs, with a sha256 for every output.

`inputs` (tool version, fold, num_folds, the annotation files' sha256, the image root,
the mask rasteriser) decides whether a fold is up to date; `meta` and
`anomalous_test_images` carry the checksums `cocoad verify` re-hashes, and each
anomalous test image's anomalous category ids (for per-category breakdowns of results).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adcommon import __version__
from adcommon.checksums import sha256_bytes, sha256_file
from cocoad.categories import CATEGORY_NAMES, COCO_CATEGORIES
from cocoad.errors import CocoadError
from cocoad.folds import FoldSplit
from cocoad.layout import FoldOutputs

MANIFEST_FORMAT = 2  # 2: inputs record the mask rasteriser


def manifest_inputs(fold: int, num_folds: int, train_sha256: str, val_sha256: str,
                    image_root: str, masks: str) -> dict[str, Any]:
    """The parameters and input checksums that make a build; equal inputs = same outputs.

    `masks` is the rasteriser (`cocoad.rasterisers.RASTERISERS`)."""
    return {"tool": "cocoad", "version": __version__, "format": MANIFEST_FORMAT,
            "fold": fold, "num_folds": num_folds,
            "train_annotations_sha256": train_sha256, "val_annotations_sha256": val_sha256,
            "image_root": image_root, "masks": masks}


def make_manifest(split: FoldSplit, inputs: dict[str, Any], outputs: FoldOutputs,
                  meta_bytes: bytes, masks: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest of a built fold (`masks`: one entry per anomalous test image)."""
    labels = {cat_id: label for label, (cat_id, _, _) in enumerate(COCO_CATEGORIES)}
    return {
        "fold": split.fold,
        "num_folds": split.num_folds,
        "anomalous_categories": [{"label": labels[cat_id], "id": cat_id,
                                  "name": CATEGORY_NAMES[cat_id]}
                                 for cat_id in split.anomalous_ids],
        "counts": {"train": len(split.train), "train_dropped": split.train_dropped,
                   "test_normal": len(split.test) - len(masks), "test_anomalous": len(masks)},
        "inputs": inputs,
        "meta": {"path": outputs.meta.name, "sha256": sha256_bytes(meta_bytes)},
        "mask_dir": outputs.mask_dir_name,
        "anomalous_test_images": masks,
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as written (it is put in place last: its presence marks a full build)."""
    return json.dumps(manifest, indent=1).encode()


def read_manifest(path: Path) -> dict[str, Any]:
    """Load a manifest; a missing or unreadable one is an error naming the file."""
    try:
        manifest = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise CocoadError(f"{path}: no manifest (build the fold first)") from None
    except (OSError, ValueError) as exc:
        raise CocoadError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict) or "anomalous_test_images" not in manifest:
        raise CocoadError(f"{path}: not a cocoad manifest")
    return manifest


def is_up_to_date(outputs: FoldOutputs, inputs: dict[str, Any]) -> bool:
    """True when the manifest records these inputs and the meta file and masks are present.

    The meta file is re-hashed (cheap); masks are only checked for presence (`cocoad
    verify` re-hashes them).
    """
    try:
        manifest = read_manifest(outputs.manifest)
        if manifest.get("inputs") != inputs:
            return False
        if sha256_file(outputs.meta) != manifest["meta"]["sha256"]:
            return False
        return all((outputs.out / entry["mask_path"]).is_file()
                   for entry in manifest["anomalous_test_images"])
    except (CocoadError, OSError, KeyError, TypeError):
        return False
