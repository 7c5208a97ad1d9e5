"""TOMTOM for PWM queries on the CPU: the whole per-query pipeline as one numba kernel.

The torch engine in :mod:`motifscope.motifs.tomtom` works on (query columns x database
columns) matrices, one element-wise pass per step; for PWM queries, whose columns are all
different, that is about 25 passes over ~10^8 values for JASPAR all-vs-all. Here one query
is processed at a time while its data stay in cache, in the same steps and with the same
definitions (see the module docstring of ``tomtom``):

1. similarity rows of the query columns against every database column, with each row's
   min and max in the same sweep;
2. memelite's binned median of each row (1000 bins, mean of the crossing bin);
3. the query's integer scale and, per column, the integer scores and their histogram
   (integer counts; the null pmf is ``counts / n_columns``);
4. the best alignment with every oriented target: the database columns are laid out by
   groups of targets of one length, column-major within a group, so the alignment sums of
   a group are contiguous vector additions (ties: larger overlap, then leftmost), and the
   strands merged (ties to the forward strand);
5. the p-value of each candidate target: the span distributions of the query are built
   level by level (span length m from length m - 1, one exact float64 convolution with a
   column's pmf), and each alignment contributes ``q = P(span sum >= score)``, read from
   the upper tail summed from the top (so small tails keep full relative precision); the
   alignments are combined as a union of independent events, ``acc += q (1 - acc)``,
   which is ``1 - prod(1 - q)`` without logarithms and keeps relative precision for tiny
   p-values. Both strands: ``p = 1 - (1 - acc)^2``.

Step 1 handles four query columns per sweep over the database, and step 2 runs on their
rows while they are in cache. Queries are scheduled dynamically over the threads
(``prange`` with chunk size 1), each thread using its own scratch arrays
(:func:`make_scratch`). Results equal the torch engine's up to floating-point summation
order (relative differences below 1e-12 in p, largest for the widest queries); integer
scores, offsets, overlaps and strands are the same unless a column score lies exactly on
a rounding boundary (the Euclidean scores here follow memelite's operation order).

This module imports numba; :mod:`motifscope.motifs.tomtom` imports it only for CPU runs
and falls back to torch when numba is missing.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

_LANES = 64  # lanes of the vectorised running min / max
_PAD = 3  # zeros on either side of a span pmf (taps 1-3 of a sweep read past its ends)


# --------------------------------------------------------------------------------------
# Steps 1-3: column scores, medians, integer scores and their histograms
# --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def euclidean(norm, a0, a1, a2, a3, aux_j, y0, y1, y2, y3):
    """-||x - y|| as memelite computes it: the squared norms added, then each 2 x_k y_k
    subtracted (norm = ||x||^2, a = 2 x, aux_j = ||y||^2)."""
    z = norm + aux_j
    z -= a0 * y0
    z -= a1 * y1
    z -= a2 * y2
    z -= a3 * y3
    return -math.sqrt(z) if z > 0 else 0.0


@njit(cache=True, nogil=True, inline="always")
def pearson(squares, c0, c1, c2, c3, aux_j, y0, y1, y2, y3):
    """MEME's Pearson correlation of two columns centred at 1/4 (0 without variance);
    squares and aux_j are their sums of squares."""
    den = math.sqrt(squares * aux_j)
    num = c0 * y0 + c1 * y1 + c2 * y2 + c3 * y3
    return num / den if den != 0 else 0.0


def column_coefficients(X: np.ndarray, distance: str) -> np.ndarray:
    """The query-column constants of :func:`euclidean` or :func:`pearson`, (5, n): the
    squared norm and 2 x (memelite's summation order), or the sum of squares and x - 1/4."""
    c = 2 * X if distance == "ed" else X - 0.25
    base = X if distance == "ed" else c
    first = base[0] * base[0] + base[1] * base[1] + base[2] * base[2] + base[3] * base[3]
    return np.ascontiguousarray(np.vstack([first[None, :], c]))


@njit(cache=True, nogil=True, inline="always")
def _similarity(euclid, p, p0, p1, p2, p3, aux_j, y0, y1, y2, y3):
    """:func:`euclidean` or :func:`pearson` (``euclid`` is a constant after inlining)."""
    if euclid:
        return euclidean(p, p0, p1, p2, p3, aux_j, y0, y1, y2, y3)
    return pearson(p, p0, p1, p2, p3, aux_j, y0, y1, y2, y3)


@njit(cache=True, nogil=True)
def similarity_rows(euclid, C, first, count, Y, aux, rows, low, high, lanes):
    """Similarity of query columns ``first .. first + count - 1`` (3 or 4) with every
    database column, and the extremes of each row.

    ``euclid`` chooses :func:`euclidean` or :func:`pearson` (each is its own inlined
    copy of the loop, so the loop vectorises); C (5, nq) their query-column constants
    (:func:`column_coefficients`); Y (4, N) database columns (centred at 1/4 for
    Pearson), aux (N,) their squared norms (Euclidean) or sums of squares (Pearson).
    Writes rows[i, :N] and low[i], high[i] = min and max of row i (``rows`` has a spare
    last row). Four columns share one sweep over the database (each database column is
    loaded once for the four); the extremes are kept in 64 independent lanes per row,
    updated in the same loop (an element-wise update vectorises, a single running value
    is a serial chain); values are never NaN. ``lanes`` is (8, 64) scratch.
    """
    if euclid:
        _rows_body(True, C, first, count, Y, aux, rows, low, high, lanes)
    else:
        _rows_body(False, C, first, count, Y, aux, rows, low, high, lanes)


@njit(cache=True, nogil=True, inline="always")
def _rows_body(euclid, C, first, count, Y, aux, rows, low, high, lanes):
    n = Y.shape[1]
    y0, y1, y2, y3 = Y[0], Y[1], Y[2], Y[3]
    n_blocks = n - n % _LANES
    # With 3 columns the third is computed twice, the copy going to the spare last row
    # of ``rows`` (distinct rows keep the loop free of aliasing, hence vectorised).
    last = first + count - 1
    ia, ib, ic, id_ = first, min(first + 1, last), min(first + 2, last), min(first + 3, last)
    spare = rows.shape[0] - 1
    pa, a0, a1, a2, a3 = C[0, ia], C[1, ia], C[2, ia], C[3, ia], C[4, ia]
    pb, b0, b1, b2, b3 = C[0, ib], C[1, ib], C[2, ib], C[3, ib], C[4, ib]
    pc, c0, c1, c2, c3 = C[0, ic], C[1, ic], C[2, ic], C[3, ic], C[4, ic]
    pd, d0, d1, d2, d3 = C[0, id_], C[1, id_], C[2, id_], C[3, id_], C[4, id_]
    ra, rb, rc, rd = rows[ia], rows[ib], rows[ic], rows[first + 3 if count == 4 else spare]
    la, ha, lb, hb = lanes[0], lanes[1], lanes[2], lanes[3]
    lc, hc, ld, hd = lanes[4], lanes[5], lanes[6], lanes[7]
    for u in range(_LANES):
        la[u], lb[u], lc[u], ld[u] = np.inf, np.inf, np.inf, np.inf
        ha[u], hb[u], hc[u], hd[u] = -np.inf, -np.inf, -np.inf, -np.inf
    for j0 in range(0, n_blocks, _LANES):
        for u in range(_LANES):
            j = j0 + u
            w0, w1, w2, w3, wn = y0[j], y1[j], y2[j], y3[j], aux[j]
            g = _similarity(euclid, pa, a0, a1, a2, a3, wn, w0, w1, w2, w3)
            ra[j] = g
            la[u] = g if g < la[u] else la[u]
            ha[u] = g if g > ha[u] else ha[u]
            g = _similarity(euclid, pb, b0, b1, b2, b3, wn, w0, w1, w2, w3)
            rb[j] = g
            lb[u] = g if g < lb[u] else lb[u]
            hb[u] = g if g > hb[u] else hb[u]
            g = _similarity(euclid, pc, c0, c1, c2, c3, wn, w0, w1, w2, w3)
            rc[j] = g
            lc[u] = g if g < lc[u] else lc[u]
            hc[u] = g if g > hc[u] else hc[u]
            g = _similarity(euclid, pd, d0, d1, d2, d3, wn, w0, w1, w2, w3)
            rd[j] = g
            ld[u] = g if g < ld[u] else ld[u]
            hd[u] = g if g > hd[u] else hd[u]
    for k in range(count):
        i = first + k
        lo, hi = np.inf, -np.inf
        for u in range(_LANES):
            lo = min(lo, lanes[2 * k, u])
            hi = max(hi, lanes[2 * k + 1, u])
        row = rows[i]
        p, p0, p1, p2, p3 = C[0, i], C[1, i], C[2, i], C[3, i], C[4, i]
        for j in range(n_blocks, n):
            g = _similarity(euclid, p, p0, p1, p2, p3, aux[j], y0[j], y1[j], y2[j], y3[j])
            row[j] = g
            lo = min(lo, g)
            hi = max(hi, g)
        low[i], high[i] = lo, hi


@njit(cache=True, nogil=True)
def similarity_row(euclid, C, i, Y, aux, row, low, high, lanes):
    """:func:`similarity_rows` for the single query column i (for 1 or 2 columns a
    sweep each is cheaper than a sweep of four)."""
    if euclid:
        _row_body(True, C, i, Y, aux, row, low, high, lanes)
    else:
        _row_body(False, C, i, Y, aux, row, low, high, lanes)


@njit(cache=True, nogil=True, inline="always")
def _row_body(euclid, C, i, Y, aux, row, low, high, lanes):
    n = Y.shape[1]
    y0, y1, y2, y3 = Y[0], Y[1], Y[2], Y[3]
    n_blocks = n - n % _LANES
    p, p0, p1, p2, p3 = C[0, i], C[1, i], C[2, i], C[3, i], C[4, i]
    lo_lane, hi_lane = lanes[0], lanes[1]
    for u in range(_LANES):
        lo_lane[u] = np.inf
        hi_lane[u] = -np.inf
    for j0 in range(0, n_blocks, _LANES):
        for u in range(_LANES):
            j = j0 + u
            g = _similarity(euclid, p, p0, p1, p2, p3, aux[j], y0[j], y1[j], y2[j], y3[j])
            row[j] = g
            lo_lane[u] = g if g < lo_lane[u] else lo_lane[u]
            hi_lane[u] = g if g > hi_lane[u] else hi_lane[u]
    lo, hi = np.inf, -np.inf
    for u in range(_LANES):
        lo = min(lo, lo_lane[u])
        hi = max(hi, hi_lane[u])
    for j in range(n_blocks, n):
        g = _similarity(euclid, p, p0, p1, p2, p3, aux[j], y0[j], y1[j], y2[j], y3[j])
        row[j] = g
        lo = min(lo, g)
        hi = max(hi, g)
    low[i], high[i] = lo, hi


@njit(cache=True, nogil=True)
def binned_median(row, low, high, n_bins, index, hist, lanes):
    """memelite's binned median of ``row``.

    Values go to ``n_bins`` equal bins between ``low`` and ``high`` (index
    ``int((v - low) / (high - low) * (n_bins - 1))``); the result is the mean of the
    values in the first bin where the cumulative count reaches half the number of values.
    A row whose values are all equal has that value as its median. ``index`` (N,) int16
    and ``hist`` (n_bins,) int32 are scratch.
    """
    spread = high - low
    if spread == 0:
        return low
    n = row.shape[0]
    scale = n_bins - 1
    for j in range(n):
        index[j] = int((row[j] - low) / spread * scale)
    for b in range(n_bins):
        hist[b] = 0
    for j in range(n):
        hist[index[j]] += 1
    halfway = n / 2
    total = 0
    crossing = n_bins - 1
    for b in range(n_bins):
        total += hist[b]
        if total >= halfway:
            crossing = b
            break
    # The crossing bin's values are summed in 64 lanes (an element-wise loop vectorises);
    # ``lanes`` (64,) is scratch.
    n_blocks = n - n % _LANES
    for u in range(_LANES):
        lanes[u] = 0.0
    for j0 in range(0, n_blocks, _LANES):
        for u in range(_LANES):
            lanes[u] += row[j0 + u] if index[j0 + u] == crossing else 0.0
    s = 0.0
    for u in range(_LANES):
        s += lanes[u]
    for j in range(n_blocks, n):
        if index[j] == crossing:
            s += row[j]
    return s / hist[crossing]


@njit(cache=True, nogil=True)
def integer_scale(low, high, median, nq, n_bins):
    """memelite's per-query integer range: (i_min, bin_scale, offset)."""
    z_min, z_max = np.inf, -np.inf
    for i in range(nq):
        z_min = min(z_min, low[i] - median[i])
        z_max = max(z_max, high[i] - median[i])
    i_min = math.floor(z_min)
    bin_scale = math.floor(n_bins / max(z_max - i_min, 1.0))
    return int(i_min), int(bin_scale), -int(i_min) * int(bin_scale)


@njit(cache=True, nogil=True)
def integerise(row, centre, bin_scale, offset, n_bins, index, gamma_row, sub_hist, hist_row):
    """Integer scores ``x = floor((g - centre) * bin_scale + 0.5)`` of one query column.

    ``centre`` is the column's median plus i_min. Writes gamma_row[j] = x_j - offset (the
    median-centred score) and hist_row[x] = number of database columns scoring x. The
    counts go to four interleaved histograms (``sub_hist`` (4, n_bins + 1) int32), so
    repeated values do not wait on each other's stores.
    """
    n = row.shape[0]
    for j in range(n):
        x = int(math.floor((row[j] - centre) * bin_scale + 0.5))
        x = min(max(x, 0), n_bins)
        index[j] = x
        gamma_row[j] = x - offset
    h0, h1, h2, h3 = sub_hist[0], sub_hist[1], sub_hist[2], sub_hist[3]
    for x in range(n_bins + 1):
        h0[x] = 0
        h1[x] = 0
        h2[x] = 0
        h3[x] = 0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        h0[index[j]] += 1
        h1[index[j + 1]] += 1
        h2[index[j + 2]] += 1
        h3[index[j + 3]] += 1
    for j in range(n4, n):
        h0[index[j]] += 1
    for x in range(n_bins + 1):
        hist_row[x] = h0[x] + h1[x] + h2[x] + h3[x]


# --------------------------------------------------------------------------------------
# Step 4: best alignments
# --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def best_alignments(gamma, nq, group_length, group_size, group_base, group_members,
                    min_overlap, sums, best, best_at, best_sum, best_align, best_overlap):
    """Best alignment of one query with every oriented target.

    The database columns are laid out by groups of targets of one length: in group g
    (length t, n targets) column p of its r-th target is at ``group_base[g] + p * n + r``,
    so the alignment sums of a whole group are contiguous vector additions;
    ``group_members`` lists the oriented targets group by group. gamma (nq, N) int16 or
    int32 median-centred integer scores. Alignment ``a`` puts query column i on target column
    ``a - nq + 1 + i``. Writes, per oriented target, the best sum of aligned scores, its
    alignment and overlap; ties go to the larger overlap, then the smaller a. Alignments
    overlapping fewer than min(min_overlap, nq, t) columns are not searched.
    ``sums`` (nq + t_max - 1, n_max) int32, ``best`` and ``best_at`` (n_max,) int64 are
    scratch.
    """
    member = 0
    for g in range(group_length.shape[0]):
        t, n, base = group_length[g], group_size[g], group_base[g]
        n_align = nq + t - 1
        for a in range(n_align):
            row = sums[a]
            for r in range(n):
                row[r] = 0
        for i in range(nq):
            scores = gamma[i]
            for p in range(t):
                dst = sums[nq - 1 - i + p]
                src = scores[base + p * n:base + (p + 1) * n]
                for r in range(n):
                    dst[r] += src[r]
        # Keys 128 * sum + overlap order alignments by sum, then overlap (at most 64); a
        # strict comparison in increasing a keeps the leftmost of equal keys.
        needed = min(min_overlap, nq, t)
        for r in range(n):
            best[r] = -(1 << 62)
            best_at[r] = 0
        for a in range(n_align):
            ov = min(a + 1, nq) - max(0, a - t + 1)
            if ov < needed:
                continue
            row = sums[a]
            for r in range(n):
                key = np.int64(row[r]) * 128 + ov
                take = key > best[r]
                best[r] = key if take else best[r]
                best_at[r] = a if take else best_at[r]
        for r in range(n):
            o = group_members[member + r]
            ov = best[r] & 127
            best_sum[o] = (best[r] - ov) // 128
            best_align[o] = best_at[r]
            best_overlap[o] = ov
        member += n


# --------------------------------------------------------------------------------------
# Step 5: p-values
# --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def convolve(a, n_a, kernel, n_k, out):
    """Full convolution of a pmf with a kernel, on zero-padded rows.

    ``a[_PAD:_PAD + n_a]`` holds the pmf, with zeros in the ``_PAD`` entries on either
    side; writes ``out[_PAD:_PAD + n_a + n_k - 1]`` likewise padded. Every output adds its
    terms in increasing kernel position (as a plain double loop would; the padding only
    adds +0.0 to non-negative sums); four kernel taps are applied per sweep, so each output
    is loaded and stored once per four terms.
    """
    n_out = n_a + n_k - 1
    for u in range(n_out + 2 * _PAD):
        out[u] = 0.0
    s = 0
    while s + 4 <= n_k:
        c0, c1, c2, c3 = kernel[s], kernel[s + 1], kernel[s + 2], kernel[s + 3]
        base = _PAD + s
        for w in range(n_a + 3):
            v = out[base + w]
            v += c0 * a[_PAD + w]
            v += c1 * a[_PAD - 1 + w]
            v += c2 * a[_PAD - 2 + w]
            v += c3 * a[_PAD - 3 + w]
            out[base + w] = v
        s += 4
    while s < n_k:
        c = kernel[s]
        base = _PAD + s
        for w in range(n_a):
            out[base + w] += c * a[_PAD + w]
        s += 1


@njit(cache=True, nogil=True)
def _upper_tail(pmf, n, tail):
    """Lookup table of P(X >= lo + k): tail[k] for k in [0, n], summed from the top and
    clipped to [0, 1], with tail[0] = 1 exactly (nothing lies below lo) and tail[n] = 0;
    :func:`_tail_at` clamps k into [0, n]."""
    acc = 0.0
    for k in range(n - 1, 0, -1):
        acc += pmf[k]
        tail[k] = min(acc, 1.0)
    tail[0] = 1.0
    tail[n] = 0.0


@njit(cache=True, nogil=True, inline="always")
def _tail_at(tail, lo, n, v):
    """P(X >= v) for a span whose distribution starts at lo and has n bins (branch-free,
    so loops over candidates vectorise)."""
    return tail[min(max(v - lo, 0), n)]


@njit(cache=True, nogil=True, inline="always")
def _union(acc, q):
    """P(A or B) for independent A (probability acc) and B (probability q); exactly 1
    when q is 1 (acc + (1 - acc) rounds to 1 for acc in [0, 1])."""
    return acc + q * (1.0 - acc)


@njit(cache=True, nogil=True)
def null_pvalues(hist, n_total, nq, offset, longest_inner, cand_length, cand_score, n_cand,
                 kernels, levels, meta, acc):
    """P(max over all alignments >= observed score) for each candidate (one strand).

    hist (nq, n_bins + 1) integer counts of each column's scores; the alignment score of
    a span of m query columns is its sum of integer scores plus ``offset * (nq - m)``.
    Candidates are sorted by target length (cand_length). ``longest_inner`` is the
    longest target shorter than the query (0 if none): every span up to that length is
    built, longer ones only as prefix and suffix. Writes acc[:n_cand]. Scratch: kernels
    (nq, n_bins + 1), levels (3, nq, nq * n_bins + 1 + 2 * _PAD), meta (6, nq) int64.
    For one candidate the alignments are combined in a fixed order (level by level, then
    window by window), whatever the other candidates.
    """
    n_bins = hist.shape[1] - 1
    inv_total = 1.0 / n_total
    k_lo, k_n = meta[0], meta[1]
    cur, nxt, tail = levels[0], levels[1], levels[2]
    lo_cur, lo_nxt, n_cur, n_nxt = meta[2], meta[3], meta[4], meta[5]
    for i in range(nq):
        first, last = n_bins + 1, -1
        for x in range(n_bins + 1):
            if hist[i, x] != 0:
                if first > n_bins:
                    first = x
                last = x
        k_lo[i], k_n[i] = first, last - first + 1
        for x in range(k_n[i]):
            kernels[i, x] = hist[i, first + x] * inv_total
    for c in range(n_cand):
        acc[c] = 0.0
    start = 0  # first candidate at least m long
    for m in range(1, nq + 1):
        n_win = nq - m + 1
        last = n_win - 1
        # Level m: span (i, m) in row i (all i while inner spans are needed, else the
        # prefix (row 0, extended right) and the suffix (row nq - m, extended left)).
        if m == 1:
            for i in range(nq):
                lo_cur[i], n_cur[i] = k_lo[i], k_n[i]
                row = cur[i]
                for x in range(k_n[i] + 2 * _PAD):
                    row[x] = 0.0
                for x in range(k_n[i]):
                    row[_PAD + x] = kernels[i, x]
        else:
            every = m <= longest_inner
            for i in range(n_win):
                if every or i == 0:
                    j = i + m - 1
                    convolve(cur[i], n_cur[i], kernels[j], k_n[j], nxt[i])
                    lo_nxt[i], n_nxt[i] = lo_cur[i] + k_lo[j], n_cur[i] + k_n[j] - 1
                elif i == last:
                    convolve(cur[i + 1], n_cur[i + 1], kernels[i], k_n[i], nxt[i])
                    lo_nxt[i], n_nxt[i] = lo_cur[i + 1] + k_lo[i], n_cur[i + 1] + k_n[i] - 1
            cur, nxt = nxt, cur
            lo_cur, lo_nxt = lo_nxt, lo_cur
            n_cur, n_nxt = n_nxt, n_cur
        while start < n_cand and cand_length[start] < m:
            start += 1
        stop = start  # candidates [start, stop) are exactly m long
        while stop < n_cand and cand_length[stop] == m:
            stop += 1
        if start == n_cand:
            break  # no candidate is m columns long or longer
        shift = offset * (nq - m)
        if m == nq:
            # Targets at least as long as the query: t - nq + 1 full overlaps.
            _upper_tail(cur[0, _PAD:], n_cur[0], tail[0])
            for c in range(start, n_cand):
                v = cand_score[c] - shift
                q = _tail_at(tail[0], lo_cur[0], n_cur[0], v)
                a = acc[c]
                for _ in range(cand_length[c] - nq + 1):
                    a = _union(a, q)
                acc[c] = a
            continue
        inner = stop > start
        for i in range(n_win):
            if inner or i == 0 or i == last:
                _upper_tail(cur[i, _PAD:], n_cur[i], tail[i])
        if inner:
            # Targets of length m, shorter than the query: every window of m columns.
            for i in range(n_win):
                t_i, lo_i, n_i = tail[i], lo_cur[i], n_cur[i]
                for c in range(start, stop):
                    acc[c] = _union(acc[c], _tail_at(t_i, lo_i, n_i, cand_score[c] - shift))
        # Longer targets: overhangs of m columns at either end of the query.
        t_0, lo_0, n_0 = tail[0], lo_cur[0], n_cur[0]
        t_l, lo_l, n_l = tail[last], lo_cur[last], n_cur[last]
        for c in range(stop, n_cand):
            v = cand_score[c] - shift
            a = _union(acc[c], _tail_at(t_0, lo_0, n_0, v))
            acc[c] = _union(a, _tail_at(t_l, lo_l, n_l, v))


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

def scratch_bytes(*shape_args) -> int:
    """Bytes of one thread's scratch; arguments as :func:`make_scratch` after n_threads
    (the arrays are only reserved by np.empty, not touched)."""
    return sum(a.nbytes for a in make_scratch(1, *shape_args))


def make_scratch(n_threads, w_max, n_columns, n_bins, n_median_bins, t_max, size_max,
                 n_oriented, n_targets):
    """Per-thread scratch arrays for :func:`run_queries` (leading axis: thread)."""
    capacity = w_max * n_bins + 1 + 2 * _PAD

    def per_thread(shape, dtype):
        return np.empty((n_threads,) + shape, dtype=dtype)

    # Bin indices and centred scores (at most max(n_bins, n_median_bins)) fit int16 for
    # the usual settings: half the memory traffic of int32.
    small = max(n_bins, n_median_bins) < 2**15
    index_type = np.int16 if small else np.int32
    return (per_thread((w_max + 1, n_columns), np.float64),  # 0 similarity rows (+ spare)
            per_thread((w_max, n_columns), index_type),  # 1 centred integer scores
            per_thread((n_columns,), index_type),  # 2 bin indices
            per_thread((8, _LANES), np.float64),  # 3 min / max lanes
            per_thread((n_median_bins,), np.int32),  # 4 median histogram
            per_thread((w_max, n_bins + 1), np.int64),  # 5 score histograms
            per_thread((4, n_bins + 1), np.int32),  # 6 interleaved histograms
            per_thread((3, w_max), np.float64),  # 7 row min, max, median
            per_thread((w_max + t_max, size_max), np.int32),  # 8 alignment sums
            per_thread((2, size_max), np.int64),  # 9 best key and alignment
            per_thread((3, n_oriented), np.int64),  # 10 best sum, alignment, overlap
            per_thread((7, n_targets), np.int64),  # 11 per target and candidate
            per_thread((n_targets,), np.float64),  # 12 p-value accumulators
            per_thread((w_max, n_bins + 1), np.float64),  # 13 column pmfs
            per_thread((3, w_max, capacity), np.float64),  # 14 span pmfs and tails
            per_thread((6, w_max), np.int64))  # 15 supports


@njit(parallel=True, cache=True)
def run_queries(euclid, Q, q_start, q_width, out_row, Y, aux, group_length, group_size,
                group_base, group_members, target_lengths, n_targets, reverse_complement,
                length_order, group_start, n_bins, n_median_bins, min_overlap, n_nearest,
                scratch, out_p, out_score, out_offset, out_overlap, out_strand, out_target):
    """TOMTOM for the queries q (columns ``Q[:, q_start[q]:][:q_width[q]]``) into row
    ``out_row[q]`` of the outputs, in parallel (one query per task).

    ``euclid``: :func:`euclidean`, else :func:`pearson`; Q (5, total query columns) their
    query-column constants (:func:`column_coefficients`). Y (4, N): every column of every
    oriented target (forward targets, then their reverse complements when
    ``reverse_complement``), laid out as in :func:`best_alignments`, and aux (N,), as in
    :func:`similarity_rows`. target_lengths (n_oriented,) lengths of the oriented
    targets; length_order / group_start: the forward targets sorted by length and the
    start of each length. ``n_nearest`` < 0 fills output row q with every target in
    input order; otherwise with the ``n_nearest`` best by p-value (ties: lower index).
    ``scratch``: :func:`make_scratch` for at least as many threads and as wide queries.
    """
    w_max = scratch[5].shape[1]
    longest = np.zeros(w_max + 1, dtype=np.int64)  # longest target shorter than w
    for o in range(n_targets):
        t = target_lengths[o]
        for w in range(t + 1, w_max + 1):
            longest[w] = max(longest[w], t)
    for q in prange(q_width.shape[0]):
        tid = numba.get_thread_id()
        X = Q[:, q_start[q]:q_start[q] + q_width[q]]
        _one_query(euclid, X, out_row[q], Y, aux, group_length, group_size, group_base,
                   group_members, target_lengths, n_targets, reverse_complement,
                   length_order, group_start, n_bins, n_median_bins, min_overlap, n_nearest,
                   longest[q_width[q]], scratch[0][tid], scratch[1][tid], scratch[2][tid],
                   scratch[3][tid], scratch[4][tid], scratch[5][tid], scratch[6][tid],
                   scratch[7][tid], scratch[8][tid], scratch[9][tid], scratch[10][tid],
                   scratch[11][tid], scratch[12][tid], scratch[13][tid], scratch[14][tid],
                   scratch[15][tid], out_p, out_score, out_offset, out_overlap, out_strand,
                   out_target)


@njit(cache=True, nogil=True)
def _one_query(euclid, X, row, Y, aux, group_length, group_size, group_base, group_members,
               target_lengths, n_targets, reverse_complement, length_order, group_start,
               n_bins, n_median_bins, min_overlap, n_nearest, longest_inner, rows, gamma,
               index, lanes, median_hist, hist, sub_hist, stats, sums, best, per_oriented,
               per_target, acc, kernels, levels, meta, out_p, out_score, out_offset,
               out_overlap, out_strand, out_target):
    """Steps 1-5 for one query (constants X (5, nq)) into output row ``row``; the other
    arguments are :func:`run_queries`'s and one thread's scratch."""
    n_columns = Y.shape[1]
    low, high, median = stats[0], stats[1], stats[2]
    score, align, overlap, strand = per_target[0], per_target[1], per_target[2], \
        per_target[3]
    cand, cand_length, cand_score = per_target[4], per_target[5], per_target[6]
    nq = X.shape[1]
    # Four columns per database sweep; their medians while the rows are in cache.
    for first in range(0, nq, 4):
        count = min(4, nq - first)
        if count >= 3:
            similarity_rows(euclid, X, first, count, Y, aux, rows, low, high, lanes)
        else:
            for i in range(first, first + count):
                similarity_row(euclid, X, i, Y, aux, rows[i], low, high, lanes)
        for i in range(first, first + count):
            median[i] = binned_median(rows[i], low[i], high[i], n_median_bins, index,
                                      median_hist, lanes[0])
    i_min, bin_scale, offset = integer_scale(low, high, median, nq, n_bins)
    for i in range(nq):
        integerise(rows[i], median[i] + i_min, bin_scale, offset, n_bins, index, gamma[i],
                   sub_hist, hist[i])
    best_sum, best_align, best_overlap = per_oriented[0], per_oriented[1], per_oriented[2]
    best_alignments(gamma, nq, group_length, group_size, group_base, group_members,
                    min_overlap, sums, best[0], best[1], best_sum, best_align,
                    best_overlap)
    _merge_strands(best_sum, best_align, best_overlap, n_targets, reverse_complement,
                   nq * offset, score, align, overlap, strand)
    # Candidates in order of target length.
    if n_nearest < 0:
        n_cand = n_targets
        for c in range(n_targets):
            cand[c] = length_order[c]
    else:
        n_cand = _top_per_length(score, length_order, group_start, n_nearest, cand)
    for c in range(n_cand):
        cand_length[c] = target_lengths[cand[c]]
        cand_score[c] = score[cand[c]]
    null_pvalues(hist, n_columns, nq, offset, longest_inner, cand_length, cand_score,
                 n_cand, kernels, levels, meta, acc)
    for c in range(n_cand):
        p = acc[c]
        if reverse_complement:
            p = p + p * (1.0 - p)  # 1 - (1 - p)^2: twice the alignments
        acc[c] = min(max(p, 0.0), 1.0)
    if n_nearest < 0:
        order = np.arange(n_cand)
    else:
        # By p-value, ties to the lower target index.
        by_target = np.argsort(cand[:n_cand])
        order = by_target[np.argsort(acc[:n_cand][by_target], kind="mergesort")]
        order = order[:out_p.shape[1]]
    for k in range(order.shape[0]):
        c = order[k]
        o = cand[c]
        col = o if n_nearest < 0 else k
        out_p[row, col] = acc[c]
        out_score[row, col] = score[o]
        out_offset[row, col] = align[o] - (nq - 1)
        out_overlap[row, col] = overlap[o]
        out_strand[row, col] = strand[o]
        out_target[row, col] = o


@njit(cache=True, nogil=True)
def _merge_strands(best_sum, best_align, best_overlap, n_targets, reverse_complement, shift,
                   score, align, overlap, strand):
    """Per forward target, the better of its two orientations (larger sum, then larger
    overlap; ties to the forward strand); scores shifted by ``shift`` (nq * offset)."""
    for o in range(n_targets):
        src = o
        if reverse_complement:
            r_o = o + n_targets
            if best_sum[r_o] > best_sum[o] or (best_sum[r_o] == best_sum[o]
                                               and best_overlap[r_o] > best_overlap[o]):
                src = r_o
        score[o] = best_sum[src] + shift
        align[o] = best_align[src]
        overlap[o] = best_overlap[src]
        strand[o] = 1 if src != o else 0


@njit(cache=True, nogil=True)
def _top_per_length(score, length_order, group_start, k, cand):
    """Targets that can be among the k best by p-value: the k best-scoring of every
    length (ties to the lower index), in order of length. Returns their number."""
    n = score.shape[0]
    n_cand = 0
    for g in range(group_start.shape[0] - 1):
        members = length_order[group_start[g]:group_start[g + 1]]
        size = members.shape[0]
        if size <= k:
            for r in range(size):
                cand[n_cand] = members[r]
                n_cand += 1
            continue
        keys = np.empty(size, dtype=np.int64)
        for r in range(size):
            keys[r] = score[members[r]] * n + (n - 1 - members[r])
        order = np.argsort(keys)
        for r in range(k):
            cand[n_cand] = members[order[size - 1 - r]]
            n_cand += 1
    return n_cand
