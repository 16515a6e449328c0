"""Pixel-level counts of one class in one ordering pass (numba, parallel).

float32 maps (the common case) take a radix path: every score is mapped to its
order-preserving 32-bit key; pass 1 histograms the keys' high 16 bits (separately for
normal and anomalous pixels, with the AUPRO weights), pass 2 scatters the low 16 bits
into their buckets (a parallel counting sort; anomalous pixels carry their region's
area), and each bucket is then resolved into distinct values with a 65536-entry count
table and walked by `curve.walk_distinct`, buckets in parallel. The kernels are plain
`nogil` numba functions run on a thread pool, one task per chunk of images or per
worker. No comparison sort, no float64 copy of the pixels, no pass per threshold.

Other maps (float64) take the generic path: `numpy.unique` on the values, then the same
walk. Image-level metrics use the generic path too (a few thousand values).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

from metrics.boundaries import normalised_cut_boundaries
from metrics.compat import ader_edges
from metrics.curve import walk_distinct
from metrics.regions import label_regions

N_BUCKETS = 1 << 16


class Accumulator:
    """Per-worker sums filled by `walk_distinct`, reduced by `merged`."""

    def __init__(self, n_workers: int, n_cuts: int, n_edges: int) -> None:
        self.ints = np.zeros((n_workers, 1), dtype=np.int64)
        self.floats = np.zeros((n_workers, 3), dtype=np.float64)
        self.floats[:, 1] = -1.0
        self.cut_counts = np.zeros((n_workers, 2, n_cuts + 1), dtype=np.int64)
        self.edge_counts = np.zeros((n_workers, 2, n_edges + 1), dtype=np.int64)
        self.edge_weights = np.zeros((n_workers, n_edges + 1), dtype=np.float64)

    def merged(self) -> dict[str, np.ndarray | int | float]:
        """The workers' sums added (F1-max: the maximum)."""
        return {
            "auc2": int(self.ints[:, 0].sum()),
            "ap_sum": float(self.floats[:, 0].sum()),
            "f1max": float(self.floats[:, 1].max()),
            "pro_area": float(self.floats[:, 2].sum()),
            "cut_counts": self.cut_counts.sum(axis=0),
            "edge_counts": self.edge_counts.sum(axis=0),
            "edge_weights": self.edge_weights.sum(axis=0),
        }


@njit(cache=True, nogil=True)
def _key(bits: np.uint32) -> np.uint32:
    """Order-preserving unsigned key of a float32 given by its bit pattern (-0.0 -> +0.0)."""
    if (bits & np.uint32(0x7FFFFFFF)) == 0:
        return np.uint32(0x80000000)
    if bits & np.uint32(0x80000000):
        return ~bits
    return bits | np.uint32(0x80000000)


def keys_to_values(keys: np.ndarray) -> np.ndarray:
    """Inverse of `_key` for an array of keys, as float64 (exact)."""
    keys = np.asarray(keys, dtype=np.uint32)
    bits = np.where(keys & np.uint32(0x80000000), keys ^ np.uint32(0x80000000), ~keys)
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


@njit(cache=True, nogil=True)
def _image_areas(mask: np.ndarray, labels: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Region areas of one mask (labels written into `labels`); [0] when no anomaly."""
    for val in mask.ravel():
        if val != 0:
            return label_regions(mask, labels, parent)
    return np.zeros(1, dtype=np.int64)


@njit(cache=True, nogil=True)
def histogram_pass(c, bits, masks, chunk_starts, hist_neg, hist_pos, image_max, chunk_stats):
    """Pass 1: per chunk of images, counts of the keys' high 16 bits (the buckets).

    `bits` is the float32 maps viewed as uint32. Also writes the per-image maximum key
    (the image scores) and per chunk [min key, max key, first image index with a
    non-finite value or -1].
    """
    h = bits.shape[1]
    w = bits.shape[2]
    counts_neg = hist_neg[c]
    counts_pos = hist_pos[c]
    lo = np.uint32(0xFFFFFFFF)
    hi = np.uint32(0)
    bad = -1
    for i in range(chunk_starts[c], chunk_starts[c + 1]):
        amap = bits[i]
        mask = masks[i]
        top = np.uint32(0)
        low = np.uint32(0xFFFFFFFF)
        for y in range(h):
            for x in range(w):
                raw = amap[y, x]
                if (raw & np.uint32(0x7F800000)) == np.uint32(0x7F800000) and bad < 0:
                    bad = i
                key = _key(raw)
                top = max(top, key)
                low = min(low, key)
                if mask[y, x] != 0:
                    counts_pos[key >> 16] += 1
                else:
                    counts_neg[key >> 16] += 1
        image_max[i] = top
        hi = max(hi, top)
        lo = min(lo, low)
    chunk_stats[c, 0] = lo
    chunk_stats[c, 1] = hi
    chunk_stats[c, 2] = bad


@njit(cache=True, nogil=True)
def scatter_pass(c, bits, masks, chunk_starts, neg_next, pos_next, neg_low, pos_low, pos_area,
                 chunk_regions):
    """Pass 2: write each pixel's low 16 key bits into its bucket's slice (counting sort).

    `neg_next[c, b]` / `pos_next[c, b]`: where chunk c writes its next normal / anomalous
    pixel of bucket b (advanced in place). Anomalous pixels carry the area of their
    8-connected region; `chunk_regions[c]` receives chunk c's number of regions.
    """
    h = bits.shape[1]
    w = bits.shape[2]
    labels = np.zeros((h, w), dtype=np.int32)
    parent = np.empty(h * w + 1, dtype=np.int32)
    for i in range(chunk_starts[c], chunk_starts[c + 1]):
        amap = bits[i]
        mask = masks[i]
        areas = _image_areas(mask, labels, parent)
        chunk_regions[c] += areas.shape[0] - 1
        for y in range(h):
            for x in range(w):
                key = _key(amap[y, x])
                b = key >> 16
                low = np.uint16(key & np.uint32(0xFFFF))
                if mask[y, x] != 0:
                    j = pos_next[c, b]
                    pos_low[j] = low
                    pos_area[j] = areas[labels[y, x]]
                    pos_next[c, b] = j + 1
                else:
                    j = neg_next[c, b]
                    neg_low[j] = low
                    neg_next[c, b] = j + 1


@njit(cache=True, nogil=True)
def bucket_weights(pos_start, pos_count, pos_area):
    """Per bucket, the sum of 1/area over its anomalous pixels (AUPRO's W); serial: it
    reads only the anomalous pixels, and a parallel kernel costs seconds to compile."""
    out = np.zeros(pos_start.shape[0], dtype=np.float64)
    for b in range(pos_start.shape[0]):
        total = 0.0
        for t in range(pos_start[b], pos_start[b] + pos_count[b]):
            total += 1.0 / pos_area[t]
        out[b] = total
    return out


@njit(cache=True, nogil=True)
def walk_buckets(k, buckets, neg_start, neg_count, pos_start, pos_count, starts, neg_low,
                 pos_low, pos_area, totals, cut_values, edges, ints, floats, cut_counts,
                 edge_counts, edge_weights):
    """Resolve each occupied bucket into distinct values and walk it; buckets in parallel.

    `buckets` is in descending order; `starts[j]` = (TP, FP, W) above bucket j. Worker k
    takes buckets k, k + K, ... and its own accumulator row.
    """
    n_workers = ints.shape[0]
    table_neg = np.zeros(N_BUCKETS, dtype=np.int64)
    table_pos = np.zeros(N_BUCKETS, dtype=np.int64)
    table_w = np.zeros(N_BUCKETS, dtype=np.float64)
    blocks = np.zeros(N_BUCKETS >> 8, dtype=np.bool_)
    values = np.empty(N_BUCKETS, dtype=np.float64)
    raw = np.empty(N_BUCKETS, dtype=np.uint32)
    raw_as_float = raw.view(np.float32)
    neg = np.empty(N_BUCKETS, dtype=np.int64)
    pos = np.empty(N_BUCKETS, dtype=np.int64)
    wsum = np.empty(N_BUCKETS, dtype=np.float64)
    for j in range(k, buckets.shape[0], n_workers):
        b = buckets[j]
        for t in range(neg_start[b], neg_start[b] + neg_count[b]):
            low = neg_low[t]
            table_neg[low] += 1
            blocks[low >> 8] = True
        for t in range(pos_start[b], pos_start[b] + pos_count[b]):
            low = pos_low[t]
            table_pos[low] += 1
            table_w[low] += 1.0 / pos_area[t]
            blocks[low >> 8] = True
        # distinct low bits in descending order: scan the touched 256-entry blocks
        high = np.uint32(b) << 16
        n_touched = 0
        for block in range(blocks.shape[0] - 1, -1, -1):
            if not blocks[block]:
                continue
            blocks[block] = False
            for low in range(block * 256 + 255, block * 256 - 1, -1):
                if table_neg[low] == 0 and table_pos[low] == 0:
                    continue
                key = high | np.uint32(low)
                if key & np.uint32(0x80000000):
                    raw[n_touched] = key ^ np.uint32(0x80000000)
                else:
                    raw[n_touched] = ~key
                values[n_touched] = raw_as_float[n_touched]
                neg[n_touched] = table_neg[low]
                pos[n_touched] = table_pos[low]
                wsum[n_touched] = table_w[low]
                table_neg[low] = 0
                table_pos[low] = 0
                table_w[low] = 0.0
                n_touched += 1
        walk_distinct(values, neg, pos, wsum, n_touched, starts[j], totals, cut_values,
                      edges, ints[k], floats[k], cut_counts[k], edge_counts[k],
                      edge_weights[k])


def _in_threads(kernel, n_tasks: int, *args) -> None:
    """Run kernel(i, *args) for i < n_tasks on a thread pool (the kernels release the
    GIL). Plain nogil kernels compile in a fraction of the time `parallel=True` takes."""
    with ThreadPoolExecutor(max_workers=n_threads()) as pool:
        list(pool.map(lambda i: kernel(i, *args), range(n_tasks)))


def n_threads() -> int:
    """Threads for the kernels: NUMBA_NUM_THREADS (default: the number of cores)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def _chunk_starts(n_images: int, n_chunks: int) -> np.ndarray:
    return np.linspace(0, n_images, min(n_chunks, max(n_images, 1)) + 1).astype(np.int64)


def walk_float32(maps: np.ndarray, masks: np.ndarray, cuts: np.ndarray,
                 ) -> tuple[dict, np.ndarray, tuple[int, int, int]] | int:
    """The radix path for float32 maps (n, H, W) and uint8 masks (n, H, W).

    Returns (merged accumulator, image maxima, (P, N, R)), or the index of the first
    image holding a NaN/inf value.
    """
    n_workers = n_threads()
    starts_c = _chunk_starts(maps.shape[0], 4 * n_workers)
    n_chunks = starts_c.shape[0] - 1
    hist_neg = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
    hist_pos = np.zeros((n_chunks, N_BUCKETS), dtype=np.int64)
    image_max = np.empty(maps.shape[0], dtype=np.uint32)
    stats = np.zeros((n_chunks, 3), dtype=np.int64)
    bits = maps.view(np.uint32)
    _in_threads(histogram_pass, n_chunks, bits, masks, starts_c, hist_neg, hist_pos,
                image_max, stats)
    bad = stats[:, 2][stats[:, 2] >= 0]
    if bad.size:
        return int(bad.min())
    neg_count = hist_neg.sum(axis=0)
    pos_count = hist_pos.sum(axis=0)
    neg_start = np.concatenate(([0], np.cumsum(neg_count)[:-1]))
    pos_start = np.concatenate(([0], np.cumsum(pos_count)[:-1]))
    neg_next = neg_start[None, :] + np.cumsum(hist_neg, axis=0) - hist_neg
    pos_next = pos_start[None, :] + np.cumsum(hist_pos, axis=0) - hist_pos
    del hist_neg, hist_pos
    n_neg = int(neg_count.sum())
    n_pos = int(pos_count.sum())
    neg_low = np.empty(n_neg, dtype=np.uint16)
    pos_low = np.empty(n_pos, dtype=np.uint16)
    pos_area = np.empty(n_pos, dtype=np.uint32)
    chunk_regions = np.zeros(n_chunks, dtype=np.int64)
    _in_threads(scatter_pass, n_chunks, bits, masks, starts_c, neg_next, pos_next, neg_low,
                pos_low, pos_area, chunk_regions)
    w_count = bucket_weights(pos_start, pos_count, pos_area)
    buckets = np.flatnonzero(neg_count + pos_count)[::-1].copy()
    above = np.zeros((buckets.shape[0], 3), dtype=np.float64)
    above[1:, 0] = np.cumsum(pos_count[buckets])[:-1]
    above[1:, 1] = np.cumsum(neg_count[buckets])[:-1]
    above[1:, 2] = np.cumsum(w_count[buckets])[:-1]
    regions = int(chunk_regions.sum())
    totals = np.array([n_pos, n_neg, regions], dtype=np.float64)
    norm = keys_to_values([stats[:, 0].min(), stats[:, 1].max()])
    edges = ader_edges(norm[0], norm[1])
    acc = Accumulator(n_workers, cuts.shape[0], edges.shape[0])
    cut_values = normalised_cut_boundaries(cuts, norm[0], norm[1])
    _in_threads(walk_buckets, n_workers, buckets, neg_start, neg_count, pos_start, pos_count,
                above, neg_low, pos_low, pos_area, totals, cut_values, edges, acc.ints,
                acc.floats, acc.cut_counts, acc.edge_counts, acc.edge_weights)
    return (dict(acc.merged(), span=norm[1] - norm[0]), keys_to_values(image_max),
            (n_pos, n_neg, regions))


def pixel_weights(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Per pixel 1/area of its 8-connected region (0 for normal pixels), and the region
    count, for the generic path."""
    h, w = masks.shape[1:]
    weights = np.zeros(masks.shape, dtype=np.float64)
    labels = np.zeros((h, w), dtype=np.int32)
    parent = np.empty(h * w + 1, dtype=np.int32)
    regions = 0
    for i in range(masks.shape[0]):
        areas = _image_areas(masks[i], labels, parent)
        regions += areas.shape[0] - 1
        inv = np.zeros(areas.shape[0], dtype=np.float64)
        inv[1:] = 1.0 / areas[1:]
        weights[i] = inv[labels] if areas.shape[0] > 1 else 0.0
    return weights, regions


def walk_generic(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, regions: int,
                 cuts: np.ndarray) -> tuple[dict, tuple[int, int, int]]:
    """Any finite scores (flattened), boolean labels, per-element AUPRO weights."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    weights = np.asarray(weights, dtype=np.float64).ravel()
    values, inverse = np.unique(scores, return_inverse=True)
    n_values = values.shape[0]
    pos = np.bincount(inverse, weights=labels, minlength=n_values).astype(np.int64)
    total = np.bincount(inverse, minlength=n_values).astype(np.int64)
    wsum = np.bincount(inverse, weights=weights, minlength=n_values)
    n_pos = int(labels.sum())
    n_neg = labels.shape[0] - n_pos
    totals = np.array([n_pos, n_neg, regions], dtype=np.float64)
    norm = np.array([values[0], values[-1]] if n_values else [0.0, 0.0], dtype=np.float64)
    edges = ader_edges(norm[0], norm[1])
    acc = Accumulator(1, cuts.shape[0], edges.shape[0])
    cut_values = normalised_cut_boundaries(cuts, norm[0], norm[1])
    walk_distinct(values[::-1].copy(), (total - pos)[::-1].copy(), pos[::-1].copy(),
                  wsum[::-1].copy(), n_values, np.zeros(3), totals, cut_values, edges,
                  acc.ints[0], acc.floats[0], acc.cut_counts[0], acc.edge_counts[0],
                  acc.edge_weights[0])
    return dict(acc.merged(), span=norm[1] - norm[0]), (n_pos, n_neg, regions)
