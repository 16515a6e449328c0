"""Images waiting to be counting-sorted into a run: flat maps and masks of one float type.

Small batches (a training loop's, or one image read from a file) are copied here until
the buffer is full, so runs stay large whatever the caller's batch size; an image larger
than the buffer becomes a run on its own, without a copy.
"""

from __future__ import annotations

import numpy as np

from metrics.memory import mapped_empty
from metrics.orderkeys import N_BUCKETS
from metrics.runs import BucketTotals, Run, build_run, stage_pixels
from metrics.threads import n_threads

BITS: dict[np.dtype, type[np.unsignedinteger]] = {np.dtype(np.float32): np.uint32,
                                              np.dtype(np.float64): np.uint64}


def run_of_image(amap: np.ndarray, mask: np.ndarray) -> tuple[Run, BucketTotals, int]:
    """One run of a single 2-D image (an image larger than the staging buffer)."""
    return build_run(amap.reshape(-1).view(BITS[amap.dtype]), mask.reshape(-1).view(np.uint8),
                     np.array([0, amap.size], dtype=np.int64),
                     np.array([amap.shape], dtype=np.int64), np.array([mask.any()]))


class Staging:
    """A fixed buffer of `capacity` pixels of one map type (float32 or float64).

    Images are counted per bucket as they are copied in (pass 1 of the counting sort),
    in chunks of consecutive images that pass 2 then sorts in parallel.
    """

    def __init__(self, capacity: int, dtype: type[np.floating]) -> None:
        self.capacity = int(capacity)
        self.dtype = np.dtype(dtype)
        # pages on first touch: a scorer given a few small images holds only those
        self.bits = mapped_empty(self.capacity, BITS[self.dtype], populate=False)
        self.masks = mapped_empty(self.capacity, np.uint8, populate=False)
        n_chunks = 4 * n_threads()
        self.chunk_pixels = max(1, -(-self.capacity // n_chunks))
        self.hist_neg = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
        self.hist_pos = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
        self.stats = np.zeros(3, dtype=np.float64)  # the last image's (lo, hi, anomalous)
        self.chunk_starts = [0]  # image index where each chunk starts
        self.clear()

    def clear(self) -> None:
        """Empty the buffer (the histogram rows of the chunks used are zeroed)."""
        used = len(self.chunk_starts)
        self.hist_neg[:used].fill(0)
        self.hist_pos[:used].fill(0)
        self.fill = 0
        self.starts = [0]
        self.shapes: list[tuple[int, int]] = []
        self.anomalous: list[bool] = []
        self.chunk_starts = [0]

    def __len__(self) -> int:
        return len(self.shapes)

    def fits(self, pixels: int) -> bool:
        return self.fill + pixels <= self.capacity

    def add(self, amap: np.ndarray, mask: np.ndarray) -> tuple[float, float, bool] | None:
        """Check one image and copy it in, counting its pixels (the caller checked
        `fits`): (lowest value, highest value, whether its mask has an anomalous pixel),
        or None, with nothing added, if the map holds NaN or an infinity."""
        chunk = len(self.chunk_starts) - 1
        opens_chunk = (self.fill - self.starts[self.chunk_starts[-1]] >= self.chunk_pixels
                       and chunk + 1 < self.hist_neg.shape[0])
        chunk += opens_chunk
        values = amap.reshape(-1)
        if not stage_pixels(values, values.view(self.bits.dtype),
                            mask.reshape(-1).view(np.uint8), self.bits, self.masks, self.fill,
                            self.hist_neg[chunk], self.hist_pos[chunk], self.stats):
            return None
        if opens_chunk:
            self.chunk_starts.append(len(self.shapes))
        self.fill += amap.size
        self.starts.append(self.fill)
        self.shapes.append(amap.shape)
        anomalous = bool(self.stats[2])
        self.anomalous.append(anomalous)
        return float(self.stats[0]), float(self.stats[1]), anomalous

    def build(self) -> tuple[Run, BucketTotals, int]:
        """The staged images as one run; the buffer is emptied."""
        chunks = len(self.chunk_starts)
        counted = (np.array([*self.chunk_starts, len(self.shapes)], dtype=np.int64),
                   self.hist_neg[:chunks], self.hist_pos[:chunks])
        out = build_run(self.bits[:self.fill], self.masks[:self.fill],
                        np.array(self.starts, dtype=np.int64),
                        np.array(self.shapes, dtype=np.int64).reshape(-1, 2),
                        np.array(self.anomalous, dtype=np.bool_), counted)
        self.clear()
        return out

    def contents(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The staged images as 2-D arrays (copies), e.g. to pickle them."""
        maps, masks = [], []
        values = self.bits.view(self.dtype)
        for (h, w), start in zip(self.shapes, self.starts, strict=False):
            maps.append(values[start:start + h * w].reshape(h, w).copy())
            masks.append(self.masks[start:start + h * w].reshape(h, w).view(np.bool_).copy())
        return maps, masks
