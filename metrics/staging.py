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


def run_of_images(maps: list[np.ndarray], masks: list[np.ndarray],
                  ) -> tuple[Run, BucketTotals, int]:
    """One run of whole images given as 2-D arrays (maps of one float type)."""
    sizes = np.array([m.size for m in maps], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    shapes = np.array([m.shape for m in maps], dtype=np.int64).reshape(-1, 2)
    if len(maps) == 1:
        flat_maps, flat_masks = maps[0].reshape(-1), masks[0].reshape(-1)
    else:
        flat_maps = np.concatenate([m.reshape(-1) for m in maps])
        flat_masks = np.concatenate([m.reshape(-1) for m in masks])
    anomalous = np.array([m.any() for m in masks], dtype=np.bool_)
    return build_run(flat_maps.view(BITS[flat_maps.dtype]), flat_masks.view(np.uint8),
                     starts, shapes, anomalous)


class Staging:
    """A fixed buffer of `capacity` pixels of one map type (float32 or float64).

    Images are counted per bucket as they are copied in (pass 1 of the counting sort),
    in chunks of consecutive images that pass 2 then sorts in parallel.
    """

    def __init__(self, capacity: int, dtype: type[np.floating]) -> None:
        self.capacity = int(capacity)
        self.dtype = np.dtype(dtype)
        self.bits = mapped_empty(self.capacity, BITS[self.dtype])
        self.masks = mapped_empty(self.capacity, np.uint8)
        n_chunks = 4 * n_threads()
        self.chunk_pixels = max(1, -(-self.capacity // n_chunks))
        self.hist_neg = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
        self.hist_pos = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
        self.stats = np.zeros(3, dtype=np.float64)  # the last image's (lo, hi, anomalous)
        self.clear()

    def clear(self) -> None:
        self.fill = 0
        self.starts = [0]
        self.shapes: list[tuple[int, int]] = []
        self.anomalous: list[bool] = []
        self.chunk_starts = [0]  # image index where each chunk starts
        self.hist_neg.fill(0)
        self.hist_pos.fill(0)

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes + self.masks.nbytes + self.hist_neg.nbytes * 2

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
        # + 0.0: a zero extreme is +0.0, whichever zero the kernel met first
        return float(self.stats[0]) + 0.0, float(self.stats[1]) + 0.0, anomalous

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
