"""Read and check a COCO instances annotation file, keeping only what the fold rule needs.

The file is parsed once with the json module (pycocotools.COCO would also build indexes
cocoad never uses). For each image with at least one annotation (crowd ones included)
it keeps the set of category ids; for the val file it also keeps every annotation's
segmentation so the anomalous test masks can be rasterised. No image file is opened:
the height and width come from the annotation file.

What is checked (docs/cocoad.md, "Validation"): in both files the image entries and
every annotation's image and category ids, which the fold depends on; in the val file
also every annotation's id and segmentation (`cocoad.segmentations`), since they are
rasterised. The train file's segmentations are never used and not checked.
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
from cocoad.segmentations import first_segmentation_problem

MAX_IMAGE_SIDE = 16384
MAX_IMAGE_PIXELS = 2**26  # 8192 x 8192: rasterising such a mask takes ~200 MB


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


class RawFile:
    """An annotation file's bytes and sha256, read once; `take()` hands the bytes over.

    The parse takes the bytes and drops them as soon as they are decoded, so they are not
    held while the (much larger) parsed document is built.
    """

    def __init__(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CocoadError(f"{path}: annotation file not found") from None
        except OSError as exc:
            raise CocoadError(f"{path}: cannot read ({exc.strerror})") from None
        self.path = path
        self.sha256 = sha256_bytes(data)
        self._data: bytes | None = data

    def take(self) -> bytes:
        """The bytes, once: this object keeps no reference to them afterwards."""
        data, self._data = self._data, None
        if data is None:
            raise RuntimeError(f"{self.path}: the bytes were already taken")
        return data


def _fail(path: Path, problem: str) -> CocoadError:
    return CocoadError(f"{path}: {problem}")


def _list_field(path: Path, doc: Any, key: str) -> list[Any]:
    value = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(value, list):
        raise _fail(path, f'not a COCO instances file (no "{key}" list)')
    return value


def _is_int(value: Any) -> bool:
    return type(value) is int  # JSON gives int, float or bool: true must not pass as 1


def _image_problem(entry: dict[str, Any]) -> str | None:
    """Why an image entry is unusable, or None (its id is checked by the caller)."""
    name = entry.get("file_name")
    height: Any = entry.get("height")
    width: Any = entry.get("width")
    if not (isinstance(name, str) and name and "\0" not in name):
        return f"file_name {name!r:.60} is not a non-empty string"
    for side, value in (("height", height), ("width", width)):
        if not _is_int(value) or value < 1:
            return f"{side} {value!r:.40} is not a positive integer"
        if value > MAX_IMAGE_SIDE:
            return f"{side} {value} is above the limit of {MAX_IMAGE_SIDE} pixels"
    if height * width > MAX_IMAGE_PIXELS:
        return (f"{height} x {width} pixels are above the limit of {MAX_IMAGE_PIXELS:,} "
                "pixels per image")
    return None


def _parse_images(path: Path, raw_images: list[Any]) -> dict[int, ImageRecord]:
    images: dict[int, ImageRecord] = {}
    for position, entry in enumerate(raw_images):
        if not (isinstance(entry, dict) and _is_int(entry.get("id"))):
            raise _fail(path, f"image entry at position {position} has no integer id: "
                              f"{entry!r:.80}")
        problem = _image_problem(entry)
        if problem:
            raise _fail(path, f"image {entry['id']}: {problem}")
        record = ImageRecord(entry["id"], entry["file_name"], entry["height"], entry["width"])
        if record.id in images:
            raise _fail(path, f"image id {record.id} appears twice")
        images[record.id] = record
    return images


def _annotation_name(annotations: list[Any], index: int) -> str:
    """How an error names an annotation: by its id, else by its position in the list."""
    ann = annotations[index]
    ann_id = ann.get("id") if isinstance(ann, dict) else None
    return f"annotation {ann_id}" if _is_int(ann_id) else f"annotation at position {index}"


def _check_references(path: Path, annotations: list[Any], values: list[Any],
                      known: Collection[Any], kind: str) -> None:
    """Fail naming the first annotation whose image or category id is not one of the file's
    (the types are compared too: 1.0 and true would match 1 in a set)."""
    if set(map(type, values)) <= {int} and not set(values).difference(known):
        return
    index = next(i for i, value in enumerate(values) if not (_is_int(value) and value in known))
    value = values[index]
    problem = (f"unknown {kind} {value}" if _is_int(value)
               else f"{kind} id {value!r:.40}, which is not an integer")
    raise _fail(path, f"{_annotation_name(annotations, index)} refers to {problem}")


def _check_val_annotations(path: Path, annotations: list[Any],
                           images: dict[int, ImageRecord]) -> None:
    """The val file's annotations: unique integer ids, and segmentations that are safe to
    rasterise (`cocoad.segmentations`)."""
    ids = [ann.get("id") for ann in annotations]
    if not set(map(type, ids)) <= {int}:
        index = next(i for i, ann_id in enumerate(ids) if not _is_int(ann_id))
        raise _fail(path, f"annotation at position {index} has no integer id")
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        for ann_id in ids:
            if ann_id in seen:
                raise _fail(path, f"annotation id {ann_id} appears twice")
            seen.add(ann_id)
    owners = [images[ann["image_id"]] for ann in annotations]
    problem = first_segmentation_problem([ann.get("segmentation") for ann in annotations],
                                         [(image.height, image.width) for image in owners])
    if problem:
        index, what = problem
        raise _fail(path, f"annotation {ids[index]} (image {owners[index].id}): {what}")


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


def parse_annotations(raw: RawFile, keep_segmentations: bool) -> AnnotationSet:
    """Parse and check an instances file, taking its bytes; see `AnnotationSet` for what is
    kept and the module docstring for what is checked.

    Errors are one line naming the file: invalid JSON, missing lists, a category set that
    is not COCO's 80, bad image entries, annotations pointing at unknown images or
    categories, and (with `keep_segmentations`) bad annotation ids or segmentations.
    """
    data = raw.take()
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise _fail(raw.path, f"not valid JSON ({exc})") from None
    del data  # the only reference: the bytes are freed before the document is built
    with _gc_paused():
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(raw.path, f"not valid JSON ({exc})") from None
        del text
        return _parse(raw.path, doc, raw.sha256, keep_segmentations)


def _parse(path: Path, doc: Any, sha256: str, keep_segmentations: bool) -> AnnotationSet:
    categories = _list_field(path, doc, "categories")
    if not all(isinstance(cat, dict) for cat in categories):
        raise _fail(path, "a category entry is not an object")
    problem = category_set_problem(categories)
    if problem:
        raise _fail(path, problem)
    images = _parse_images(path, _list_field(path, doc, "images"))
    raw_annotations = _list_field(path, doc, "annotations")
    try:
        image_ids = [ann["image_id"] for ann in raw_annotations]
        category_ids = [ann["category_id"] for ann in raw_annotations]
    except (KeyError, TypeError):
        index = next(i for i, ann in enumerate(raw_annotations)
                     if not (isinstance(ann, dict) and "image_id" in ann
                             and "category_id" in ann))
        raise _fail(path, f"{_annotation_name(raw_annotations, index)} has no image_id/"
                          f"category_id: {raw_annotations[index]!r:.80}") from None
    _check_references(path, raw_annotations, image_ids, images.keys(), "image")
    _check_references(path, raw_annotations, category_ids, {cat["id"] for cat in categories},
                      "category")
    cats_by_image: dict[int, set[int]] = {}
    for image_id, category_id in zip(image_ids, category_ids, strict=True):
        cats_by_image.setdefault(image_id, set()).add(category_id)
    segms_by_image: dict[int, list[tuple[int, Any]]] = {}
    if keep_segmentations:
        _check_val_annotations(path, raw_annotations, images)
        for ann in raw_annotations:
            segms_by_image.setdefault(ann["image_id"], []).append(
                (ann["category_id"], ann["segmentation"]))
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
    return parse_annotations(RawFile(path), keep_segmentations)
