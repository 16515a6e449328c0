"""Count the mask pixels where cocoad's pycocotools masks and ADer-style OpenCV masks differ.

Usage (OpenCV is NOT an adbench dependency; put it somewhere throwaway first):
    pip install --target /tmp/cvlib --no-deps opencv-python-headless
    PYTHONPATH=/tmp/cvlib:. python benchmarks/cocoad_vs_ader_masks.py COCO_ROOT

The ADer-style mask, written from the description of ADer's behaviour (not its code):
polygon coordinates truncated to integers, each polygon filled with cv2.fillPoly on a
3-channel image; RLE (crowd) annotations decoded with pycocotools. Prints, for each fold
of 4, the anomalous test images, their mask pixels, and the differing pixels both ways.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from cocoad.annotations import load_annotations
from cocoad.folds import split_test
from cocoad.masks import rasterise_union


def ader_style_mask(segmentations: list, height: int, width: int) -> np.ndarray:
    """0/1 mask the way ADer draws it: truncated integer polygons, OpenCV fill, 3 channels."""
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for segm in segmentations:
        if isinstance(segm, list):
            for polygon in segm:
                points = np.array(polygon).reshape(-1, 2).astype(np.int32)
                cv2.fillPoly(canvas, [points], (255, 255, 255))
        else:
            rle = mask_utils.frPyObjects(segm, height, width) if isinstance(
                segm["counts"], list) else segm
            canvas[mask_utils.decode(rle).astype(bool)] = 255
    return (canvas[..., 0] > 0).astype(np.uint8)


def main(root: Path) -> None:
    """Print the per-fold pixel differences for the COCO root's val annotations."""
    val = load_annotations(root / "annotations" / "instances_val2017.json", True)
    assert val.segmentations is not None
    for fold in range(4):
        images = pixels = only_ours = only_ader = 0
        for test in split_test(val, fold, 4):
            if not test.anomalous_ids:
                continue
            segms = [s for cat, s in val.segmentations[test.index] if cat in test.anomalous_ids]
            ours = rasterise_union(segms, test.image.height, test.image.width).astype(bool)
            ader = ader_style_mask(segms, test.image.height, test.image.width).astype(bool)
            images += 1
            pixels += int(ours.sum())
            only_ours += int((ours & ~ader).sum())
            only_ader += int((ader & ~ours).sum())
        print(f"fold {fold}: {images} anomalous test images, {pixels} mask pixels (pycocotools);"
              f" {only_ours} only in pycocotools, {only_ader} only in ADer-style, "
              f"{100 * (only_ours + only_ader) / max(pixels, 1):.2f}% of the mask pixels differ")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
