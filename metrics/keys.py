"""The metric keys of docs/metrics.md, in the order tables and CSV files show them, the
definitions a result can follow, and the typed per-class result."""

from __future__ import annotations

from typing import Literal, TypedDict

from metrics.errors import ScoreInputError

MetricKey = Literal["auroc_i", "ap_i", "f1max_i", "auroc_p", "ap_p", "f1max_p", "aupro_p",
                    "f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p", "mad_i", "mad_p",
                    "mad_20_80", "mad"]
"""A metric key (a `ClassMetrics` key: `result[key]` type-checks for any of them)."""

RANKING_IMAGE_KEYS: tuple[MetricKey, ...] = ("auroc_i", "ap_i", "f1max_i")
RANKING_PIXEL_KEYS: tuple[MetricKey, ...] = ("auroc_p", "ap_p", "f1max_p", "aupro_p")
THRESHOLD_KEYS: tuple[MetricKey, ...] = ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80",
                                         "iou_max_p")
AGGREGATE_KEYS: tuple[MetricKey, ...] = ("mad_i", "mad_p", "mad_20_80", "mad")

METRIC_KEYS: tuple[MetricKey, ...] = (
    RANKING_IMAGE_KEYS + RANKING_PIXEL_KEYS + THRESHOLD_KEYS + AGGREGATE_KEYS
)

COMPAT_DEFINITIONS: dict[str | None, str] = {None: "adbench-1", "ader": "ader",
                                             "ader-paper": "ader-paper"}
"""Each `compat` mode of the scorer and the `definition` its results record."""



def check_compat(compat: str | None) -> None:
    """ScoreInputError unless `compat` is a mode of COMPAT_DEFINITIONS."""
    if compat not in COMPAT_DEFINITIONS:
        raise ScoreInputError(f"unknown compat mode {compat!r} (choose "
                              f"{', '.join(repr(c) for c in COMPAT_DEFINITIONS if c)})")


DEFINITIONS: tuple[str, ...] = tuple(dict.fromkeys(COMPAT_DEFINITIONS.values()))
"""Every definition a result or a leaderboard row can name."""

RESIZE_CHOICES: tuple[str, ...] = ("none", "masks", "maps")
"""The evaluation-size rules (`--resize`): none, masks brought to the maps' size, or maps
to the masks' size (docs/metrics.md, "Evaluation size")."""

PAPER_NAMES: dict[str, str] = {
    "auroc_i": "mAU-ROC_I", "ap_i": "mAP_I", "f1max_i": "mF1-max_I",
    "auroc_p": "mAU-ROC_P", "ap_p": "mAP_P", "f1max_p": "mF1-max_P", "aupro_p": "mAU-PRO_R",
    "f1_p_20_80": "mF1^.2-.8", "acc_p_20_80": "mAcc^.2-.8", "iou_p_20_80": "mIoU^.2-.8",
    "iou_max_p": "mIoU-max",
    "mad_i": "mAD_I", "mad_p": "mAD_P", "mad_20_80": "mAD^.2-.8", "mad": "mAD",
}
"""Each key's name in the InvAD/ADer papers' tables (`_X` a subscript, `^X` a
superscript), as docs/metrics.md lists them; the aggregates are named alike."""

Metrics = dict[str, float | None]


class ClassMetrics(TypedDict):
    """One class's metrics (`metrics.score`, `Scorer.compute`): every key of METRIC_KEYS,
    in that order, a value in [0, 1] or None where undefined."""

    auroc_i: float | None
    ap_i: float | None
    f1max_i: float | None
    auroc_p: float | None
    ap_p: float | None
    f1max_p: float | None
    aupro_p: float | None
    f1_p_20_80: float | None
    acc_p_20_80: float | None
    iou_p_20_80: float | None
    iou_max_p: float | None
    mad_i: float | None
    mad_p: float | None
    mad_20_80: float | None
    mad: float | None


class ClassCounts(TypedDict):
    """How many normal and anomalous images a class holds."""

    normal: int
    anomalous: int


class ScoreResult(TypedDict):
    """A dataset's scores (`score_folders`, `DatasetScorer.compute`, the `adbench score
    --json` file): per class, their unweighted mean over classes, the image counts, the
    definition the values follow and the evaluation size."""

    classes: dict[str, ClassMetrics]
    mean: Metrics
    counts: dict[str, ClassCounts]
    definition: str
    resize: str
