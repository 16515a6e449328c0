"""Count the mask pixels where cocoad's two rasterisers differ: pycocotools and ADer's.

Usage (OpenCV comes with the optional extra: pip install 'adbench[ader]'):
    PYTHONPATH=. python benchmarks/cocoad_vs_ader_masks.py COCO_ROOT

`--masks pycocotools` (the default) rasterises as pycocotools' COCO.annToMask; `--masks
ader` as ADer's benchmark script (cv2.fillPoly on integer-truncated coordinates, RLE
decoded by pycocotools): see docs/cocoad.md. Prints, for each fold of 4, the anomalous
test images, their mask pixels, and the differing pixels both ways.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cocoad.annotations import load_annotations
from cocoad.folds import split_test
from cocoad.masks import rasterise_ader, rasterise_union


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
            ader = rasterise_ader(segms, test.image.height, test.image.width).astype(bool)
            images += 1
            pixels += int(ours.sum())
            only_ours += int((ours & ~ader).sum())
            only_ader += int((ader & ~ours).sum())
        print(f"fold {fold}: {images} anomalous test images, {pixels} mask pixels (pycocotools);"
              f" {only_ours} only in pycocotools, {only_ader} only in ader, "
              f"{100 * (only_ours + only_ader) / max(pixels, 1):.2f}% of the mask pixels differ")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
