"""Runs: a batch of images counting-sorted by score bucket, held in memory or spilled.

A run stores every pixel of its images once, grouped by `orderkeys` bucket (descending
order is bucket order reversed): normal pixels as entries, anomalous pixels as entries
plus the area of their 8-connected region. Entries are the low 16 key bits (uint16) for
float32 maps and the whole float64 key (uint64) for float64 maps. Building a run takes
two passes over the batch (`build_run`): pass 1 counts the pixels of each bucket per
chunk of images (while they are staged, `stage_pixels`), pass 2, in parallel over the
chunks, labels the regions and writes each pixel at its bucket's next free place, adding
the region weights per bucket exactly (`metrics.fixedpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit, types
from numba.extending import overload

from metrics.fixedpoint import add128, area_weight
from metrics.memory import mapped_empty
from metrics.orderkeys import N_BUCKETS, bits_to_float64, bucket_of_float64, key32, key64
from metrics.regions import label_regions
from metrics.spill import SpillFile
from metrics.threads import in_threads

SECTIONS = ("neg", "pos", "area")


def bucket_entry(bits):  # pragma: no cover - numba overload below
    """(bucket, stored entry) of a pixel from its map value's bit pattern."""
    raise NotImplementedError


@overload(bucket_entry, jit_options={"cache": True, "nogil": True})  # type: ignore[typeddict-unknown-key]
def _bucket_entry(bits):
    if bits == types.uint32:
        def entry32(bits):
            key = key32(bits)
            return np.int64(key >> np.uint32(16)), np.uint16(key & np.uint32(0xFFFF))
        return entry32

    def entry64(bits):
        return bucket_of_float64(bits_to_float64(bits)), key64(bits)
    return entry64


@njit(cache=True, nogil=True)
def count_pass(c, bits, masks, starts, chunk_starts, hist_neg, hist_pos):
    """Pass 1: chunk c's pixel counts per bucket, normal and anomalous apart."""
    counts_neg = hist_neg[c]
    counts_pos = hist_pos[c]
    for t in range(starts[chunk_starts[c]], starts[chunk_starts[c + 1]]):
        bucket, _ = bucket_entry(bits[t])
        if masks[t] != 0:
            counts_pos[bucket] += 1
        else:
            counts_neg[bucket] += 1


@njit(cache=True, nogil=True)
def stage_pixels(values, bits, mask, out_bits, out_mask, at, counts_neg, counts_pos, stats):
    """Check one image, then copy its map bits and mask to out[at:], counting its pixels
    per bucket (pass 1 of the counting sort, done while the image is staged). `values`
    and `bits` are the map as floats and as their bit patterns (one memory).

    stats[:] = (lowest value, highest value, anomalous pixel count). Returns False, with
    nothing written or counted, if the map holds NaN or an infinity. One kernel call per
    image: the folder scorer's main thread then releases the GIL once per image.
    """
    lo = values[0]
    hi = values[0]
    poison = values[0] * 0  # stays 0 unless a value is NaN or infinite
    for t in range(values.shape[0]):
        value = values[t]
        lo = min(lo, value)
        hi = max(hi, value)
        poison += value * 0
    if poison != 0 or poison != poison:
        return False
    anomalous = 0
    for t in range(bits.shape[0]):
        value = bits[t]
        out_bits[at + t] = value
        bucket, _ = bucket_entry(value)
        if mask[t]:
            out_mask[at + t] = 1
            counts_pos[bucket] += 1
            anomalous += 1
        else:
            out_mask[at + t] = 0
            counts_neg[bucket] += 1
    stats[0] = lo
    stats[1] = hi
    stats[2] = anomalous
    return True


@njit(cache=True, nogil=True)
def scatter_pass(c, bits, masks, starts, shapes, anomalous, chunk_starts, b_lo, neg_next,
                 pos_next, neg_out, pos_out, area_out, w_hi, w_lo, regions):
    """Pass 2: write chunk c's pixels at their bucket's next free place (counting sort).

    Anomalous pixels also get their region's area, and their weights fl(1/area) (exact,
    128-bit) are summed per bucket into w_hi[c], w_lo[c]; regions[c] counts the regions.
    Images without an anomalous pixel take a loop without mask or label.
    """
    largest = 1
    for i in range(chunk_starts[c], chunk_starts[c + 1]):
        largest = max(largest, starts[i + 1] - starts[i])
    labels = np.zeros(largest, dtype=np.int32)
    parent = np.empty(largest + 1, dtype=np.int32)
    next_neg = neg_next[c]
    next_pos = pos_next[c]
    sum_hi = w_hi[c]
    sum_lo = w_lo[c]
    for i in range(chunk_starts[c], chunk_starts[c + 1]):
        image_bits = bits[starts[i]:starts[i + 1]]
        if not anomalous[i]:
            for p in range(image_bits.shape[0]):
                bucket, entry = bucket_entry(image_bits[p])
                j = next_neg[bucket - b_lo]
                neg_out[j] = entry
                next_neg[bucket - b_lo] = j + 1
            continue
        image_mask = masks[starts[i]:starts[i + 1]]
        h = shapes[i, 0]
        w = shapes[i, 1]
        areas = label_regions(image_mask.reshape((h, w)), labels[:h * w].reshape((h, w)),
                              parent)
        regions[c] += areas.shape[0] - 1
        weight_hi = np.zeros(areas.shape[0], dtype=np.uint64)
        weight_lo = np.zeros(areas.shape[0], dtype=np.uint64)
        for r in range(1, areas.shape[0]):
            weight_hi[r], weight_lo[r] = area_weight(areas[r])
        for p in range(image_bits.shape[0]):
            bucket, entry = bucket_entry(image_bits[p])
            slot = bucket - b_lo
            if image_mask[p] != 0:
                region = labels[p]
                j = next_pos[slot]
                pos_out[j] = entry
                area_out[j] = areas[region]
                next_pos[slot] = j + 1
                sum_hi[slot], sum_lo[slot] = add128(sum_hi[slot], sum_lo[slot],
                                                    weight_hi[region], weight_lo[region])
            else:
                j = next_neg[slot]
                neg_out[j] = entry
                next_neg[slot] = j + 1


def add_weights(hi: np.ndarray, lo: np.ndarray, add_hi: np.ndarray, add_lo: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise exact 128-bit sums of (hi, lo) uint64 arrays."""
    new_lo = lo + add_lo
    return hi + add_hi + (new_lo < lo).astype(np.uint64), new_lo


def sum_weights(hi: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact 128-bit sums over axis 0 of (k, m) (hi, lo) uint64 arrays."""
    out_hi, out_lo = hi[0].copy(), lo[0].copy()
    for k in range(1, hi.shape[0]):
        out_hi, out_lo = add_weights(out_hi, out_lo, hi[k], lo[k])
    return out_hi, out_lo


@dataclass
class BucketTotals:
    """Per bucket: normal and anomalous pixel counts and the exact weight sum (hi, lo)."""

    neg: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.int64))
    pos: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.int64))
    w_hi: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.uint64))
    w_lo: np.ndarray = field(default_factory=lambda: np.zeros(N_BUCKETS, dtype=np.uint64))

    def add(self, other: BucketTotals, b_lo: int = 0) -> None:
        """Add `other`, whose arrays start at bucket b_lo."""
        part = slice(b_lo, b_lo + other.neg.shape[0])
        self.neg[part] += other.neg
        self.pos[part] += other.pos
        self.w_hi[part], self.w_lo[part] = add_weights(self.w_hi[part], self.w_lo[part],
                                                       other.w_hi, other.w_lo)


class Run:
    """One batch's pixels in bucket order: entries of buckets b_lo..b_hi.

    `neg_off[j]:neg_off[j+1]` are the normal entries of bucket b_lo + j (likewise
    `pos_off` for the anomalous entries and their areas). The arrays live in memory or,
    after `spill`, in a `SpillFile`.
    """

    def __init__(self, kind: int, b_lo: int, neg_off: np.ndarray, pos_off: np.ndarray,
                 arrays: dict[str, np.ndarray]) -> None:
        self.kind = kind
        self.b_lo = b_lo
        self.b_hi = b_lo + neg_off.shape[0] - 2
        self.neg_off = neg_off
        self.pos_off = pos_off
        self.arrays: dict[str, np.ndarray] | None = arrays
        self.file: SpillFile | None = None
        self.dtypes = {name: array.dtype for name, array in arrays.items()}

    @property
    def data_bytes(self) -> int:
        """Bytes of the entry arrays (in memory or on disk)."""
        return int(self.neg_off[-1]) * self.dtypes["neg"].itemsize + int(self.pos_off[-1]) * (
            self.dtypes["pos"].itemsize + self.dtypes["area"].itemsize)

    @property
    def held_bytes(self) -> int:
        """Bytes this run holds in memory."""
        return (self.neg_off.nbytes + self.pos_off.nbytes
                + (self.data_bytes if self.arrays is not None else 0))

    def spill(self, folder: str | Path | None) -> None:
        """Move the entry arrays to a temporary file."""
        if self.arrays is None:
            return
        self.file = SpillFile([self.arrays[name] for name in SECTIONS], folder)
        self.arrays = None

    def offsets(self, section: str) -> np.ndarray:
        return self.neg_off if section == "neg" else self.pos_off

    def bucket_span(self, section: str, first: int, last: int) -> tuple[int, int]:
        """Entry index range of buckets first..last (clipped to the run's range)."""
        off = self.offsets(section)
        lo = min(max(first - self.b_lo, 0), off.shape[0] - 1)
        hi = min(max(last + 1 - self.b_lo, 0), off.shape[0] - 1)
        return int(off[lo]), int(off[hi])

    def read(self, section: str, start: int, stop: int, out: np.ndarray | None = None,
             ) -> np.ndarray:
        """Entries start..stop of a section: a view when in memory, else read into `out`
        (or a new array)."""
        if self.arrays is not None:
            return self.arrays[section][start:stop]
        assert self.file is not None
        dtype = self.dtypes[section]
        if out is None:
            out = np.empty(stop - start, dtype=dtype)
        position = self.file.offsets[SECTIONS.index(section)] + start * dtype.itemsize
        self.file.read_into(position, out)
        return out

    def load(self) -> dict[str, np.ndarray]:
        """All entry arrays in memory (read back if spilled), e.g. for pickling."""
        if self.arrays is not None:
            return self.arrays
        return {name: self.read(name, 0, int(self.offsets(name)[-1])) for name in SECTIONS}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["arrays"] = self.load()
        state["file"] = None
        return state


def build_run(bits: np.ndarray, masks: np.ndarray, starts: np.ndarray, shapes: np.ndarray,
              anomalous: np.ndarray, counted: tuple[np.ndarray, np.ndarray, np.ndarray]
              | None = None) -> tuple[Run, BucketTotals, int]:
    """Counting-sort a batch of images (flat `bits`: float32 maps viewed as uint32 or
    float64 as uint64; flat uint8 0/1 `masks`; image i at starts[i]:starts[i+1] with
    shape shapes[i]) into a run. `counted`: pass 1 already done while staging, as
    (chunk image boundaries, per-chunk normal counts, per-chunk anomalous counts).
    Returns the run, its bucket totals (from its b_lo on) and its number of regions."""
    kind = 32 if bits.dtype == np.uint32 else 64
    if counted is None:  # one chunk of all the images
        chunk_starts = np.array([0, shapes.shape[0]], dtype=np.int64)
        hist_neg = np.zeros((1, N_BUCKETS), dtype=np.int64)
        hist_pos = np.zeros_like(hist_neg)
        count_pass(0, bits, masks, starts, chunk_starts, hist_neg, hist_pos)
    else:
        chunk_starts, hist_neg, hist_pos = counted
    n_chunks = chunk_starts.shape[0] - 1
    used = np.flatnonzero(hist_neg.sum(axis=0) + hist_pos.sum(axis=0))
    b_lo, b_hi = (int(used[0]), int(used[-1])) if used.size else (0, 0)
    hist_neg = hist_neg[:, b_lo:b_hi + 1]
    hist_pos = hist_pos[:, b_lo:b_hi + 1]
    neg_count, pos_count = hist_neg.sum(axis=0), hist_pos.sum(axis=0)
    neg_off = np.concatenate(([0], np.cumsum(neg_count))).astype(np.int64)
    pos_off = np.concatenate(([0], np.cumsum(pos_count))).astype(np.int64)
    neg_next = neg_off[None, :-1] + np.cumsum(hist_neg, axis=0) - hist_neg
    pos_next = pos_off[None, :-1] + np.cumsum(hist_pos, axis=0) - hist_pos
    entry = np.uint16 if kind == 32 else np.uint64
    arrays = {"neg": mapped_empty(int(neg_off[-1]), entry),
              "pos": mapped_empty(int(pos_off[-1]), entry),
              "area": mapped_empty(int(pos_off[-1]), np.uint32)}
    width = b_hi - b_lo + 1
    w_hi = np.zeros((n_chunks, width), dtype=np.uint64)
    w_lo = np.zeros((n_chunks, width), dtype=np.uint64)
    regions = np.zeros(n_chunks, dtype=np.int64)
    in_threads(scatter_pass, n_chunks, bits, masks, starts, shapes, anomalous, chunk_starts,
               b_lo, neg_next, pos_next, arrays["neg"], arrays["pos"], arrays["area"], w_hi,
               w_lo, regions)
    totals = BucketTotals(neg_count, pos_count, *sum_weights(w_hi, w_lo))
    return Run(kind, b_lo, neg_off, pos_off, arrays), totals, int(regions.sum())
