"""metrics: the exact anomaly-detection metric suite of METRICS.md (numpy + numba, no torch)."""

from metrics.keys import METRIC_KEYS

__all__ = ["METRIC_KEYS"]
