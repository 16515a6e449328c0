"""The pixel engine: from a class's runs to the walk's exact sums, within a memory bound.

Buckets are taken from the top in groups whose entries fit `group_bytes`: each run's
slice of the group's buckets is copied (or read back from its spill file: one contiguous
read per run and section) into one group buffer, and the group's buckets are resolved
and walked by `n_threads()` workers, each from the bucket's known start (TP, FP and the
exact weight above it, from the per-bucket totals). A bucket too large for a group is
streamed through one table (float32) or walked in key ranges (float64; the one case
that reads a bucket's data more than once). The buckets' floating partial sums are
added with `math.fsum` (correctly rounded, so in no particular order), integer sums are
exact: the result depends only on the class's (value, label, area) multiset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numba import njit

from metrics.fixedpoint import add128, as_int
from metrics.kernel_lists import kernel_list
from metrics.memory import mapped_empty
from metrics.orderkeys import N_BUCKETS, keys_of
from metrics.resolve import (
    BUCKET_FIELDS,
    accumulate32,
    close_bucket,
    collect_range64,
    key_weight64,
    new_distinct,
    new_tables,
    open_bucket,
    range_histogram64,
    resolve32,
    resolve64,
    sort_entries64,
    walk_keys64,
    walk_sorted64,
    walk_table32,
    widen32,
)
from metrics.runs import BucketTotals, Run
from metrics.threads import in_threads, n_threads
from metrics.walk import (
    AP,
    AUC_HI,
    AUC_LO,
    F1,
    F1_FP,
    F1_TP,
    F1_VALUE,
    POINT_FIELDS,
    new_state,
    walk_values,
)

# group buffer bytes per (normal, anomalous) entry, by the class's key kind
ENTRY_BYTES = {32: (2, 6), 64: (8, 12)}
SMALL_GROUP = 1 << 16  # entries below which one worker walks the group


@dataclass
class PixelData:
    """What the engine needs of a class: its runs, per-bucket totals, key kind (32:
    every map float32; 64: some map float64), region count and score range."""

    runs: list[Run]
    totals: BucketTotals
    kind: int
    regions: int
    lo: float
    hi: float


@dataclass
class PixelWalk:
    """The walk's sums over a class's pixels (see `metrics.walk` for the definitions).

    iv_neg / iv_pos / iv_w: counts and exact weight sums (2**-83 units, Python ints)
    per interval of `bounds`: interval k holds the scores with exactly k bounds <= score.
    points (optional): rows (value, TP, FP, W as float), values descending.
    """

    n_pos: int
    n_neg: int
    n_regions: int
    lo: float
    hi: float
    kind: int
    auc2: int
    ap_sum: float
    pro_area: float
    f1: float
    f1_value: float
    f1_tp: int
    f1_fp: int
    f1_w: float
    bounds: np.ndarray
    iv_neg: np.ndarray
    iv_pos: np.ndarray
    iv_w: list[int]
    points: np.ndarray | None

    def at_or_above(self, bound: float) -> tuple[int, int, int]:
        """(normal, anomalous, weight) counts of scores >= bound, a member of `bounds`."""
        index = int(np.searchsorted(self.bounds, bound, side="left"))
        if index == self.bounds.shape[0] or self.bounds[index] != bound:
            raise ValueError(f"{bound!r} is not one of the walk's bounds")
        return (int(self.iv_neg[index + 1:].sum()), int(self.iv_pos[index + 1:].sum()),
                sum(self.iv_w[index + 1:]))


def bound_keys(bounds: np.ndarray, kind: int) -> np.ndarray:
    """The order keys of the bounds (ascending) in the class's key kind: for float32
    scores the key of the smallest float32 >= bound, so v >= bound iff key(v) >= it."""
    if kind == 64:
        return keys_of(bounds.astype(np.float64))
    with np.errstate(over="ignore"):
        values = bounds.astype(np.float32)
    below = values.astype(np.float64) < bounds
    values[below] = np.nextafter(values[below], np.float32(np.inf))
    return keys_of(values)


@njit(cache=True, nogil=True)
def bucket_starts(neg, pos, w_hi, w_lo, start_counts, start_w):
    """Per bucket: TP, FP and the weight (hi, lo) of all higher buckets."""
    tp = 0
    fp = 0
    hi = np.uint64(0)
    lo = np.uint64(0)
    for b in range(neg.shape[0] - 1, -1, -1):
        start_counts[b, 0] = tp
        start_counts[b, 1] = fp
        start_w[b, 0] = hi
        start_w[b, 1] = lo
        tp += pos[b]
        fp += neg[b]
        hi, lo = add128(hi, lo, w_hi[b], w_lo[b])


class _Workers:
    """Per-worker accumulators, kept over all groups of one walk."""

    def __init__(self, n: int, n_bounds: int) -> None:
        self.acc = [np.zeros(2, dtype=np.uint64) for _ in range(n)]
        size = n_bounds + 1
        self.iv = [(np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64),
                    np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.uint64))
                   for _ in range(n)]

    def intervals(self) -> tuple[np.ndarray, np.ndarray, list[int]]:
        neg = sum(iv[0] for iv in self.iv)
        pos = sum(iv[1] for iv in self.iv)
        weights = [sum(as_int(iv[2][k], iv[3][k]) for iv in self.iv)
                   for k in range(self.iv[0][0].shape[0])]
        return np.asarray(neg), np.asarray(pos), weights


def _groups(order: np.ndarray, sizes: np.ndarray, group_bytes: int, big_bytes: int,
            ) -> Iterator[tuple[int, int, bool]]:
    """Contiguous bucket ranges (first, last, oversized) from the top, each within
    group_bytes; a bucket over big_bytes alone and flagged."""
    first = last = -1
    held = 0
    for bucket in order:  # descending
        size = int(sizes[bucket])
        if size > big_bytes:
            if last >= 0:
                yield first, last, False
                first = last = -1
                held = 0
            yield int(bucket), int(bucket), True
            continue
        if last >= 0 and held + size > group_bytes:
            yield first, last, False
            first = last = -1
            held = 0
        if last < 0:
            last = int(bucket)
        first = int(bucket)
        held += size
    if last >= 0:
        yield first, last, False


def _worker_ranges(sizes: np.ndarray, first: int, last: int, n_workers: int,
                   ) -> list[tuple[int, int]]:
    """Split buckets first..last into <= n_workers contiguous ranges of similar size,
    the highest range first."""
    part = sizes[first:last + 1]
    total = int(part.sum())
    if n_workers == 1 or total < SMALL_GROUP:
        return [(first, last)]
    cum = np.cumsum(part[::-1])  # from the top down
    cuts = np.searchsorted(cum, total * np.arange(1, n_workers) / n_workers, side="left")
    ranges = []
    top = last
    for cut in [*cuts.tolist(), last - first]:
        bottom = last - cut
        if bottom <= top and bottom >= first:
            ranges.append((bottom, top))
            top = bottom - 1
    if top >= first:
        ranges.append((first, top))
    return ranges


def _local_offsets(run: Run, section: str, first: int, last: int) -> np.ndarray:
    """The run's entry offsets of buckets first..last+1 (clipped to its range)."""
    off = run.offsets(section)
    index = np.clip(np.arange(first, last + 2) - run.b_lo, 0, off.shape[0] - 1)
    return off[index]


class _Sources:
    """A group's entries per run, as typed lists for the kernels: an in-memory run of the
    class's key kind by reference; a spilled run read back (one contiguous read per
    section) and a float32 run of a float64 class widened, into reusable buffers."""

    def __init__(self, data: PixelData, capacity: tuple[int, int]) -> None:
        entry = np.uint16 if data.kind == 32 else np.uint64
        self.data = data
        self.neg = mapped_empty(capacity[0], entry)
        self.pos = mapped_empty(capacity[1], entry)
        self.area = mapped_empty(capacity[1], np.uint32)

    def group(self, first: int, last: int) -> tuple:
        runs = self.data.runs
        neg_off = np.zeros((len(runs), last - first + 2), dtype=np.int64)
        pos_off = np.zeros_like(neg_off)
        negs: list[np.ndarray] = []
        poss: list[np.ndarray] = []
        areas: list[np.ndarray] = []
        at_neg = at_pos = 0
        for r, run in enumerate(runs):
            local_neg = _local_offsets(run, "neg", first, last)
            local_pos = _local_offsets(run, "pos", first, last)
            if run.kind == self.data.kind and run.arrays is not None:
                neg_off[r], pos_off[r] = local_neg, local_pos
                negs.append(run.arrays["neg"])
                poss.append(run.arrays["pos"])
                areas.append(run.arrays["area"])
                continue
            n_neg = int(local_neg[-1] - local_neg[0])
            n_pos = int(local_pos[-1] - local_pos[0])
            neg_off[r], pos_off[r] = local_neg - local_neg[0], local_pos - local_pos[0]
            neg = self.neg[at_neg:at_neg + n_neg]
            pos = self.pos[at_pos:at_pos + n_pos]
            area = run.read("area", int(local_pos[0]), int(local_pos[-1]), out=(
                None if run.arrays is not None else self.area[at_pos:at_pos + n_pos]))
            if run.kind == self.data.kind:
                run.read("neg", int(local_neg[0]), int(local_neg[-1]), out=neg)
                run.read("pos", int(local_pos[0]), int(local_pos[-1]), out=pos)
            else:  # float32 entries in a float64 class: widened to float64 keys
                widen32(first, neg_off[r], pos_off[r],
                        run.read("neg", int(local_neg[0]), int(local_neg[-1])),
                        run.read("pos", int(local_pos[0]), int(local_pos[-1])), neg, pos)
            negs.append(neg)
            poss.append(pos)
            areas.append(area)
            at_neg += n_neg
            at_pos += n_pos
        return (neg_off, pos_off, kernel_list(negs), kernel_list(poss),
                kernel_list(areas))


def _chunks(data: PixelData, bucket: int, section: str, max_entries: int,
            ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A bucket's entries of one section ("neg" or "pos") from every run, at most
    max_entries at a time: (entries in the class's key kind, areas or an empty array)."""
    empty_area = np.empty(0, dtype=np.uint32)
    for run in data.runs:
        start, stop = run.bucket_span(section, bucket, bucket)
        for at in range(start, stop, max_entries):
            end = min(stop, at + max_entries)
            entries = run.read(section, at, end)
            area = run.read("area", at, end) if section == "pos" else empty_area
            if run.kind != data.kind:
                wide = np.empty(end - at, dtype=np.uint64)
                offsets = np.array([0, end - at], dtype=np.int64)
                none = np.zeros(2, dtype=np.int64)
                if section == "neg":
                    widen32(bucket, offsets, none, entries, entries[:0], wide, wide[:0])
                else:
                    widen32(bucket, none, offsets, entries[:0], entries, wide[:0], wide)
                entries = wide
            yield entries, area


class PixelWalker:
    """Walks one class's pixels (see the module docstring)."""

    def __init__(self, data: PixelData, bounds: np.ndarray, limit: float, grid: float,
                 group_bytes: int) -> None:
        self.data = data
        self.bounds = np.ascontiguousarray(bounds, dtype=np.float64)
        self.bound_keys = bound_keys(self.bounds, data.kind)
        self.limit = float(limit)
        self.grid = float(grid)
        totals = data.totals
        self.n_pos = int(totals.pos.sum())
        self.n_neg = int(totals.neg.sum())
        self.totals = np.array([self.n_pos, self.n_neg, data.regions], dtype=np.float64)
        self.start_counts = np.zeros((N_BUCKETS, 2), dtype=np.int64)
        self.start_w = np.zeros((N_BUCKETS, 2), dtype=np.uint64)
        bucket_starts(totals.neg, totals.pos, totals.w_hi, totals.w_lo, self.start_counts,
                      self.start_w)
        neg_bytes, pos_bytes = ENTRY_BYTES[data.kind]
        self.sizes = totals.neg * neg_bytes + totals.pos * pos_bytes
        # entries that must be copied to be walked: spilled runs, float32 runs widened
        self.copied_neg = np.zeros(N_BUCKETS, dtype=np.int64)
        self.copied_pos = np.zeros(N_BUCKETS, dtype=np.int64)
        for run in data.runs:
            if run.arrays is None or run.kind != data.kind:
                self.copied_neg[run.b_lo:run.b_hi + 1] += np.diff(run.neg_off)
                self.copied_pos[run.b_lo:run.b_hi + 1] += np.diff(run.pos_off)
        self.copied = self.copied_neg * neg_bytes + self.copied_pos * pos_bytes
        self.group_bytes = max(int(group_bytes), 1 << 16)
        self.n_workers = n_threads()
        # float64 buckets are sorted by every worker at once: keep each one smaller
        self.sort_bytes = self.group_bytes // (3 * self.n_workers)
        self.bucket_out = np.zeros((N_BUCKETS, BUCKET_FIELDS), dtype=np.float64)
        self.bucket_out[:, 2] = -1.0
        self.workers = _Workers(self.n_workers, self.bounds.shape[0])
        self.points: list[np.ndarray] = []

    def _args(self) -> tuple:
        return (self.start_counts, self.start_w, self.totals, self.limit, self.bounds,
                self.bound_keys, self.grid, self.bucket_out)

    def _new_points(self) -> np.ndarray:
        return np.empty((16 if self.grid != 0 else 0, POINT_FIELDS), dtype=np.float64)

    def walk(self) -> PixelWalk:
        order = np.flatnonzero(self.data.totals.neg + self.data.totals.pos)[::-1]
        # too many copied entries for a group, or (float64) too many to sort at once
        big = (self.copied > self.group_bytes) | (
            (self.data.kind == 64) & (self.sizes > self.sort_bytes))
        groups = list(_groups(order, np.where(big, self.group_bytes + 1, self.copied),
                              self.group_bytes, self.group_bytes))
        capacity = (0, 0)
        for first, last, is_big in groups:
            if not is_big:
                capacity = (max(capacity[0], int(self.copied_neg[first:last + 1].sum())),
                            max(capacity[1], int(self.copied_pos[first:last + 1].sum())))
        sources = _Sources(self.data, capacity)
        for first, last, is_big in groups:
            if not is_big:
                self._walk_group(sources, first, last)
            elif self.data.kind == 32:
                self._walk_big32(first)
            else:
                self._walk_big64(first)
        del sources
        return self._result()

    def _walk_group(self, sources: _Sources, first: int, last: int) -> None:
        neg_off, pos_off, negs, poss, areas = sources.group(first, last)
        ranges = _worker_ranges(self.sizes, first, last, self.n_workers)
        kernel = resolve32 if self.data.kind == 32 else resolve64
        start_counts, start_w, totals, limit, bounds, bound_keys, grid, bucket_out = self._args()

        def work(w: int) -> np.ndarray:
            lo, hi = ranges[w]
            points, n = kernel(lo, hi, first, neg_off, pos_off, negs, poss, areas,
                               start_counts, start_w, totals, limit, bounds, bound_keys, grid,
                               bucket_out, self.workers.acc[w], *self.workers.iv[w],
                               self._new_points())
            return points[:n]

        self.points += in_threads(work, len(ranges))

    def _walk_big32(self, bucket: int) -> None:
        tables = new_tables()
        max_entries = max(self.group_bytes // 8, 1 << 16)
        for section in ("neg", "pos"):
            for entries, area in _chunks(self.data, bucket, section, max_entries):
                if section == "neg":
                    accumulate32(entries, entries[:0], area, *tables)
                else:
                    accumulate32(entries[:0], entries, area, *tables)
        start_counts, start_w, totals, limit, bounds, bound_keys, grid, bucket_out = self._args()
        iv_neg, iv_pos, iv_whi, iv_wlo = self.workers.iv[0]
        points, n = walk_table32(bucket, tables, new_distinct(1 << 16), start_counts, start_w,
                                 totals, limit, bounds, bound_keys, grid, bucket_out,
                                 self.workers.acc[0], iv_neg, iv_pos, iv_whi, iv_wlo,
                                 self._new_points(), 0)
        self.points.append(points[:n])

    def _walk_big64(self, bucket: int) -> None:
        max_entries = max(self.sort_bytes // 24, 1 << 12)
        key_range = [np.uint64(np.iinfo(np.uint64).max), np.uint64(0)]
        for section in ("neg", "pos"):
            for entries, _ in _chunks(self.data, bucket, section, max_entries):
                if entries.size:
                    key_range = [min(key_range[0], entries.min()), max(key_range[1], entries.max())]
        pieces = self._pieces(bucket, int(key_range[0]), int(key_range[1]), max_entries)
        ints, words, floats = new_state()
        start_counts, start_w, totals, limit, bounds, bound_keys, grid, bucket_out = self._args()
        open_bucket(bucket, ints, words, floats, start_counts, start_w, totals)
        iv = self.workers.iv[0]
        run = np.zeros(3, dtype=np.uint64)  # merged keys carried from piece to piece
        for index, (key_lo, key_hi, n_neg, n_pos) in enumerate(pieces):
            final = index == len(pieces) - 1
            if key_lo == key_hi and n_neg + n_pos > max_entries:  # counted, not collected
                weight = np.zeros(2, dtype=np.uint64)
                for entries, area in _chunks(self.data, bucket, "pos", max_entries):
                    key_weight64(entries, area, np.uint64(key_lo), weight)
                points, n = walk_keys64(
                    np.array([key_lo], dtype=np.uint64), np.array([n_neg]), np.array([n_pos]),
                    weight[:1], weight[1:], 1, run, new_distinct(4), ints, words, floats,
                    totals, limit, bounds, bound_keys, grid, *iv, self._new_points(), 0, final)
            else:
                found = {}
                for section, size in (("neg", n_neg), ("pos", n_pos)):
                    keys = np.empty(size, dtype=np.uint64)
                    areas = np.empty(size if section == "pos" else 0, dtype=np.uint32)
                    count = 0
                    for entries, area in _chunks(self.data, bucket, section, max_entries):
                        count = collect_range64(entries, area, np.uint64(key_lo),
                                                np.uint64(key_hi), keys, areas, count)
                    found[section] = (keys, areas)
                sort_entries64(found["neg"][0], found["pos"][0], found["pos"][1])
                points, n = walk_sorted64(found["neg"][0], found["pos"][0], found["pos"][1],
                                          run, ints, words, floats, totals, limit, bounds,
                                          bound_keys, grid, *iv, self._new_points(), 0, final)
            self.points.append(points[:n])
        close_bucket(bucket, ints, words, floats, bucket_out, self.workers.acc[0])

    def _pieces(self, bucket: int, key_lo: int, key_hi: int, max_entries: int,
                ) -> list[tuple[int, int, int, int]]:
        """Key ranges of a bucket, highest first, each holding <= max_entries entries
        (or a single key): (key_lo, key_hi, normal count, anomalous count). One read of
        the bucket counts 4096 equal key ranges; a range holding too much is split the
        same way (another read), down to single keys."""
        shift = max(0, (key_hi - key_lo).bit_length() - 12)
        slots = ((key_hi - key_lo) >> shift) + 1
        hist = {}
        for section in ("neg", "pos"):
            hist[section] = np.zeros(slots, dtype=np.int64)
            for entries, _ in _chunks(self.data, bucket, section, max_entries):
                range_histogram64(entries, np.uint64(key_lo), np.uint64(shift), hist[section])
        pieces: list[tuple[int, int, int, int]] = []
        held_neg = held_pos = 0
        top = key_hi  # the highest key of the piece being gathered
        for slot in range(slots - 1, -1, -1):
            slot_lo = key_lo + (slot << shift)
            slot_hi = min(key_hi, slot_lo + (1 << shift) - 1)
            size = int(hist["neg"][slot] + hist["pos"][slot])
            if held_neg + held_pos and held_neg + held_pos + size > max_entries:
                pieces.append((slot_hi + 1, top, held_neg, held_pos))
                held_neg = held_pos = 0
                top = slot_hi
            if size > max_entries and shift > 0:
                pieces += self._pieces(bucket, slot_lo, slot_hi, max_entries)
                top = slot_lo - 1
                continue
            held_neg += int(hist["neg"][slot])
            held_pos += int(hist["pos"][slot])
        if held_neg + held_pos:
            pieces.append((key_lo, top, held_neg, held_pos))
        return pieces

    def _result(self) -> PixelWalk:
        out = self.bucket_out
        used = np.flatnonzero(self.data.totals.neg + self.data.totals.pos)[::-1]
        f1_rows = out[used]
        best = int(np.argmax(f1_rows[:, 2])) if used.size else 0  # first (highest) of ties
        f1_row = f1_rows[best] if used.size else np.array([-1.0, math.inf, 0, 0, 0, 0, 0])
        iv_neg, iv_pos, iv_w = self.workers.intervals()
        points = np.concatenate(self.points) if self.grid != 0 and self.points else None
        return PixelWalk(
            n_pos=self.n_pos, n_neg=self.n_neg, n_regions=self.data.regions,
            lo=self.data.lo, hi=self.data.hi, kind=self.data.kind,
            auc2=sum(as_int(acc[0], acc[1]) for acc in self.workers.acc),
            ap_sum=math.fsum(out[used, 0]), pro_area=math.fsum(out[used, 1]),
            f1=float(f1_row[2]), f1_value=float(f1_row[3]), f1_tp=int(f1_row[4]),
            f1_fp=int(f1_row[5]), f1_w=float(f1_row[6]), bounds=self.bounds,
            iv_neg=iv_neg, iv_pos=iv_pos, iv_w=iv_w,
            points=points if points is not None else (
                np.empty((0, POINT_FIELDS)) if self.grid != 0 else None))


def walk_pixels(data: PixelData, bounds: np.ndarray, limit: float, grid: float,
                group_bytes: int) -> PixelWalk:
    """Walk a class's pixels: every sum of `metrics.walk` over its distinct scores."""
    return PixelWalker(data, bounds, limit, grid, group_bytes).walk()


@dataclass
class ScoreWalk:
    """The walk's sums over a small set of scores (image level): see `PixelWalk`."""

    auc2: int
    ap_sum: float
    f1: float
    f1_value: float
    f1_tp: int
    f1_fp: int
    points: np.ndarray | None


def walk_scores(scores: np.ndarray, labels: np.ndarray, grid: float = 0.0) -> ScoreWalk:
    """The walk over a small set of scores (image level: no regions, no buckets, one
    sequence of distinct values)."""
    values, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    labels = np.asarray(labels, dtype=bool)
    pos = np.bincount(inverse, weights=labels, minlength=values.shape[0]).astype(np.int64)
    total = np.bincount(inverse, minlength=values.shape[0]).astype(np.int64)
    n_pos = int(labels.sum())
    totals = np.array([n_pos, labels.shape[0] - n_pos, 0], dtype=np.float64)
    ints, words, floats = new_state()
    points = np.empty((values.shape[0] if grid != 0 else 0, POINT_FIELDS))
    zeros = np.zeros(values.shape[0], dtype=np.uint64)
    iv = (np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
          np.zeros(1, dtype=np.uint64), np.zeros(1, dtype=np.uint64))
    n_points = walk_values(values[::-1].copy(), (total - pos)[::-1].copy(), pos[::-1].copy(),
                           zeros, zeros, values.shape[0], ints, words, floats, totals, 0.0,
                           np.empty(0, dtype=np.float64), *iv, float(grid), points, 0)
    return ScoreWalk(as_int(words[AUC_HI], words[AUC_LO]), float(floats[AP]),
                     float(floats[F1]), float(floats[F1_VALUE]), int(ints[F1_TP]),
                     int(ints[F1_FP]), points[:n_points] if grid != 0 else None)
