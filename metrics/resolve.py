"""Resolving buckets into distinct values and walking them (numba kernels).

float32 classes: a bucket's entries (low 16 key bits) are counted into a 65536-entry
table (normal and anomalous counts, exact 128-bit weights), then read back in descending
order, touched 256-entry blocks only: no comparison sort. float64 classes (or float32
entries widened to float64 keys): a bucket's keys are sorted and merged. Either way the
distinct values go to `walk.walk_values` from the bucket's known start, and the bucket's
partial sums land in `bucket_out[b]` (see `metrics.engine`).

A worker kernel takes buckets `first..last` of a group, highest first. A group is a
typed list of entry arrays per source (a run's own arrays, or a buffer its spilled or
widened entries were read into); `neg_off[r, j]` is where source r's normal entries of
bucket g_lo + j start in negs[r] (likewise `pos_off` in poss[r] and areas[r]).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from metrics.fixedpoint import add128, area_weight
from metrics.orderkeys import key64, value_of_key32, value_of_key64
from metrics.walk import (
    AP,
    AUC_HI,
    AUC_LO,
    F1,
    F1_FP,
    F1_TP,
    F1_VALUE,
    F1_W,
    N_FLOATS,
    N_INTS,
    N_WORDS,
    POINT_FIELDS,
    PRO,
    start_state,
    walk_values,
)

TABLE = 1 << 16
CHUNK = 4096  # distinct values handed to the walk at a time (float64 path)
BUCKET_FIELDS = 7  # ap, pro, f1, f1 value, f1 TP, f1 FP, f1 W


@njit(cache=True, nogil=True)
def _scratch():
    u32 = np.zeros(1, dtype=np.uint32)
    u64 = np.zeros(1, dtype=np.uint64)
    return u32, u32.view(np.float32), u64, u64.view(np.float64)


@njit(cache=True, nogil=True)
def new_tables():
    """Count tables of one worker: normal, anomalous, weight hi / lo, touched blocks."""
    return (np.zeros(TABLE, dtype=np.int64), np.zeros(TABLE, dtype=np.int64),
            np.zeros(TABLE, dtype=np.uint64), np.zeros(TABLE, dtype=np.uint64),
            np.zeros(TABLE >> 8, dtype=np.bool_))


@njit(cache=True, nogil=True)
def accumulate32(neg, pos, area, t_neg, t_pos, t_whi, t_wlo, blocks):
    """Add float32 entries (low key bits; anomalous ones with region areas) to the tables."""
    for t in range(neg.shape[0]):
        low = neg[t]
        t_neg[low] += 1
        blocks[low >> 8] = True
    last_area = np.uint32(0)
    w_hi = np.uint64(0)
    w_lo = np.uint64(0)
    for t in range(pos.shape[0]):
        low = pos[t]
        if area[t] != last_area:
            last_area = area[t]
            w_hi, w_lo = area_weight(np.int64(last_area))
        t_pos[low] += 1
        t_whi[low], t_wlo[low] = add128(t_whi[low], t_wlo[low], w_hi, w_lo)
        blocks[low >> 8] = True


@njit(cache=True, nogil=True)
def extract32(bucket, t_neg, t_pos, t_whi, t_wlo, blocks, values, neg, pos, w_hi, w_lo):
    """Move the tables' entries to arrays, values descending; clears the tables.
    Returns the number of distinct values."""
    u32, f32, _, _ = _scratch()
    high = np.uint32(bucket) << np.uint32(16)
    n = 0
    for block in range(blocks.shape[0] - 1, -1, -1):
        if not blocks[block]:
            continue
        blocks[block] = False
        for low in range(block * 256 + 255, block * 256 - 1, -1):
            if t_neg[low] == 0 and t_pos[low] == 0:
                continue
            values[n] = value_of_key32(high | np.uint32(low), u32, f32)
            neg[n] = t_neg[low]
            pos[n] = t_pos[low]
            w_hi[n] = t_whi[low]
            w_lo[n] = t_wlo[low]
            t_neg[low] = 0
            t_pos[low] = 0
            t_whi[low] = 0
            t_wlo[low] = 0
            n += 1
    return n


@njit(cache=True, nogil=True)
def open_bucket(bucket, ints, words, floats, start_counts, start_w, totals):
    """Start a bucket's walk from what lies above it."""
    start_state(ints, words, floats, start_counts[bucket, 0], start_counts[bucket, 1],
                start_w[bucket, 0], start_w[bucket, 1], totals)


@njit(cache=True, nogil=True)
def close_bucket(bucket, ints, words, floats, bucket_out, acc):
    """Store a walked bucket's partial sums and add its AUROC sum to the worker's."""
    bucket_out[bucket, 0] = floats[AP]
    bucket_out[bucket, 1] = floats[PRO]
    bucket_out[bucket, 2] = floats[F1]
    bucket_out[bucket, 3] = floats[F1_VALUE]
    bucket_out[bucket, 4] = ints[F1_TP]
    bucket_out[bucket, 5] = ints[F1_FP]
    bucket_out[bucket, 6] = floats[F1_W]
    acc[0], acc[1] = add128(acc[0], acc[1], words[AUC_HI], words[AUC_LO])


@njit(cache=True, nogil=True)
def with_room(points, n_points, extra):
    """`points` grown (doubling) to hold n_points + extra rows."""
    if n_points + extra <= points.shape[0]:
        return points
    grown = np.empty((max(2 * points.shape[0], n_points + extra), POINT_FIELDS))
    grown[:n_points] = points[:n_points]
    return grown


@njit(cache=True, nogil=True)
def new_distinct(size):
    """Arrays for `size` distinct values: value, normal count, anomalous count, weight."""
    return (np.empty(size, dtype=np.float64), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64), np.empty(size, dtype=np.uint64),
            np.empty(size, dtype=np.uint64))


@njit(cache=True, nogil=True)
def walk_table32(bucket, tables, distinct, start_counts, start_w, totals, limit, bounds,
                 grid, bucket_out, acc, iv_neg, iv_pos, iv_whi, iv_wlo, points, n_points):
    """Read back a filled table as bucket `bucket` and walk it; returns (points, count)."""
    t_neg, t_pos, t_whi, t_wlo, blocks = tables
    values, neg, pos, w_hi, w_lo = distinct
    n = extract32(bucket, t_neg, t_pos, t_whi, t_wlo, blocks, values, neg, pos, w_hi, w_lo)
    ints = np.zeros(N_INTS, dtype=np.int64)
    words = np.zeros(N_WORDS, dtype=np.uint64)
    floats = np.zeros(N_FLOATS, dtype=np.float64)
    open_bucket(bucket, ints, words, floats, start_counts, start_w, totals)
    if grid != 0:
        points = with_room(points, n_points, n)
    n_points = walk_values(values, neg, pos, w_hi, w_lo, n, ints, words, floats, totals,
                           limit, bounds, iv_neg, iv_pos, iv_whi, iv_wlo, grid, points,
                           n_points)
    close_bucket(bucket, ints, words, floats, bucket_out, acc)
    return points, n_points


@njit(cache=True, nogil=True)
def resolve32(first, last, g_lo, neg_off, pos_off, negs, poss, areas, start_counts, start_w,
              totals, limit, bounds, grid, bucket_out, acc, iv_neg, iv_pos, iv_whi, iv_wlo,
              points):
    """Walk float32 buckets last..first (descending) of a group; returns the points
    array and its count."""
    tables = new_tables()
    distinct = new_distinct(TABLE)
    n_points = 0
    for bucket in range(last, first - 1, -1):
        j = bucket - g_lo
        empty = True
        for r in range(neg_off.shape[0]):
            if neg_off[r, j + 1] > neg_off[r, j] or pos_off[r, j + 1] > pos_off[r, j]:
                empty = False
            accumulate32(negs[r][neg_off[r, j]:neg_off[r, j + 1]],
                         poss[r][pos_off[r, j]:pos_off[r, j + 1]],
                         areas[r][pos_off[r, j]:pos_off[r, j + 1]], *tables)
        if empty:
            continue
        points, n_points = walk_table32(bucket, tables, distinct, start_counts, start_w,
                                        totals, limit, bounds, grid, bucket_out, acc, iv_neg,
                                        iv_pos, iv_whi, iv_wlo, points, n_points)
    return points, n_points


@njit(cache=True, nogil=True)
def walk_sorted64(neg, pos, area, ints, words, floats, totals, limit, bounds, grid, iv_neg,
                  iv_pos, iv_whi, iv_wlo, points, n_points):
    """Walk ascending-sorted float64 keys (normal `neg`, anomalous `pos` with their areas)
    from the highest, carrying the state; returns (points, count)."""
    _, _, u64, f64 = _scratch()
    values, n_at, p_at, wh_at, wl_at = new_distinct(CHUNK)
    i = neg.shape[0] - 1
    j = pos.shape[0] - 1
    n = 0
    while i >= 0 or j >= 0:
        key = neg[i] if j < 0 or (i >= 0 and neg[i] > pos[j]) else pos[j]
        count_neg = 0
        while i >= 0 and neg[i] == key:
            count_neg += 1
            i -= 1
        count_pos = 0
        w_hi = np.uint64(0)
        w_lo = np.uint64(0)
        while j >= 0 and pos[j] == key:
            add_hi, add_lo = area_weight(np.int64(area[j]))
            w_hi, w_lo = add128(w_hi, w_lo, add_hi, add_lo)
            count_pos += 1
            j -= 1
        values[n] = value_of_key64(key, u64, f64)
        n_at[n] = count_neg
        p_at[n] = count_pos
        wh_at[n] = w_hi
        wl_at[n] = w_lo
        n += 1
        if n == CHUNK or (i < 0 and j < 0):
            if grid != 0:
                points = with_room(points, n_points, n)
            n_points = walk_values(values, n_at, p_at, wh_at, wl_at, n, ints, words, floats,
                                   totals, limit, bounds, iv_neg, iv_pos, iv_whi, iv_wlo,
                                   grid, points, n_points)
            n = 0
    return points, n_points


@njit(cache=True, nogil=True)
def sort_entries64(neg, pos, area):
    """Sort normal keys, and anomalous keys with their areas, ascending (in place)."""
    neg.sort()
    order = np.argsort(pos)
    sorted_pos = pos[order]
    sorted_area = area[order]
    pos[:] = sorted_pos
    area[:] = sorted_area


@njit(cache=True, nogil=True)
def resolve64(first, last, g_lo, neg_off, pos_off, negs, poss, areas, start_counts, start_w,
              totals, limit, bounds, grid, bucket_out, acc, iv_neg, iv_pos, iv_whi, iv_wlo,
              points):
    """Walk float64-keyed buckets last..first (descending) of a group by sorting each
    bucket's keys; returns the points array and its count."""
    n_points = 0
    ints = np.zeros(N_INTS, dtype=np.int64)
    words = np.zeros(N_WORDS, dtype=np.uint64)
    floats = np.zeros(N_FLOATS, dtype=np.float64)
    for bucket in range(last, first - 1, -1):
        j = bucket - g_lo
        n_neg = 0
        n_pos = 0
        for r in range(neg_off.shape[0]):
            n_neg += neg_off[r, j + 1] - neg_off[r, j]
            n_pos += pos_off[r, j + 1] - pos_off[r, j]
        if n_neg + n_pos == 0:
            continue
        b_neg = np.empty(n_neg, dtype=np.uint64)
        b_pos = np.empty(n_pos, dtype=np.uint64)
        b_area = np.empty(n_pos, dtype=np.uint32)
        at_neg = 0
        at_pos = 0
        for r in range(neg_off.shape[0]):
            size = neg_off[r, j + 1] - neg_off[r, j]
            b_neg[at_neg:at_neg + size] = negs[r][neg_off[r, j]:neg_off[r, j + 1]]
            at_neg += size
            size = pos_off[r, j + 1] - pos_off[r, j]
            b_pos[at_pos:at_pos + size] = poss[r][pos_off[r, j]:pos_off[r, j + 1]]
            b_area[at_pos:at_pos + size] = areas[r][pos_off[r, j]:pos_off[r, j + 1]]
            at_pos += size
        sort_entries64(b_neg, b_pos, b_area)
        open_bucket(bucket, ints, words, floats, start_counts, start_w, totals)
        points, n_points = walk_sorted64(b_neg, b_pos, b_area, ints, words, floats, totals,
                                         limit, bounds, grid, iv_neg, iv_pos, iv_whi, iv_wlo,
                                         points, n_points)
        close_bucket(bucket, ints, words, floats, bucket_out, acc)
    return points, n_points


@njit(cache=True, nogil=True)
def widen32(b_lo, neg_off, pos_off, neg, pos, neg_out, pos_out):
    """float32 entries (low key bits) of buckets b_lo.. as float64 keys; the offsets
    index `neg` / `pos` and the outputs alike."""
    u32, f32, u64, f64 = _scratch()
    for j in range(neg_off.shape[0] - 1):
        high = np.uint32(b_lo + j) << np.uint32(16)
        for t in range(neg_off[j], neg_off[j + 1]):
            f64[0] = value_of_key32(high | np.uint32(neg[t]), u32, f32)
            neg_out[t] = key64(u64[0])
        for t in range(pos_off[j], pos_off[j + 1]):
            f64[0] = value_of_key32(high | np.uint32(pos[t]), u32, f32)
            pos_out[t] = key64(u64[0])


@njit(cache=True, nogil=True)
def range_histogram64(keys, key_lo, shift, hist):
    """hist[(key - key_lo) >> shift] += 1 for the keys in [key_lo, key_lo + len(hist) << shift)."""
    for t in range(keys.shape[0]):
        key = keys[t]
        if key >= key_lo:
            slot = (key - key_lo) >> shift
            if slot < hist.shape[0]:
                hist[slot] += 1


@njit(cache=True, nogil=True)
def collect_range64(keys, area, key_lo, key_hi, out_keys, out_area, n):
    """Append the keys in [key_lo, key_hi] (and their areas, if `area` is not empty) to
    out_keys[n:] / out_area[n:]; returns the new count."""
    with_area = area.shape[0] > 0
    for t in range(keys.shape[0]):
        key = keys[t]
        if key_lo <= key and key <= key_hi:
            out_keys[n] = key
            if with_area:
                out_area[n] = area[t]
            n += 1
    return n


@njit(cache=True, nogil=True)
def key_weight64(keys, area, key, acc):
    """Add the weights of the entries equal to `key` to acc (hi, lo)."""
    for t in range(keys.shape[0]):
        if keys[t] == key:
            add_hi, add_lo = area_weight(np.int64(area[t]))
            acc[0], acc[1] = add128(acc[0], acc[1], add_hi, add_lo)
