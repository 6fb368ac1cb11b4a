"""Vectorised per-vehicle time joins (numpy ``searchsorted`` on composite keys).

Each side is sorted once by (vehicle code, time) and every point is located
with one binary search, so the joins are O((n + m) log m) instead of the hub's
O(points x readings) Python scans. A composite key ``code * 2**40 + t`` (t in
microseconds relative to a base, clipped to the ~12.7 day key span) keeps
every vehicle's readings in its own key range; real times are still used for
distances, so clipping only affects readings far outside the window.
All functions return, per point, an index into the right-hand arrays or -1.
"""

from __future__ import annotations

import numpy as np

_SPAN_BITS = 40
_SPAN = 1 << _SPAN_BITS
_NONE = -1


def _composite(code: np.ndarray, t: np.ndarray, base: int) -> np.ndarray:
    rel = np.clip(t - base, 0, _SPAN - 1)
    return code.astype(np.int64) * _SPAN + rel


def _sorted(code: np.ndarray, t: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((t, code))  # stable: equal times keep input order
    return order, _composite(code[order], t[order], base)


def asof_backward(pt_code, pt_t, s_code, s_t, base: int) -> np.ndarray:
    """Last reading of the same vehicle with time <= point time (later input wins ties)."""
    if len(s_code) == 0:
        return np.full(len(pt_code), _NONE, dtype=np.int64)
    order, keys = _sorted(s_code, s_t, base)
    pos = np.searchsorted(keys, _composite(pt_code, pt_t, base), side="right") - 1
    cand = order[np.clip(pos, 0, len(order) - 1)]  # gathered once: this runs per point
    hit = (pos >= 0) & (s_code[cand] == pt_code) & (s_t[cand] <= pt_t)
    return np.where(hit, cand, _NONE)


def nearest(pt_code, pt_t, s_code, s_t, base: int, tolerance_us: int) -> np.ndarray:
    """Closest reading of the same vehicle within ``tolerance_us`` (before or after; ties -> earlier)."""
    if len(s_code) == 0:
        return np.full(len(pt_code), _NONE, dtype=np.int64)
    order, keys = _sorted(s_code, s_t, base)
    right = np.searchsorted(keys, _composite(pt_code, pt_t, base), side="left")
    best = np.full(len(pt_code), _NONE, dtype=np.int64)
    best_dist = np.full(len(pt_code), np.iinfo(np.int64).max, dtype=np.int64)
    # Check the after-candidate first, then the before-candidate with <=, so an exact tie picks the earlier reading.
    for pos in (right, right - 1):
        safe = np.clip(pos, 0, len(order) - 1)
        idx = order[safe]
        dist = np.abs(s_t[idx] - pt_t)
        ok = (pos >= 0) & (pos < len(order)) & (s_code[idx] == pt_code) & (dist <= tolerance_us) & (dist <= best_dist)
        best = np.where(ok, idx, best)
        best_dist = np.where(ok, dist, best_dist)
    return best


def covering(pt_code, pt_t, a_code, a_start, a_end, base: int) -> np.ndarray:
    """Interval of the same vehicle with start <= t < end; the latest start wins overlaps.

    ``a_end`` uses int64 max for open-ended intervals. The common case (the
    latest-starting interval covers the point) is one binary search; points
    where an earlier, longer interval still covers them are rare (overlapping
    assignments) and resolved by scanning back through that vehicle's intervals.
    """
    n = len(pt_code)
    if len(a_code) == 0:
        return np.full(n, _NONE, dtype=np.int64)
    order, keys = _sorted(a_code, a_start, base)
    pt_key = _composite(pt_code, pt_t, base)
    pos = np.searchsorted(keys, pt_key, side="right") - 1
    safe = np.clip(pos, 0, len(order) - 1)
    cand = order[safe]
    same = (pos >= 0) & (a_code[cand] == pt_code) & (a_start[cand] <= pt_t)
    covered = same & (pt_t < a_end[cand])
    result = np.where(covered, cand, _NONE)
    # Running max of end per vehicle (composite keys keep vehicles apart): if even that
    # ends before t, no earlier interval can cover the point either.
    end_keys = np.maximum.accumulate(_composite(a_code[order], np.minimum(a_end[order], base + _SPAN - 1), base))
    maybe = same & ~covered & (end_keys[safe] > pt_key)
    for i in np.flatnonzero(maybe):
        for p in range(pos[i] - 1, -1, -1):
            j = order[p]
            if a_code[j] != pt_code[i]:
                break
            if a_start[j] <= pt_t[i] < a_end[j]:
                result[i] = j
                break
    return result
