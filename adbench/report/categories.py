"""The per-category breakdown of a COCO-AD fold: which kinds of anomaly a model finds.

For each anomalous COCO category c of the fold (the manifest's `anomalous_categories`),
the test images whose manifest entry lists c (`category_ids`) are set against every
normal test image (an image the manifest lists as anomalous for no category):

- images: how many test images list c (and how many of them have an anomalous pixel in
  the evaluated mask: a tiny object can vanish when masks are shrunk to the map size);
- image AUROC of those images against all normal images, with a 95% bootstrap interval
  (`adbench.report.bootstrap`, resampling the images of that comparison);
- pixel recall at the class's pixel F1-max threshold: the share of the anomalous pixels
  of c's images whose score is >= that threshold (one operating point for every
  category, so the rows compare);
- AUPRO over the regions of c's images, normal pixels of the same images and of every
  normal image setting the false-positive rate.

Image AUROC and AUPRO are `metrics.Scorer.compute()` on exactly that subset of images.
An image with several anomalous categories counts once in each of them with all of its
anomalous pixels and regions: COCO-AD's masks do not say which pixel belongs to which
category. See docs/report.md ("Per category").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from adbench.report.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, interval
from adbench.report.bootstrap import resampled_image_metrics as resample
from adbench.report.memory import Memory
from adbench.report.sources import FoldCategories

COUNTING_RULE = ("An image with several anomalous categories counts once in each of them, "
                 "with all of its anomalous pixels and regions (COCO-AD's masks do not say "
                 "which pixel belongs to which category).")


@dataclass(frozen=True)
class CategoryResult:
    """One row of the breakdown (values in [0, 1], None where undefined)."""

    category_id: int
    name: str
    images: int
    anomalous: int
    auroc_i: float | None
    auroc_interval: Interval | None
    pixel_recall: float | None
    aupro_p: float | None


class CategoryBreakdown:
    """Collects a class's images by category while the class is read, then scores them.

    `memory`: the bound of all its scorers, half for the normal images, half shared by
    the categories.

    `add` every image once (in the order of the class); `add_recall` the maps of the
    images that have categories and anomalous pixels once the class's pixel F1-max
    threshold is known; then `results`.
    """

    def __init__(self, categories: FoldCategories, memory: Memory) -> None:
        self.categories = categories
        self.normal = memory.share(0.5).scorer()
        # a category's scorer also holds the normal images' data once merged (shared, not
        # copied): its bound covers that half and its own part of the other
        own = 0.5 / max(len(categories.names), 1)
        self.scorers = {cid: memory.share(0.5 + own).scorer() for cid in categories.names}
        self.members: dict[int, list[int]] = {cid: [] for cid in categories.names}
        self.normal_members: list[int] = []
        self.hits = dict.fromkeys(categories.names, 0)
        self.pixels = dict.fromkeys(categories.names, 0)

    def add(self, index: int, amap: np.ndarray, mask: np.ndarray, score: float | None,
            category_ids: tuple[int, ...]) -> None:
        """One image of the class (its position `index`, its map, mask and categories)."""
        known = [cid for cid in category_ids if cid in self.scorers]
        if not category_ids:
            self.normal.add_image(amap, mask, score)
            self.normal_members.append(index)
        for cid in known:
            self.scorers[cid].add_image(amap, mask, score)
            self.members[cid].append(index)

    def add_recall(self, amap: np.ndarray, mask: np.ndarray, category_ids: tuple[int, ...],
                   threshold: float) -> None:
        """Count the image's anomalous pixels, and those >= threshold, for its categories."""
        values = amap[mask.astype(bool)]
        hits = int(np.count_nonzero(values >= threshold))
        for cid in category_ids:
            if cid in self.pixels:
                self.pixels[cid] += int(values.size)
                self.hits[cid] += hits

    def results(self, scores: np.ndarray, labels: np.ndarray,
                n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                ) -> list[CategoryResult]:
        """One row per category of the fold, in the manifest's order."""
        rows = []
        for cid, name in self.categories.names.items():
            members = self.members[cid]
            auroc, aupro, band = None, None, None
            if members:
                scorer = self.scorers[cid]
                if self.normal_members:
                    scorer.merge(self.normal)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    computed = scorer.compute()
                auroc, aupro = computed["auroc_i"], computed["aupro_p"]
                subset = np.array(self.normal_members + members)
                if auroc is not None:
                    band = interval(resample(scores[subset], labels[subset], n_resamples,
                                             seed, keys=("auroc_i",))["auroc_i"])
            recall = self.hits[cid] / self.pixels[cid] if self.pixels[cid] else None
            rows.append(CategoryResult(cid, name, len(members),
                                       int(labels[members].sum()) if members else 0,
                                       auroc, band, recall, aupro))
        return rows

    def close(self) -> None:
        """Drop every image held (and any spilled data)."""
        self.normal.close()
        for scorer in self.scorers.values():
            scorer.close()
