"""Rasterise an anomalous test image's mask and encode it as a PNG.

Two rasterisers (`--masks`, docs/cocoad.md):

- `pycocotools` (default): each annotation goes to RLE exactly as
  `pycocotools.COCO.annToRLE` does it (polygons and uncompressed RLE through
  `frPyObjects`, compressed RLE as it is); the RLEs are merged (union) and decoded at the
  image's own height x width.
- `ader`: as ADer's benchmark script draws it: each polygon filled with OpenCV's
  `fillPoly` after truncating its coordinates to integers, RLE decoded by pycocotools.
  Needs OpenCV (the optional `ader` extra).

Either way the mask is written as a single-channel uint8 PNG with 0 (normal) and 255
(anomalous). An empty polygon list adds nothing; a mask that comes out empty is an error
(an anomalous test image must have anomalous pixels). Segmentations are validated
beforehand (`cocoad.segmentations`): the rasterisers trust them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from adcommon.checksums import sha256_bytes
from cocoad.errors import CocoadError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ZLIB_LEVEL = 1  # two-valued masks: level 1 is fast and still ~1/100 of the raw size


class MaskError(CocoadError):
    """A mask that cannot be made (it came out empty); the message names the image id, and
    the caller adds the annotation file."""


@dataclass(frozen=True)
class MaskJob:
    """What a worker needs for one mask: where it goes, the image, the segmentations."""

    key: tuple[int, str]  # (fold, mask file name)
    image_id: int
    height: int
    width: int
    segmentations: list[Any]


def segmentation_to_rle(segm: Any, height: int, width: int) -> dict[str, Any] | None:
    """One annotation's segmentation as a compressed RLE, as `COCO.annToRLE` makes it.

    None for an empty polygon list.
    """
    if isinstance(segm, list):
        if not segm:
            return None
        return mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
    if isinstance(segm["counts"], list):
        return mask_utils.frPyObjects(segm, height, width)
    return {"size": segm["size"], "counts": segm["counts"].encode("ascii")}


def rasterise_union(segmentations: list[Any], height: int, width: int) -> np.ndarray:
    """The union of the segmentations as a (height, width) uint8 array of 0 and 1."""
    rles = [rle for segm in segmentations
            if (rle := segmentation_to_rle(segm, height, width)) is not None]
    if not rles:
        return np.zeros((height, width), dtype=np.uint8)
    return mask_utils.decode(mask_utils.merge(rles, intersect=0))


def require_opencv() -> Any:
    """The cv2 module; a one-line error naming the extra when OpenCV is not installed."""
    try:
        import cv2
    except ImportError:
        raise CocoadError("--masks ader needs OpenCV: pip install 'adbench[ader]' "
                          "(or opencv-python-headless)") from None
    return cv2


def rasterise_ader(segmentations: list[Any], height: int, width: int) -> np.ndarray:
    """The union as ADer's script draws it, as a (height, width) uint8 array of 0 and 1.

    ADer fills a 3-channel image with (255, 255, 255); its channels are identical, so one
    channel filled with 255 is the same mask.
    """
    cv2 = require_opencv()
    canvas = np.zeros((height, width), dtype=np.uint8)
    for segm in segmentations:
        if isinstance(segm, list):
            for polygon in segm:
                # truncated like ADer's astype(np.int64); the vertices are bounded
                # (cocoad.segmentations), so int32, which every OpenCV accepts, holds them
                points = np.array(polygon).astype(np.int32).reshape(len(polygon) // 2, 2)
                cv2.fillPoly(canvas, [points], 255)
        else:
            canvas[rasterise_union([segm], height, width) > 0] = 255
    return (canvas > 0).astype(np.uint8)


def rasterise(segmentations: list[Any], height: int, width: int, rasteriser: str
              ) -> np.ndarray:
    """The union of the segmentations (0/1 uint8) with the named rasteriser."""
    if rasteriser == "ader":
        return rasterise_ader(segmentations, height, width)
    return rasterise_union(segmentations, height, width)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def encode_png(mask01: np.ndarray) -> bytes:
    """A 0/1 mask as the bytes of an 8-bit grayscale PNG with values 0/255.

    Written directly (filter type 0 on every row, zlib level 1): about twice as fast as
    Pillow's encoder, which tries several row filters, and any PNG reader decodes it.
    """
    height, width = mask01.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # column 0: the row's filter type
    rows[:, 1:] = mask01 * np.uint8(255)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit, grayscale
    return (PNG_SIGNATURE + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), ZLIB_LEVEL))
            + _png_chunk(b"IEND", b""))


MaskResult = tuple[tuple[int, str], bytes, str]  # (key, PNG bytes, sha256)


def render_masks(jobs: list[MaskJob], rasteriser: str) -> list[MaskResult]:
    """(key, PNG bytes, sha256) for each job; MaskError when a mask comes out empty."""
    results = []
    for job in jobs:
        mask01 = rasterise(job.segmentations, job.height, job.width, rasteriser)
        if not mask01.any():
            raise MaskError(f"image {job.image_id}: its anomalous annotations cover no pixel "
                              f"with --masks {rasteriser} (an anomalous test image needs a "
                              "non-empty mask)")
        png = encode_png(mask01)
        results.append((job.key, png, sha256_bytes(png)))
    return results
