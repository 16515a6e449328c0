"""Thresholds on min-max normalised scores, moved into score space (exactly).

N(v) = (v - lo) / (hi - lo) in float64 is monotone in v, so for each threshold t the
pixels with N(v) > t are exactly those with v >= b_t, where b_t is the smallest float64
with N(b_t) > t. Finding b_t by bisection over the float64 values once per threshold
spares a division per pixel (or per distinct score) and keeps every comparison exact.
"""

from __future__ import annotations

import numpy as np

_SIGN = 1 << 63


def _to_ordinal(x: float) -> int:
    bits = int(np.array(x, dtype=np.float64).view(np.int64))
    return bits if bits >= 0 else -(bits & (_SIGN - 1))


def _from_ordinal(o: int) -> float:
    bits = o if o >= 0 else (-o) | _SIGN
    return float(np.array(bits, dtype=np.uint64).view(np.float64))


def normalised_cut_boundaries(cuts: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """b_t for each threshold t in `cuts`: v >= b_t iff (v - lo)/(hi - lo) > t, for v in
    [lo, hi]; with hi == lo (N = 0 everywhere) b_t = -inf if t < 0 else +inf."""
    span = hi - lo
    out = np.empty(len(cuts), dtype=np.float64)
    for j, t in enumerate(cuts):
        if span == 0:
            out[j] = -np.inf if t < 0.0 else np.inf
        elif (hi - lo) / span <= t:
            out[j] = np.inf
        elif 0.0 / span > t:
            out[j] = -np.inf
        else:
            below, above = _to_ordinal(lo), _to_ordinal(hi)  # N(below) <= t < N(above)
            while above - below > 1:
                mid = (below + above) // 2
                if (_from_ordinal(mid) - lo) / span > t:
                    above = mid
                else:
                    below = mid
            out[j] = _from_ordinal(above)
    return out
