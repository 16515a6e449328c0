"""The aggregates of docs/metrics.md ("Aggregates") and the one mean rule they use.

`mean_or_none` is the project's single rule for averaging metric values that may be
undefined: None when any value is None (or there is none), else the mean. The per-class
aggregates (mAD and its parts) and the leaderboard's fold averages both use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import fmean

AGGREGATE_PARTS: dict[str, tuple[str, ...]] = {
    "mad_i": ("auroc_i", "ap_i", "f1max_i"),
    "mad_p": ("auroc_p", "ap_p", "f1max_p"),
    "mad_20_80": ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80"),
    "mad": ("auroc_i", "ap_i", "f1max_i", "aupro_p", "auroc_p", "ap_p", "f1max_p"),
}
"""Each aggregate key and the metrics it averages."""


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """The mean of `values`; None if any of them is None or there are none."""
    listed = list(values)
    if not listed or any(value is None for value in listed):
        return None
    return fmean(listed)  # type: ignore[arg-type]


def with_aggregates(metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    """`metrics` plus every aggregate of AGGREGATE_PARTS (None when any part is None)."""
    out = dict(metrics)
    for key, parts in AGGREGATE_PARTS.items():
        out[key] = mean_or_none(out[part] for part in parts)
    return out
