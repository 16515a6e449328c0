"""Read and check a COCO instances annotation file, keeping only what the fold rule needs.

The file is parsed once with the json module (pycocotools.COCO would also build indexes
cocoad never uses). For each image with at least one annotation (crowd ones included)
it keeps the set of category ids; for the val file it also keeps every annotation's
segmentation so the anomalous test masks can be rasterised. No image file is opened:
the height and width come from the annotation file.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adcommon.checksums import sha256_bytes
from cocoad.categories import category_set_problem
from cocoad.errors import CocoadError


@dataclass(frozen=True)
class ImageRecord:
    """One image of an annotation file: id, file name and size in pixels."""

    id: int
    file_name: str
    height: int
    width: int


@dataclass
class AnnotationSet:
    """The images of one annotation file that carry at least one annotation.

    `images` keeps the file's order; `category_ids[i]` is the set of category ids
    annotated on `images[i]`; `segmentations[i]` (val file only) lists
    (category id, segmentation) for every annotation of `images[i]`.
    """

    path: Path
    sha256: str
    num_images: int
    images: list[ImageRecord] = field(default_factory=list)
    category_ids: list[frozenset[int]] = field(default_factory=list)
    segmentations: list[list[tuple[int, Any]]] | None = None


def read_bytes_and_hash(path: Path) -> tuple[bytes, str]:
    """The raw bytes of an annotation file and their sha256; a missing file is an error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CocoadError(f"{path}: annotation file not found") from None
    except OSError as exc:
        raise CocoadError(f"{path}: cannot read ({exc.strerror})") from None
    return data, sha256_bytes(data)


def _fail(path: Path, problem: str) -> CocoadError:
    return CocoadError(f"{path}: {problem}")


def _list_field(path: Path, doc: Any, key: str) -> list[Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, list):
        raise _fail(path, f'not a COCO instances file (no "{key}" list)')
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_images(path: Path, raw_images: list[Any]) -> dict[int, ImageRecord]:
    images: dict[int, ImageRecord] = {}
    for entry in raw_images:
        try:
            record = ImageRecord(entry["id"], entry["file_name"], entry["height"], entry["width"])
        except (KeyError, TypeError):
            raise _fail(path, "image entry without id/file_name/height/width: "
                              f"{entry!r:.80}") from None
        if not (_is_int(record.id) and isinstance(record.file_name, str) and record.file_name
                and _is_int(record.height) and _is_int(record.width)
                and record.height > 0 and record.width > 0):
            raise _fail(path, f"image entry with a bad id, file name or size: {entry!r:.80}")
        if record.id in images:
            raise _fail(path, f"image id {record.id} appears twice")
        images[record.id] = record
    return images


def _check_references(path: Path, annotations: list[Any], values: list[Any],
                      known: Collection[Any], kind: str) -> None:
    """Fail naming the first annotation whose image or category id is not in the file."""
    try:
        unknown = set(values).difference(known)
    except TypeError:  # a list or object where an id should be
        raise _fail(path, f"an annotation's {kind} id is not a number") from None
    if unknown:
        index = next(i for i, value in enumerate(values) if value in unknown)
        raise _fail(path, f"annotation {annotations[index].get('id')} refers to unknown "
                          f"{kind} {values[index]!r}")


def _check_segmentation(path: Path, ann: dict[str, Any], image: ImageRecord) -> Any:
    """Return the annotation's segmentation after checking its shape (polygons or RLE)."""
    segm = ann.get("segmentation")
    if isinstance(segm, list) and all(isinstance(poly, list) for poly in segm):
        return segm
    if isinstance(segm, dict) and isinstance(segm.get("counts"), (list, str)):
        if segm.get("size") != [image.height, image.width]:
            raise _fail(path, f"annotation {ann.get('id')}: RLE size {segm.get('size')} is not "
                              f"its image's [height, width] {[image.height, image.width]}")
        return segm
    raise _fail(path, f"annotation {ann.get('id')}: segmentation is neither polygons nor RLE")


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsing creates millions of containers and no
    cycles, and the collector's repeated passes over them more than double the parse time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_annotations(path: Path, data: bytes, sha256: str, keep_segmentations: bool
                      ) -> AnnotationSet:
    """Parse and check an instances file's bytes; see `AnnotationSet` for what is kept.

    Errors (one line, naming `path`): invalid JSON, missing lists, a category set that
    is not COCO's 80, bad image entries, annotations pointing at unknown images or
    categories, and (with `keep_segmentations`) malformed segmentations.
    """
    with _gc_paused():
        try:
            doc = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _fail(path, f"not valid JSON ({exc})") from None
        del data  # the caller passes its only reference: free the raw bytes before the loop
        return _parse(path, doc, sha256, keep_segmentations)


def _parse(path: Path, doc: Any, sha256: str, keep_segmentations: bool) -> AnnotationSet:
    categories = _list_field(path, doc, "categories")
    if not all(isinstance(cat, dict) for cat in categories):
        raise _fail(path, "a category entry is not an object")
    problem = category_set_problem(categories)
    if problem:
        raise _fail(path, problem)
    images = _parse_images(path, _list_field(path, doc, "images"))
    raw_annotations = _list_field(path, doc, "annotations")
    del doc
    known_categories = {cat["id"] for cat in categories}
    try:
        image_ids = [ann["image_id"] for ann in raw_annotations]
        category_ids = [ann["category_id"] for ann in raw_annotations]
    except (KeyError, TypeError):
        bad = next(ann for ann in raw_annotations
                   if not (isinstance(ann, dict) and "image_id" in ann and "category_id" in ann))
        raise _fail(path, f"annotation without image_id/category_id: {bad!r:.80}") from None
    _check_references(path, raw_annotations, image_ids, images.keys(), "image")
    _check_references(path, raw_annotations, category_ids, known_categories, "category")
    cats_by_image: dict[int, set[int]] = {}
    for image_id, category_id in zip(image_ids, category_ids, strict=True):
        cats_by_image.setdefault(image_id, set()).add(category_id)
    segms_by_image: dict[int, list[tuple[int, Any]]] = {}
    if keep_segmentations:
        for ann in raw_annotations:
            segms_by_image.setdefault(ann["image_id"], []).append(
                (ann["category_id"], _check_segmentation(path, ann, images[ann["image_id"]])))
    result = AnnotationSet(path=path, sha256=sha256, num_images=len(images),
                           segmentations=[] if keep_segmentations else None)
    for image_id, image in images.items():
        cats = cats_by_image.get(image_id)
        if cats:
            result.images.append(image)
            result.category_ids.append(frozenset(cats))
            if result.segmentations is not None:
                result.segmentations.append(segms_by_image[image_id])
    return result


def load_annotations(path: Path, keep_segmentations: bool) -> AnnotationSet:
    """Read, hash and parse an annotation file in one go."""
    data, digest = read_bytes_and_hash(path)
    return parse_annotations(path, data, digest, keep_segmentations)
