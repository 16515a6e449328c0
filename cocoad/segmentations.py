"""The rules a segmentation must meet before cocoad rasterises it (docs/cocoad.md, "Validation").

pycocotools trusts its input: a NaN or huge coordinate makes it allocate without bound,
and RLE counts that do not cover the image make it read or write outside its buffers.
A segmentation that passes these rules is safe to rasterise and has one well-defined mask:

- polygons: a list of polygons, each a flat list [x1, y1, x2, y2, ...] of numbers (JSON
  numbers, not true/false): an even number of values, at least 3 points, every value
  finite; every vertex at most one image size outside the image
  (-width <= x <= 2 width, -height <= y <= 2 height); the outline (the sum over its
  edges of max(|dx|, |dy|), closing edge included) at most OUTLINE_FACTOR x
  (height + width) pixels, since pycocotools' time and memory grow with it;
- RLE: {"size": [height, width] of its image, "counts": ...} with counts a list of
  non-negative integers or COCO's compressed string (decoded by `cocoad.rle_string`),
  the run lengths summing to height x width.

Polygons are checked for all annotations at once with numpy: one pass over the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from cocoad.rle_string import decode_counts

OUTLINE_FACTOR = 50  # COCO's longest outlines are ~3 x (height + width)
NOT_POLYGONS_OR_RLE = "segmentation is neither polygons nor RLE"

Problem = tuple[int, str]  # (index of the segmentation, what is wrong)


def first_segmentation_problem(segmentations: Sequence[Any],
                               sizes: Sequence[tuple[int, int]]) -> Problem | None:
    """The first segmentation (in order) that breaks a rule, with the reason, or None.

    `sizes[i]` is the (height, width) of the image `segmentations[i]` belongs to.
    """
    polygons: list[list[Any]] = []
    owners: list[int] = []
    shape_problem: Problem | None = None
    for index, segm in enumerate(segmentations):
        height, width = sizes[index]
        if type(segm) is list:
            if not all(type(polygon) is list for polygon in segm):
                shape_problem = (index, NOT_POLYGONS_OR_RLE)
                break
            polygons += segm
            owners += [index] * len(segm)
        elif type(segm) is dict:
            problem = rle_problem(segm, height, width)
            if problem:
                shape_problem = (index, problem)
                break
        else:
            shape_problem = (index, NOT_POLYGONS_OR_RLE)
            break
    polygon_problem = _first_polygon_problem(polygons, owners, sizes)
    found = [problem for problem in (shape_problem, polygon_problem) if problem]
    return min(found, key=lambda problem: problem[0]) if found else None


def rle_problem(segm: dict[str, Any], height: int, width: int) -> str | None:
    """Why an RLE segmentation is not a valid mask of a height x width image, or None."""
    size, counts = segm.get("size"), segm.get("counts")
    if not (type(size) is list and [type(v) for v in size] == [int, int]
            and size == [height, width]):
        return f"RLE size {size!r:.40} is not its image's [height, width] {[height, width]}"
    if type(counts) is str:
        try:
            runs = decode_counts(counts)
        except ValueError as exc:
            return f"compressed RLE counts are malformed: {exc}"
    elif type(counts) is list:
        if not all(type(run) is int and run >= 0 for run in counts):
            return "RLE counts are not all non-negative integers"
        runs = counts
    else:
        return NOT_POLYGONS_OR_RLE
    total = sum(runs)
    if total != height * width:
        return f"RLE counts sum to {total}, not height x width = {height * width}"
    return None


def _first_polygon_problem(polygons: list[list[Any]], owners: list[int],
                           sizes: Sequence[tuple[int, int]]) -> Problem | None:
    """Check every polygon at once. Each check that fails keeps only the polygons before
    the failing one for the checks after it, so the last failure found is the first."""
    found: Problem | None = None
    lengths = np.fromiter(map(len, polygons), dtype=np.int64, count=len(polygons))
    bad = np.flatnonzero((lengths % 2 == 1) | (lengths < 6))
    if bad.size:
        first = int(bad[0])
        count = int(lengths[first])
        found = (owners[first], f"polygon {_rank(owners, first)} has {count} values"
                 + (" (an odd number)" if count % 2 else f" ({count // 2} points, fewer than 3)"))
        polygons, lengths = polygons[:first], lengths[:first]
    values = _numbers(polygons)
    if isinstance(values, tuple):
        first, what = values
        return owners[first], f"polygon {_rank(owners, first)} has {what}"
    if not polygons:
        return found
    heights, widths = (np.repeat(np.array([sizes[owners[i]][axis] for i in range(len(polygons))],
                                          dtype=np.float64), lengths // 2) for axis in (0, 1))
    xs, ys = values[0::2], values[1::2]
    with np.errstate(invalid="ignore"):
        outside = ~((-widths <= xs) & (xs <= 2 * widths) & (-heights <= ys) & (ys <= 2 * heights))
    point_owner = np.repeat(np.arange(len(polygons)), lengths // 2)
    if outside.any():
        point = int(np.argmax(outside))
        first = int(point_owner[point])
        x, y = float(xs[point]), float(ys[point])
        height, width = sizes[owners[first]]
        what = ("a coordinate that is not finite" if not np.isfinite([x, y]).all() else
                f"vertex ({x:g}, {y:g}) more than one image size outside the "
                f"{width} x {height} image")
        found = (owners[first], f"polygon {_rank(owners, first)} has {what}")
        keep = int(np.searchsorted(point_owner, first))
        polygons, lengths = polygons[:first], lengths[:first]
        xs, ys, heights, widths = xs[:keep], ys[:keep], heights[:keep], widths[:keep]
        point_owner = point_owner[:keep]
    if not polygons:
        return found
    starts = np.concatenate([[0], np.cumsum(lengths // 2)[:-1]])
    following = np.arange(1, xs.size + 1)
    following[np.cumsum(lengths // 2) - 1] = starts  # the closing edge back to the start
    steps = np.maximum(np.abs(xs[following] - xs), np.abs(ys[following] - ys))
    outline = np.add.reduceat(steps, starts)
    limit = OUTLINE_FACTOR * (heights[starts] + widths[starts])
    too_long = np.flatnonzero(outline > limit)
    if too_long.size:
        first = int(too_long[0])
        found = (owners[first], f"polygon {_rank(owners, first)}'s outline is "
                 f"{outline[first]:.0f} pixels long, more than {OUTLINE_FACTOR} x "
                 "(height + width) of its image")
    return found


def _numbers(polygons: list[list[Any]]) -> np.ndarray | tuple[int, str]:
    """All polygons' values as one float64 array, or (index, problem) for the first polygon
    with a value that is not an int or float (true/false excluded) or beyond float range."""
    flat = list(chain.from_iterable(polygons))
    if not set(map(type, flat)) <= {int, float}:
        first = next(i for i, polygon in enumerate(polygons)
                     if not set(map(type, polygon)) <= {int, float})
        return first, "a value that is not a number"
    try:
        return np.array(flat, dtype=np.float64)
    except OverflowError:
        first = next(i for i, polygon in enumerate(polygons)
                     if not all(map(_fits_float, polygon)))
        return first, "a value beyond the range of a float"


def _fits_float(value: float) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _rank(owners: list[int], polygon: int) -> int:
    """The position (0-based) of a polygon within its annotation's list of polygons."""
    rank = 0
    while polygon - rank - 1 >= 0 and owners[polygon - rank - 1] == owners[polygon]:
        rank += 1
    return rank
