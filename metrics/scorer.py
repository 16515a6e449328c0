"""`Scorer`: one class's metrics from streamed batches, bounded in memory, mergeable.

Each batch's images are validated, then staged; full stagings are counting-sorted into
runs (`metrics.runs`), kept in memory while they fit the budget and spilled to the
temporary folder otherwise. `compute` walks the runs once (`metrics.engine`); the result
depends only on the multiset of the class's (score, label, region area) triples, so any
batching, order or split over merged scorers gives bitwise the same numbers as
`metrics.score` on all images at once. See docs/metrics.md "Streaming".
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metrics.aggregates import with_aggregates
from metrics.boundaries import histogram_edges, normalised_cut_boundaries
from metrics.compat import ader_paper_aupro, ader_pixel_metrics, bounds_for
from metrics.curves import ClassCurves, assemble_curves
from metrics.engine import PixelData, PixelWalk, walk_pixels, walk_scores
from metrics.errors import NonFiniteMapError, ScoreInputError, UndefinedMetricWarning
from metrics.formulas import CUTS, FPR_LIMIT, ader_f1max_p, exact_pixel_metrics, ranking_metrics
from metrics.inputs import as_image_scores, as_map, as_mask, as_pairs
from metrics.keys import (
    METRIC_KEYS,
    RANKING_PIXEL_KEYS,
    THRESHOLD_KEYS,
    ClassMetrics,
    Metrics,
    check_compat,
)
from metrics.runs import BucketTotals, Run
from metrics.staging import Staging, run_of_image

NO_IMAGES_OF_A_KIND = "class has no anomalous or no normal image: some metrics are null"


@dataclass(frozen=True)
class Budget:
    """How a memory bound is shared: the two staging buffers (one filling while the
    other is sorted into a run), the engine's group buffer, and the run data held in
    memory (None: no bound, nothing spilled)."""

    staging_bytes: int
    group_bytes: int
    hold_bytes: int | None

    @classmethod
    def of(cls, max_memory: float | None) -> Budget:
        """max_memory in GiB: staging 1/16 (at most 256 MiB), groups 1/16, runs held up
        to 1/2 minus the staging; the rest is the walk's and the reading's headroom."""
        if max_memory is None:
            return cls(256 << 20, 256 << 20, None)
        total = int(max_memory * (1 << 30))
        staging = min(max(total // 16, 1 << 16), 256 << 20)
        return cls(staging, max(total // 16, 1 << 16), max(total // 2 - staging, 0))


class Scorer:
    """The metrics of one class from batches of (maps, masks): see the module docstring.

    compat: None (exact definitions), "ader" or "ader-paper" (docs/metrics.md).
    max_memory: GiB this scorer may hold (None: unbounded, nothing spilled).
    tmp: folder for spilled data (default: the system's temporary folder).
    """

    def __init__(self, compat: str | None = None, max_memory: float | None = None,
                 tmp: str | Path | None = None) -> None:
        check_compat(compat)
        if max_memory is not None and not (math.isfinite(max_memory) and max_memory > 0):
            raise ScoreInputError(f"max_memory must be a positive number of GiB, got "
                                  f"{max_memory!r}")
        self.compat = compat
        self.max_memory = max_memory
        self.tmp = tmp
        self._budget = Budget.of(max_memory)
        self._reset()

    def _reset(self) -> None:
        self._runs: list[Run] = []
        self._totals: BucketTotals | None = None
        self._regions = 0
        self._kind = 32
        self._lo = math.inf
        self._hi = -math.inf
        self._staging: Staging | None = None
        self._spare: Staging | None = None  # the other buffer: empty, or being built
        self._building: Future | None = None
        self._builder: ThreadPoolExecutor | None = None
        self._image_max: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._user_scores: list[np.ndarray] = []
        self._scored: bool | None = None  # whether images came with user image scores

    # -- adding images -------------------------------------------------------------------

    def update(self, maps: Any, masks: Any, image_scores: Any = None) -> None:
        """Add a batch: maps (B, H, W) or a sequence of 2-D maps (sizes may differ; numpy,
        torch on any device, DLPack, __array__), masks alike (nonzero = anomalous),
        optional image scores (B,) used instead of the maps' maxima. Raises
        ScoreInputError (the scorer unchanged) for NaN/inf values or mismatched sizes."""
        pairs = as_pairs(maps, masks)
        scores = as_image_scores(image_scores, len(pairs))
        for i, (amap, _) in enumerate(pairs):  # the whole batch, before any image is added
            self._check_finite(amap, i)
        self._check_scores_given(scores is not None, len(pairs))
        self._record_images([self._add(amap, mask) for amap, mask in pairs], scores)

    def add_image(self, amap: np.ndarray, mask: np.ndarray,
                  image_score: float | None = None) -> None:
        """Add one image (2-D map and mask of one shape): the folder scorer's call. The
        map's values are checked as it is staged (one pass)."""
        amap = as_map(np.asarray(amap), 0)
        mask = as_mask(np.asarray(mask))
        if amap.shape != mask.shape:
            raise ScoreInputError(f"map is {amap.shape} but its mask is {mask.shape}")
        scores = None if image_score is None else as_image_scores([image_score], 1)
        self._check_scores_given(scores is not None, 1)
        self._record_images([self._add(amap, mask)], scores)

    @staticmethod
    def _check_finite(amap: np.ndarray, index: int) -> tuple[float, float]:
        """The map's (lowest, highest) value; NonFiniteMapError for NaN or infinities."""
        lo, hi = float(amap.min()), float(amap.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise NonFiniteMapError(index)
        return lo, hi

    def _check_scores_given(self, given: bool, count: int) -> None:
        if count and self._scored is not None and self._scored != given:
            raise ScoreInputError("give image scores for every batch or for none")

    def _record_images(self, checked: list[tuple[float, float, bool]],
                       scores: np.ndarray | None) -> None:
        if not checked:
            return
        self._scored = scores is not None
        # + 0.0: a zero extreme is +0.0, whichever zero a map's pixels held
        self._image_max.append(np.array([hi for _, hi, _ in checked], dtype=np.float64) + 0.0)
        self._labels.append(np.array([a for _, _, a in checked], dtype=np.bool_))
        if scores is not None:
            self._user_scores.append(scores)
        self._lo = min(self._lo, min(lo for lo, _, _ in checked) + 0.0)
        self._hi = max(self._hi, max(hi for _, hi, _ in checked) + 0.0)

    def _add(self, amap: np.ndarray, mask: np.ndarray) -> tuple[float, float, bool]:
        """Add one pair: (lowest value, highest value, anomalous); raises
        NonFiniteMapError, with nothing added, for NaN or infinite values."""
        if amap.dtype == np.float64 and self._kind == 32:
            self._check_finite(amap, 0)  # a rejected map must not widen the class
            self._widen()
        if self._kind == 64 and amap.dtype != np.float64:
            amap = amap.astype(np.float64)  # exact
        staging = self._stage()
        if amap.size > staging.capacity:
            lo, hi = self._check_finite(amap, 0)
            self._add_run(*run_of_image(amap, mask))
            return lo, hi, bool(mask.any())
        if not staging.fits(amap.size):
            self._flush(background=True)
            staging = self._stage()
        checked = staging.add(amap, mask)
        if checked is None:
            raise NonFiniteMapError(0)
        return checked

    def _widen(self) -> None:
        """From now on the class is float64 (float32 runs are widened when walked)."""
        self._flush()
        self._kind = 64
        self._staging = self._spare = None

    def _stage(self) -> Staging:
        if self._staging is None:
            dtype = np.float32 if self._kind == 32 else np.float64
            capacity = self._budget.staging_bytes // 2 // (np.dtype(dtype).itemsize + 1)
            self._staging = Staging(max(capacity, 1), dtype)
        return self._staging

    def _flush(self, background: bool = False) -> None:
        """Sort the staged images into a run: in a background thread (the staging
        buffers swap, so images keep coming), or now."""
        self._settle()
        staging = self._staging
        if staging is None or not len(staging):
            return
        if not background:
            self._add_run(*staging.build())
            return
        if self._builder is None:
            self._builder = ThreadPoolExecutor(max_workers=1)
        self._building = self._builder.submit(staging.build)
        self._staging, self._spare = self._spare, staging

    def _settle(self) -> None:
        """Wait for the background build, if any, and keep its run."""
        if self._building is not None:
            building, self._building = self._building, None
            self._add_run(*building.result())

    def _add_run(self, run: Run, totals: BucketTotals, regions: int) -> None:
        if self._totals is None:
            self._totals = BucketTotals()
        self._totals.add(totals, run.b_lo)
        self._regions += regions
        self._runs.append(run)
        self._keep_within_budget()

    def _keep_within_budget(self) -> None:
        if self._budget.hold_bytes is None:
            return
        held = sum(run.held_bytes for run in self._runs)
        for run in reversed(self._runs):
            if held <= self._budget.hold_bytes:
                break
            if run.arrays is not None:
                held -= run.data_bytes
                run.spill(self.tmp)

    # -- combining -----------------------------------------------------------------------

    def merge(self, other: Scorer) -> None:
        """Add another Scorer's images (same compat mode); `other` stays usable (run data
        is shared, never copied)."""
        if other is self:
            raise ValueError("a Scorer cannot merge itself")
        if not isinstance(other, Scorer) or other.compat != self.compat:
            raise ValueError("merge needs a Scorer with the same compat mode")
        if other._scored is not None:
            self._check_scores_given(other._scored, 1)
        other._flush()
        if other._kind == 64 and self._kind == 32:
            self._widen()
        self._settle()
        self._runs += other._runs
        if other._totals is not None:
            if self._totals is None:
                self._totals = BucketTotals()
            self._totals.add(other._totals)
        self._regions += other._regions
        self._lo, self._hi = min(self._lo, other._lo), max(self._hi, other._hi)
        self._image_max += other._image_max
        self._labels += other._labels
        self._user_scores += other._user_scores
        if other._scored is not None:
            self._scored = other._scored
        self._keep_within_budget()

    # -- results -------------------------------------------------------------------------

    @property
    def n_images(self) -> int:
        return sum(len(labels) for labels in self._labels)

    @property
    def n_anomalous(self) -> int:
        """Images whose mask has an anomalous pixel."""
        return sum(int(labels.sum()) for labels in self._labels)

    @property
    def value_range(self) -> tuple[float, float]:
        """The lowest and highest map value of the class (inf, -inf before any image)."""
        return self._lo, self._hi

    def image_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """Per image, in the order added (merged scorers' after this one's): the score
        that ranks it (its given score, else its map's maximum) and whether its mask has
        an anomalous pixel."""
        if not self._labels:
            raise ScoreInputError("no maps to score")
        labels = np.concatenate(self._labels)
        scores = np.concatenate(self._user_scores if self._scored else self._image_max)
        return scores, labels

    def _walk(self, limit: float, grid: float, extra: list[float]) -> PixelWalk:
        self._flush()
        self._staging = self._spare = None  # their memory goes to the walk
        assert self._totals is not None
        bounds = np.unique(np.concatenate([
            normalised_cut_boundaries(CUTS, self._lo, self._hi),
            bounds_for(self.compat, self._lo, self._hi, self._kind), extra]))
        data = PixelData(self._runs, self._totals, self._kind, self._regions, self._lo,
                         self._hi)
        return walk_pixels(data, bounds, limit, grid, self._budget.group_bytes)

    def compute(self) -> ClassMetrics:
        """Every metric of the class (keys METRIC_KEYS; None where undefined, with an
        UndefinedMetricWarning), by the scorer's definition."""
        scores, labels = self.image_scores()
        walk = self._walk(FPR_LIMIT, 0.0, [])
        image = walk_scores(scores, labels)
        img_pos = int(labels.sum())
        out: Metrics = ranking_metrics(image.auc2, image.ap_sum, image.f1, img_pos,
                                       len(labels) - img_pos, "i")
        out.update(self._pixel_metrics(walk))
        if img_pos == 0 or img_pos == len(labels) or walk.n_neg == 0:
            warnings.warn(NO_IMAGES_OF_A_KIND, UndefinedMetricWarning, stacklevel=2)
        full = with_aggregates(out)
        return {key: full[key] for key in METRIC_KEYS}  # type: ignore[return-value]

    def _pixel_metrics(self, walk: PixelWalk) -> Metrics:
        if walk.n_pos == 0:
            return dict.fromkeys(RANKING_PIXEL_KEYS + THRESHOLD_KEYS)
        out = exact_pixel_metrics(walk)
        if self.compat == "ader":
            out.update(ader_pixel_metrics(walk))
        elif self.compat == "ader-paper":
            out["aupro_p"] = ader_paper_aupro(walk)
            if out["aupro_p"] is None and walk.n_neg > 0:
                warnings.warn("ader-paper AUPRO is undefined for this class (ADer's "
                              "evaluator gives NaN: under two distinct FPRs below 0.3)",
                              UndefinedMetricWarning, stacklevel=3)
        if self.compat is not None:
            out["f1max_p"] = ader_f1max_p(walk)
        return out

    def curves(self, resolution: int | None = 1000, fpr_limit: float = FPR_LIMIT,
               bins: int = 50) -> ClassCurves:
        """The class's exact curves for drawing (`metrics.curves.ClassCurves`): points
        kept where they move to another cell of a resolution x resolution raster
        (resolution None: every point), PRO up to `fpr_limit`, histograms of `bins`
        equal bins between the class's extremes."""
        scores, labels = self.image_scores()
        grid = -1.0 if resolution is None else float(resolution)
        edges = histogram_edges(self._lo, self._hi, bins)
        walk = self._walk(fpr_limit, grid, edges[1:-1].tolist())
        image = walk_scores(scores, labels, grid)
        return assemble_curves(walk, edges, scores, labels, image, bins, fpr_limit)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Drop every image (spill files are deleted once no merged Scorer shares them)."""
        if self._builder is not None:
            self._builder.shutdown(wait=True)
        self._reset()

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict:
        self._settle()
        state = {key: value for key, value in self.__dict__.items()
                 if key not in ("_staging", "_spare", "_building", "_builder")}
        staging = self._staging
        state["_staged"] = staging.contents() if staging is not None else ([], [])
        return state

    def __setstate__(self, state: dict) -> None:
        staged_maps, staged_masks = state.pop("_staged")
        self.__dict__.update(state)
        self._staging = self._spare = None
        self._building = self._builder = None
        for amap, mask in zip(staged_maps, staged_masks, strict=True):
            self._add(amap, mask)
        self._keep_within_budget()
