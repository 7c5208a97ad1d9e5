"""TOMTOM for PWM queries on the CPU: the whole per-query pipeline as one numba kernel.

The torch engine in :mod:`motifscope.motifs.tomtom` works on (query columns x database
columns) matrices, one element-wise pass per step; for PWM queries, whose columns are all
different, that is about 25 passes over ~10^8 values for JASPAR all-vs-all. Here one query
is processed at a time while its data stay in cache, in the same steps and with the same
definitions (see the module docstring of ``tomtom``):

1. similarity rows of the query columns against the unique database columns, with each
   row's min and max in the same sweep;
2. memelite's binned median of each row (1000 bins, mean of the crossing bin);
3. the query's integer scale and, per column, the integer scores and their histogram
   (integer counts; the null pmf is ``counts / n_columns``);
4. the best alignment with every oriented target (sums of integer scores, ties to the
   larger overlap, then the leftmost alignment), strands merged (ties to the forward
   strand);
5. the p-value of each candidate target: the span distributions of the query are built
   level by level (span length m from length m - 1, one exact float64 convolution with a
   column's pmf), and each alignment contributes ``q = P(span sum >= score)`` read from the
   upper tail (summed from the top, so small tails keep full relative precision); the
   alignments are combined as a union of independent events, ``acc += q (1 - acc)``, which
   equals ``1 - prod(1 - q)`` without logarithms and keeps relative precision for tiny
   p-values. Both strands: ``p = 1 - (1 - acc)^2``.

Queries run in parallel (``prange`` over interleaved chunks, one scratch set per chunk).
Results equal the torch engine's up to floating-point summation order (relative
differences of order 1e-15 in p; integer scores, offsets, overlaps and strands are the
same unless a column score sits exactly on a rounding boundary).

This module imports numba; :mod:`motifscope.motifs.tomtom` imports it only for CPU runs
and falls back to torch when numba is missing.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

_LANES = 64  # lanes of the vectorised running min / max


# --------------------------------------------------------------------------------------
# Steps 1-3: column scores, medians, integer scores and their histograms
# --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def similarity_rows(X, Y, aux, euclidean, rows, low, high, lanes):
    """Similarity of every query column with every database column, and row extremes.

    X (4, nq) query columns; Y (4, M) database columns (centred at 1/4 for Pearson);
    aux (M,) their squared norms (Euclidean) or sums of squares of the centred values
    (Pearson). Writes rows[i, :M] = -||x_i - y_j|| (memelite's operation order: the norm
    sum, minus each 2 x_k y_k) or the Pearson correlation (0 without variance), and
    low[i], high[i] = min and max of row i. ``lanes`` is (2, 64) scratch.
    """
    nq, m = X.shape[1], Y.shape[1]
    y0, y1, y2, y3 = Y[0], Y[1], Y[2], Y[3]
    n_blocks = m - m % _LANES
    lo_lane, hi_lane = lanes[0], lanes[1]
    for i in range(nq):
        row = rows[i]
        if euclidean:
            x0, x1, x2, x3 = X[0, i], X[1, i], X[2, i], X[3, i]
            norm = x0 * x0 + x1 * x1 + x2 * x2 + x3 * x3
            a0, a1, a2, a3 = 2 * x0, 2 * x1, 2 * x2, 2 * x3
            for j in range(m):
                z = norm + aux[j]
                z -= a0 * y0[j]
                z -= a1 * y1[j]
                z -= a2 * y2[j]
                z -= a3 * y3[j]
                row[j] = -math.sqrt(z) if z > 0 else 0.0
        else:
            c0, c1, c2, c3 = X[0, i] - 0.25, X[1, i] - 0.25, X[2, i] - 0.25, X[3, i] - 0.25
            squares = c0 * c0 + c1 * c1 + c2 * c2 + c3 * c3
            for j in range(m):
                den = math.sqrt(squares * aux[j])
                num = c0 * y0[j] + c1 * y1[j] + c2 * y2[j] + c3 * y3[j]
                row[j] = num / den if den != 0 else 0.0
        # Running min / max in 64 independent lanes (an element-wise loop vectorises; a
        # single running value is a serial chain). Values are never NaN.
        for u in range(_LANES):
            lo_lane[u] = np.inf
            hi_lane[u] = -np.inf
        for j0 in range(0, n_blocks, _LANES):
            for u in range(_LANES):
                v = row[j0 + u]
                lo_lane[u] = v if v < lo_lane[u] else lo_lane[u]
                hi_lane[u] = v if v > hi_lane[u] else hi_lane[u]
        lo, hi = np.inf, -np.inf
        for u in range(_LANES):
            lo = min(lo, lo_lane[u])
            hi = max(hi, hi_lane[u])
        for j in range(n_blocks, m):
            lo = min(lo, row[j])
            hi = max(hi, row[j])
        low[i], high[i] = lo, hi


@njit(cache=True, nogil=True)
def binned_median(row, low, high, n_bins, index, hist):
    """memelite's binned median of ``row``.

    Values go to ``n_bins`` equal bins between ``low`` and ``high`` (index
    ``int((v - low) / (high - low) * (n_bins - 1))``); the result is the mean of the
    values in the first bin where the cumulative count reaches half the number of values.
    A row whose values are all equal has that value as its median. ``index`` (N,) int32
    and ``hist`` (n_bins,) int32 are scratch.
    """
    spread = high - low
    if spread == 0:
        return low
    m = row.shape[0]
    scale = n_bins - 1
    for j in range(m):
        index[j] = int((row[j] - low) / spread * scale)
    for b in range(n_bins):
        hist[b] = 0
    for j in range(m):
        hist[index[j]] += 1
    halfway = m / 2
    total = 0
    crossing = n_bins - 1
    for b in range(n_bins):
        total += hist[b]
        if total >= halfway:
            crossing = b
            break
    s = 0.0
    for j in range(m):
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
def integerise(row, centre, bin_scale, offset, n_bins, index, gamma_row, hist_row):
    """Integer scores ``x = floor((g - centre) * bin_scale + 0.5)`` of one query column.

    ``centre`` is the column's median plus i_min. Writes gamma_row[j] = x_j - offset (the
    median-centred score) and hist_row[x] = number of database columns scoring x.
    """
    m = row.shape[0]
    for j in range(m):
        x = int(math.floor((row[j] - centre) * bin_scale + 0.5))
        x = min(max(x, 0), n_bins)
        index[j] = x
        gamma_row[j] = x - offset
    for x in range(n_bins + 1):
        hist_row[x] = 0
    for j in range(m):
        hist_row[index[j]] += 1


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
    ``group_members`` lists the oriented targets group by group. gamma (nq, N)
    median-centred integer scores. Alignment ``a`` puts query column i on target column
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
        # Keys 128 * sum + overlap order alignments by sum, then overlap; a strict
        # comparison in increasing a keeps the leftmost of equal keys.
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
                key = row[r] * 128 + ov
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
def _convolve(a, n_a, kernel, n_k, out):
    """out[:n_a + n_k - 1] = full convolution of a[:n_a] with kernel[:n_k]."""
    for t in range(n_a + n_k - 1):
        out[t] = 0.0
    for s in range(n_k):
        c = kernel[s]
        if c != 0.0:
            for t in range(n_a):
                out[t + s] += c * a[t]


@njit(cache=True, nogil=True)
def _upper_tail(pmf, n, tail):
    """tail[k] = P(X >= lo + k) for k < n, summed from the top, clipped to [0, 1]."""
    acc = 0.0
    for k in range(n - 1, -1, -1):
        acc += pmf[k]
        tail[k] = min(acc, 1.0)


@njit(cache=True, nogil=True)
def _tail_at(tail, lo, n, v):
    """P(X >= v) for a span whose distribution starts at lo and has n bins."""
    k = v - lo
    if k <= 0:
        return 1.0
    if k >= n:
        return 0.0
    return tail[k]


@njit(cache=True, nogil=True)
def _union(acc, q):
    """P(A or B) for independent A (probability acc) and B (probability q)."""
    if q >= 1.0:
        return 1.0
    return acc + q * (1.0 - acc)


@njit(cache=True, nogil=True)
def null_pvalues(hist, n_total, nq, offset, longest_inner, cand_length, cand_score, n_cand,
                 kernels, k_lo, k_n, cur, nxt, lo_cur, lo_nxt, n_cur, n_nxt, tail, acc):
    """P(max over all alignments >= observed score) for each candidate (one strand).

    hist (nq, n_bins + 1) integer counts of each column's scores; the alignment score of
    a span of m query columns is its sum of integer scores plus ``offset * (nq - m)``.
    ``longest_inner`` is the longest target shorter than the query (0 if none): every
    span up to that length is built; longer ones only as prefix and suffix. Writes
    acc[:n_cand]. The remaining arguments are scratch of shape (nq, nq * n_bins + 1) or
    (nq,).
    """
    n_bins = hist.shape[1] - 1
    inv_total = 1.0 / n_total
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
    # The longest candidate decides which levels need lookups.
    max_len = 0
    for c in range(n_cand):
        max_len = max(max_len, cand_length[c])
    for m in range(1, nq + 1):
        n_win = nq - m + 1
        all_windows = m <= max(longest_inner, 1)
        if m == 1:
            for i in range(nq):
                lo_cur[i], n_cur[i] = k_lo[i], k_n[i]
                for x in range(k_n[i]):
                    cur[i, x] = kernels[i, x]
        elif all_windows:
            for i in range(n_win):
                j = i + m - 1
                _convolve(cur[i], n_cur[i], kernels[j], k_n[j], nxt[i])
                lo_nxt[i], n_nxt[i] = lo_cur[i] + k_lo[j], n_cur[i] + k_n[j] - 1
            cur, nxt = nxt, cur
            lo_cur, lo_nxt = lo_nxt, lo_cur
            n_cur, n_nxt = n_nxt, n_cur
        else:
            # Prefix (extend right) and suffix (extend left) only.
            j = m - 1
            _convolve(cur[0], n_cur[0], kernels[j], k_n[j], nxt[0])
            lo_nxt[0], n_nxt[0] = lo_cur[0] + k_lo[j], n_cur[0] + k_n[j] - 1
            s = n_win - 1
            if s > 0:
                _convolve(cur[s + 1], n_cur[s + 1], kernels[s], k_n[s], nxt[s])
                lo_nxt[s], n_nxt[s] = lo_cur[s + 1] + k_lo[s], n_cur[s + 1] + k_n[s] - 1
            cur, nxt = nxt, cur
            lo_cur, lo_nxt = lo_nxt, lo_cur
            n_cur, n_nxt = n_nxt, n_cur
        if m > max_len and m < nq:
            continue
        inner = False
        for c in range(n_cand):
            if cand_length[c] == m and m < nq:
                inner = True
                break
        last = n_win - 1
        if inner:
            for i in range(n_win):
                _upper_tail(cur[i], n_cur[i], tail[i])
        else:
            _upper_tail(cur[0], n_cur[0], tail[0])
            if last > 0:
                _upper_tail(cur[last], n_cur[last], tail[last])
        shift = offset * (nq - m)
        for c in range(n_cand):
            a = acc[c]
            if a >= 1.0:
                continue
            t = cand_length[c]
            v = cand_score[c] - shift
            if m < nq and m < t:
                a = _union(a, _tail_at(tail[0], lo_cur[0], n_cur[0], v))
                a = _union(a, _tail_at(tail[last], lo_cur[last], n_cur[last], v))
            elif m == t and t < nq:
                for i in range(n_win):
                    a = _union(a, _tail_at(tail[i], lo_cur[i], n_cur[i], v))
            if m == nq and t >= nq:
                q = _tail_at(tail[0], lo_cur[0], n_cur[0], v)
                for _ in range(t - nq + 1):
                    a = _union(a, q)
            acc[c] = a


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def _top_per_length(score, length_order, group_start, k, cand):
    """Targets that can be among the k best by p-value: the k best-scoring of every
    length (ties to the lower index). Returns their number; ``cand`` gets the indices."""
    n = score.shape[0]
    n_cand = 0
    for g in range(group_start.shape[0] - 1):
        members = length_order[group_start[g]:group_start[g + 1]]
        if members.shape[0] <= k:
            for r in range(members.shape[0]):
                cand[n_cand] = members[r]
                n_cand += 1
            continue
        keys = np.empty(members.shape[0], dtype=np.int64)
        for r in range(members.shape[0]):
            keys[r] = score[members[r]] * n + (n - 1 - members[r])
        order = np.argsort(keys)
        for r in range(k):
            cand[n_cand] = members[order[members.shape[0] - 1 - r]]
            n_cand += 1
    return n_cand


@njit(parallel=True, cache=True)
def run_queries(Q, q_start, q_width, order, Y, aux, euclidean, group_length, group_size,
                group_base, group_members, target_lengths, n_targets, reverse_complement,
                length_order, group_start, n_bins, n_median_bins, min_overlap, n_nearest,
                n_chunks, out_p, out_score, out_offset, out_overlap, out_strand, out_target):
    """TOMTOM for the queries ``order`` (indices into q_start / q_width / output rows).

    Q (4, total query columns). Y (4, N): every column of every oriented target (forward
    targets, then their reverse complements when ``reverse_complement``), laid out as in
    :func:`best_alignments`; aux (N,) as in :func:`similarity_rows`. target_lengths (n_or,)
    lengths of the oriented targets; length_order / group_start: the forward targets
    sorted by length and the start of each length. ``n_nearest`` < 0 fills output row q
    with every target in input order; otherwise with the ``n_nearest`` best by p-value
    (ties: lower index).
    """
    n_columns = Y.shape[1]
    n_oriented = target_lengths.shape[0]
    w_max = 1
    for r in range(order.shape[0]):
        w_max = max(w_max, q_width[order[r]])
    t_max, size_max = 1, 1
    for g in range(group_length.shape[0]):
        t_max = max(t_max, group_length[g])
        size_max = max(size_max, group_size[g])
    longest = np.zeros(w_max + 1, dtype=np.int64)  # longest target shorter than w
    for o in range(n_targets):
        t = target_lengths[o]
        for w in range(t + 1, w_max + 1):
            longest[w] = max(longest[w], t)
    capacity = w_max * n_bins + 1
    for chunk in prange(n_chunks):
        rows = np.empty((w_max, n_columns), dtype=np.float64)
        gamma = np.empty((w_max, n_columns), dtype=np.int32)
        index = np.empty(n_columns, dtype=np.int32)
        lanes = np.empty((2, _LANES), dtype=np.float64)
        median_hist = np.empty(n_median_bins, dtype=np.int32)
        hist = np.empty((w_max, n_bins + 1), dtype=np.int64)
        low = np.empty(w_max, dtype=np.float64)
        high = np.empty(w_max, dtype=np.float64)
        median = np.empty(w_max, dtype=np.float64)
        sums = np.empty((w_max + t_max, size_max), dtype=np.int32)
        best = np.empty(size_max, dtype=np.int64)
        best_at = np.empty(size_max, dtype=np.int64)
        best_sum = np.empty(n_oriented, dtype=np.int64)
        best_align = np.empty(n_oriented, dtype=np.int64)
        best_overlap = np.empty(n_oriented, dtype=np.int64)
        score = np.empty(n_targets, dtype=np.int64)
        align = np.empty(n_targets, dtype=np.int64)
        overlap = np.empty(n_targets, dtype=np.int64)
        strand = np.empty(n_targets, dtype=np.int8)
        cand = np.empty(n_targets, dtype=np.int64)
        cand_length = np.empty(n_targets, dtype=np.int64)
        cand_score = np.empty(n_targets, dtype=np.int64)
        acc = np.empty(n_targets, dtype=np.float64)
        kernels = np.empty((w_max, n_bins + 1), dtype=np.float64)
        k_lo = np.empty(w_max, dtype=np.int64)
        k_n = np.empty(w_max, dtype=np.int64)
        cur = np.empty((w_max, capacity), dtype=np.float64)
        nxt = np.empty((w_max, capacity), dtype=np.float64)
        tail = np.empty((w_max, capacity), dtype=np.float64)
        lo_cur = np.empty(w_max, dtype=np.int64)
        lo_nxt = np.empty(w_max, dtype=np.int64)
        n_cur = np.empty(w_max, dtype=np.int64)
        n_nxt = np.empty(w_max, dtype=np.int64)
        for r in range(chunk, order.shape[0], n_chunks):
            q = order[r]
            nq = q_width[q]
            X = Q[:, q_start[q]:q_start[q] + nq]
            similarity_rows(X, Y, aux, euclidean, rows, low, high, lanes)
            for i in range(nq):
                median[i] = binned_median(rows[i], low[i], high[i], n_median_bins, index,
                                          median_hist)
            i_min, bin_scale, offset = integer_scale(low, high, median, nq, n_bins)
            for i in range(nq):
                integerise(rows[i], median[i] + i_min, bin_scale, offset, n_bins, index,
                           gamma[i], hist[i])
            best_alignments(gamma, nq, group_length, group_size, group_base, group_members,
                            min_overlap, sums, best, best_at, best_sum, best_align,
                            best_overlap)
            for o in range(n_targets):
                use_rc = False
                if reverse_complement:
                    r_o = o + n_targets
                    use_rc = best_sum[r_o] > best_sum[o] or (
                        best_sum[r_o] == best_sum[o] and best_overlap[r_o] > best_overlap[o])
                src = o + n_targets if use_rc else o
                score[o] = best_sum[src] + nq * offset
                align[o] = best_align[src]
                overlap[o] = best_overlap[src]
                strand[o] = 1 if use_rc else 0
            if n_nearest < 0:
                n_cand = n_targets
                for o in range(n_targets):
                    cand[o] = o
            else:
                n_cand = _top_per_length(score, length_order, group_start, n_nearest, cand)
            for c in range(n_cand):
                cand_length[c] = target_lengths[cand[c]]
                cand_score[c] = score[cand[c]]
            null_pvalues(hist, n_columns, nq, offset, longest[nq], cand_length, cand_score,
                         n_cand, kernels, k_lo, k_n, cur, nxt, lo_cur, lo_nxt, n_cur, n_nxt,
                         tail, acc)
            for c in range(n_cand):
                p = acc[c]
                if reverse_complement:
                    p = p + p * (1.0 - p)
                acc[c] = min(max(p, 0.0), 1.0)
            if n_nearest < 0:
                for c in range(n_cand):
                    o = cand[c]
                    out_p[q, o] = acc[c]
                    out_score[q, o] = score[o]
                    out_offset[q, o] = align[o] - (nq - 1)
                    out_overlap[q, o] = overlap[o]
                    out_strand[q, o] = strand[o]
                    out_target[q, o] = o
            else:
                by_target = np.argsort(cand[:n_cand])
                p_sorted = acc[:n_cand][by_target]
                ranked = by_target[np.argsort(p_sorted, kind="mergesort")]
                for k in range(out_p.shape[1]):
                    c = ranked[k]
                    o = cand[c]
                    out_p[q, k] = acc[c]
                    out_score[q, k] = score[o]
                    out_offset[q, k] = align[o] - (nq - 1)
                    out_overlap[q, k] = overlap[o]
                    out_strand[q, k] = strand[o]
                    out_target[q, k] = o
