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
from metrics.orderkeys import value_of_key32, value_of_key64, widen_low
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
    count_at_or_below,
    start_state,
    walk_values,
)

TABLE = 1 << 16
CHUNK = 4096  # distinct values handed to the walk at a time (float64 path)
BUCKET_FIELDS = 7  # ap, pro, f1, f1 value, f1 TP, f1 FP, f1 W


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
def cut_below(bound_keys, key):
    """The largest bound key <= key (0 if none): keys below it lie in a lower interval."""
    index = count_at_or_below(bound_keys, key)
    return bound_keys[index - 1] if index > 0 else bound_keys.dtype.type(0)


@njit(cache=True, nogil=True, inline="always")
def emit_normal_run(values, neg, pos, w_hi, w_lo, n, run_key, run):
    """Write a merged run of `run` normal pixels at its highest key as entry n (nothing if
    the run is empty); returns the next entry's index."""
    if run == 0:
        return n
    values[n] = value_of_key32(run_key)
    neg[n] = run
    pos[n] = 0
    w_hi[n] = 0
    w_lo[n] = 0
    return n + 1


@njit(cache=True, nogil=True)
def extract32(bucket, t_neg, t_pos, t_whi, t_wlo, blocks, bound_keys, merge, values, neg,
              pos, w_hi, w_lo):
    """Move the tables' entries to arrays, values descending; clears the tables. Returns
    the number of entries.

    With `merge`, consecutive values without anomalous pixels and within one interval of
    the bounds (`bound_keys`: the keys of the bounds, ascending) become one entry: their
    normal count at the run's highest value. No metric tells them apart: each sees them
    only through that count (docs/metrics.md, "The engine").
    """
    high = np.uint32(bucket) << np.uint32(16)
    n = 0
    run = 0  # normal pixels of the open run
    is_open = False  # the run opens at the first slot after a flush, empty or not
    run_key = np.uint32(0)
    cut = np.uint32(0)
    for block in range(blocks.shape[0] - 1, -1, -1):
        if not blocks[block]:
            continue
        blocks[block] = False
        for low in range(block * 256 + 255, block * 256 - 1, -1):
            count_pos = t_pos[low]
            key = high | np.uint32(low)
            if merge:
                if key < cut or count_pos != 0:  # the run ends (rare: no misprediction)
                    n = emit_normal_run(values, neg, pos, w_hi, w_lo, n, run_key, run)
                    run = 0
                    is_open = False
                if count_pos == 0:
                    if not is_open:
                        is_open = True
                        run_key = key
                        cut = cut_below(bound_keys, key)
                    run += t_neg[low]  # branch-free over empty slots
                    t_neg[low] = 0
                    continue
            count_neg = t_neg[low]
            if count_neg == 0 and count_pos == 0:
                continue
            values[n] = value_of_key32(key)
            neg[n] = count_neg
            pos[n] = count_pos
            w_hi[n] = t_whi[low]
            w_lo[n] = t_wlo[low]
            t_neg[low] = 0
            t_pos[low] = 0
            t_whi[low] = 0
            t_wlo[low] = 0
            n += 1
    return emit_normal_run(values, neg, pos, w_hi, w_lo, n, run_key, run)


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
    for i in range(n_points):  # element loops: slice assignment costs seconds of compile
        for f in range(POINT_FIELDS):
            grown[i, f] = points[i, f]
    return grown


@njit(cache=True, nogil=True)
def new_distinct(size):
    """Arrays for `size` distinct values: value, normal count, anomalous count, weight."""
    return (np.empty(size, dtype=np.float64), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.int64), np.empty(size, dtype=np.uint64),
            np.empty(size, dtype=np.uint64))


@njit(cache=True, nogil=True)
def walk_table32(bucket, tables, distinct, start_counts, start_w, totals, limit, bounds,
                 bound_keys, grid, bucket_out, acc, iv_neg, iv_pos, iv_whi, iv_wlo, points,
                 n_points):
    """Read back a filled table as bucket `bucket` and walk it; returns (points, count).
    Values are merged (`extract32`) unless curve points are asked for (grid != 0)."""
    t_neg, t_pos, t_whi, t_wlo, blocks = tables
    values, neg, pos, w_hi, w_lo = distinct
    n = extract32(bucket, t_neg, t_pos, t_whi, t_wlo, blocks, bound_keys, grid == 0, values,
                  neg, pos, w_hi, w_lo)
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
              totals, limit, bounds, bound_keys, grid, bucket_out, acc, iv_neg, iv_pos, iv_whi,
              iv_wlo, points):
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
                                        totals, limit, bounds, bound_keys, grid, bucket_out,
                                        acc, iv_neg, iv_pos, iv_whi, iv_wlo, points, n_points)
    return points, n_points


RUN_COUNT, RUN_KEY, RUN_CUT = range(3)  # an open run of merged float64 keys


@njit(cache=True, nogil=True)
def walk_keys64(keys, n_neg, n_pos, w_hi, w_lo, n, run, buffers, ints, words, floats, totals,
                limit, bounds, bound_keys, grid, iv_neg, iv_pos, iv_whi, iv_wlo, points,
                n_points, final):
    """Walk n distinct float64 keys (descending) with their counts and weights. Keys
    without anomalous pixels are merged as in `extract32` (unless grid != 0) into the
    open run `run` (count, first key, cut), which is carried from call to call and
    flushed when `final`; returns (points, count)."""
    values, at_neg, at_pos, at_whi, at_wlo = buffers
    merge = grid == 0
    m = 0
    for i in range(n + 1):
        last = i == n
        if last and not final:
            break
        if merge and run[RUN_COUNT] > 0 and (last or n_pos[i] > 0 or keys[i] < run[RUN_CUT]):
            values[m] = value_of_key64(run[RUN_KEY])
            at_neg[m] = np.int64(run[RUN_COUNT])
            at_pos[m] = 0
            at_whi[m] = 0
            at_wlo[m] = 0
            m += 1
            run[RUN_COUNT] = 0
        if not last:
            if merge and n_pos[i] == 0:
                if run[RUN_COUNT] == 0:
                    run[RUN_KEY] = keys[i]
                    run[RUN_CUT] = cut_below(bound_keys, keys[i])
                run[RUN_COUNT] += np.uint64(n_neg[i])
            else:
                values[m] = value_of_key64(keys[i])
                at_neg[m] = n_neg[i]
                at_pos[m] = n_pos[i]
                at_whi[m] = w_hi[i]
                at_wlo[m] = w_lo[i]
                m += 1
        if m >= values.shape[0] - 2 or (last and m > 0):
            if grid != 0:
                points = with_room(points, n_points, m)
            n_points = walk_values(values, at_neg, at_pos, at_whi, at_wlo, m, ints, words,
                                   floats, totals, limit, bounds, iv_neg, iv_pos, iv_whi,
                                   iv_wlo, grid, points, n_points)
            m = 0
    if m > 0:
        if grid != 0:
            points = with_room(points, n_points, m)
        n_points = walk_values(values, at_neg, at_pos, at_whi, at_wlo, m, ints, words, floats,
                               totals, limit, bounds, iv_neg, iv_pos, iv_whi, iv_wlo, grid,
                               points, n_points)
    return points, n_points


@njit(cache=True, nogil=True)
def walk_sorted64(neg, pos, area, run, ints, words, floats, totals, limit, bounds, bound_keys,
                  grid, iv_neg, iv_pos, iv_whi, iv_wlo, points, n_points, final):
    """Walk ascending-sorted float64 keys (normal `neg`, anomalous `pos` with their
    areas) from the highest through `walk_keys64`; returns (points, count)."""
    keys = np.empty(CHUNK, dtype=np.uint64)
    n_at = np.empty(CHUNK, dtype=np.int64)
    p_at = np.empty(CHUNK, dtype=np.int64)
    wh_at = np.empty(CHUNK, dtype=np.uint64)
    wl_at = np.empty(CHUNK, dtype=np.uint64)
    buffers = new_distinct(CHUNK)
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
        keys[n] = key
        n_at[n] = count_neg
        p_at[n] = count_pos
        wh_at[n] = w_hi
        wl_at[n] = w_lo
        n += 1
        if n == CHUNK:
            points, n_points = walk_keys64(keys, n_at, p_at, wh_at, wl_at, n, run, buffers,
                                           ints, words, floats, totals, limit, bounds,
                                           bound_keys, grid, iv_neg, iv_pos, iv_whi, iv_wlo,
                                           points, n_points, False)
            n = 0
    return walk_keys64(keys, n_at, p_at, wh_at, wl_at, n, run, buffers, ints, words, floats,
                       totals, limit, bounds, bound_keys, grid, iv_neg, iv_pos, iv_whi,
                       iv_wlo, points, n_points, final)


@njit(cache=True, nogil=True)
def sort_entries64(neg, pos, area):
    """Sort normal keys, and anomalous keys with their areas, ascending (in place)."""
    neg.sort()
    order = np.argsort(pos)
    sorted_pos = pos[order]
    sorted_area = area[order]
    for i in range(pos.shape[0]):
        pos[i] = sorted_pos[i]
        area[i] = sorted_area[i]


@njit(cache=True, nogil=True)
def resolve64(first, last, g_lo, neg_off, pos_off, negs, poss, areas, start_counts, start_w,
              totals, limit, bounds, bound_keys, grid, bucket_out, acc, iv_neg, iv_pos, iv_whi,
              iv_wlo, points):
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
            source = negs[r]
            for t in range(neg_off[r, j], neg_off[r, j + 1]):
                b_neg[at_neg] = source[t]
                at_neg += 1
            source = poss[r]
            source_area = areas[r]
            for t in range(pos_off[r, j], pos_off[r, j + 1]):
                b_pos[at_pos] = source[t]
                b_area[at_pos] = source_area[t]
                at_pos += 1
        sort_entries64(b_neg, b_pos, b_area)
        open_bucket(bucket, ints, words, floats, start_counts, start_w, totals)
        run = np.zeros(3, dtype=np.uint64)
        points, n_points = walk_sorted64(b_neg, b_pos, b_area, run, ints, words, floats,
                                         totals, limit, bounds, bound_keys, grid, iv_neg,
                                         iv_pos, iv_whi, iv_wlo, points, n_points, True)
        close_bucket(bucket, ints, words, floats, bucket_out, acc)
    return points, n_points


@njit(cache=True, nogil=True)
def widen32(b_lo, neg_off, pos_off, neg, pos, neg_out, pos_out):
    """float32 entries (low key bits) of buckets b_lo.. as float64 keys; the offsets
    index `neg` / `pos` and the outputs alike."""
    for j in range(neg_off.shape[0] - 1):
        for t in range(neg_off[j], neg_off[j + 1]):
            neg_out[t] = widen_low(b_lo + j, neg[t])
        for t in range(pos_off[j], pos_off[j + 1]):
            pos_out[t] = widen_low(b_lo + j, pos[t])


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
