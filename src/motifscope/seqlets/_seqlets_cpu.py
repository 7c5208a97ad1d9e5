"""The recursive seqlet caller on the CPU: binning and decoding as numba kernels.

:mod:`motifscope.seqlets` computes the same thing with whole-batch torch operations, which
is what a GPU wants; on a CPU each of those operations is one more pass over memory. Here
each example is handled start to finish while it is in cache, examples in parallel:

- :func:`bin_and_count` bins every value with tangermeme's arithmetic (``x - xmin`` in the
  track's dtype, a float64 division by the bin width, clamped, truncated) and counts the
  bins, in one pass;
- :func:`decode` builds, for one example, the candidates of each span length from those of
  the length below (a span passes when both spans one shorter inside it pass and its own
  bin sum reaches the length's smallest passing sum), then calls them longest first, within
  a length by increasing prefix p-value and then start, skipping any that overlaps a call.

The results are those of the torch engine exactly (the same integers and the same
float64 table look-ups). This module imports numba; :mod:`motifscope.seqlets` imports it
only for CPU runs and uses torch when numba is missing.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def bin_and_count(X, xmin, bin_width, n_bins, bins_out, n_chunks, count):
    """Bin ``X`` into ``bins_out`` and return the histogram of the bins (zeros unless
    ``count``).

    Parameters
    ----------
    X : float32 or float64 array, shape (n, L)
    xmin : scalar of X's dtype
        The left edge of bin 0 (the smallest value of the whole track).
    bin_width : float
    n_bins : int
    bins_out : int16 or int32 array, shape (n, L)
        Filled with ``clamp((x - xmin) / bin_width, 0, n_bins - 1)`` truncated.
    n_chunks : int
        Row blocks processed in parallel (one histogram each, summed at the end).
    count : bool
        Whether to fill the histogram (the calling pass only needs the bins).

    Returns
    -------
    int64 array, shape (n_bins,)
    """
    n, length = X.shape
    # four histograms per chunk, filled in turn: most values of a track share a few bins,
    # and consecutive increments of one counter would wait for each other
    counts = np.zeros((n_chunks, 4, n_bins), dtype=np.int64)
    top = np.float64(n_bins - 1)
    for c in prange(n_chunks):
        hist = counts[c]
        for i in range(c * n // n_chunks, (c + 1) * n // n_chunks):
            values, row = X[i], bins_out[i]
            # binning and counting in separate loops: the first one vectorises
            for j in range(length):
                v = np.float64(values[j] - xmin) / bin_width
                row[j] = int(min(max(v, 0.0), top))
            if not count:
                continue
            j = 0
            while j + 4 <= length:
                hist[0, row[j]] += 1
                hist[1, row[j + 1]] += 1
                hist[2, row[j + 2]] += 1
                hist[3, row[j + 3]] += 1
                j += 4
            for r in range(j, length):
                hist[0, row[r]] += 1
    total = np.zeros(n_bins, dtype=np.int64)
    for c in range(n_chunks):
        for h in range(4):
            total += counts[c, h]
    return total


@njit(cache=True, inline="always")
def _prefix_sums(bins_row, csum):
    csum[0] = 0
    for j in range(bins_row.shape[0]):
        csum[j + 1] = csum[j] + bins_row[j]


@njit(cache=True)
def _candidates(csum, tails, min_sums, threshold, min_len, max_len):
    """Candidates of every length of one example, level by level, in flat arrays.

    Returns ``(start, prefix_p, offsets, n_levels)``: level ``v`` (span length
    ``min_len + v``) occupies ``offsets[v]:offsets[v + 1]`` of ``start`` (sorted) and
    ``prefix_p``.
    """
    length = csum.shape[0] - 1
    first = np.empty(max(length - min_len + 1, 0), dtype=np.int64)
    count = 0
    need = min_sums[min_len]
    high, low = csum[min_len:], csum[:max(length - min_len + 1, 0)]
    for s in range(first.shape[0]):
        if high[s] - low[s] >= need:
            first[count] = s
            count += 1
    # sized by the first level: each level has fewer candidates than the one before
    n_levels_max = max(min(max_len, length) - min_len + 1, 1)
    start = np.empty(count * n_levels_max, dtype=np.int64)
    prefix_p = np.empty(count * n_levels_max, dtype=np.float64)
    offsets = np.zeros(n_levels_max + 1, dtype=np.int64)
    for a in range(count):
        s = first[a]
        start[a] = s
        prefix_p[a] = tails[min_len, csum[s + min_len] - csum[s]]
    offsets[1] = count
    if count == 0:
        return start, prefix_p, offsets, 0
    # the triangle p-value (largest over all sub-spans) of the previous level
    triangle = prefix_p[:count].copy()
    n_levels = 1
    for k in range(min_len + 1, min(max_len, length) + 1):
        lo, hi = offsets[n_levels - 1], offsets[n_levels]
        if hi - lo < 2:
            break
        out = hi
        next_triangle = np.empty(hi - lo - 1, dtype=np.float64)
        for a in range(lo, hi - 1):
            s = start[a]
            if start[a + 1] != s + 1:
                continue
            p = tails[k, csum[s + k] - csum[s]]
            pp = max(p, prefix_p[a])
            tp = max(pp, triangle[a + 1 - lo])
            if tp < threshold:
                start[out] = s
                prefix_p[out] = pp
                next_triangle[out - hi] = tp
                out += 1
        if out == hi:
            break
        triangle = next_triangle[:out - hi]
        n_levels += 1
        offsets[n_levels] = out
    return start, prefix_p, offsets, n_levels


@njit(cache=True, parallel=True)
def decode(bins, tails, min_sums, threshold, min_len, max_len, n_calls, core, span, p_value):
    """Call the seqlets of every example (rows of ``bins``) in parallel.

    Parameters
    ----------
    bins : int16 or int32 array, shape (n, L)
    tails : float64 array, shape (max_len + 1, n_bins * max_len + 1)
        ``tails[k, b]``: probability that a span of ``k`` positions has a bin sum >= b.
    min_sums : int64 array, shape (max_len + 1,)
        Smallest passing bin sum of each span length.
    threshold : float
    min_len, max_len : int
    n_calls : int64 array, shape (n,)
        Filled with the number of calls of each example.
    core, span : int64 arrays, shape (n, L // min_len + 1)
        Filled with each call's start and length, in call order.
    p_value : float64 array, same shape
        Filled with each call's own p-value (``tails[length, bin sum]``).
    """
    n, length = bins.shape
    for i in prange(n):
        csum = np.empty(length + 1, dtype=np.int64)
        _prefix_sums(bins[i], csum)
        start, prefix_p, offsets, n_levels = _candidates(csum, tails, min_sums, threshold,
                                                         min_len, max_len)
        called = np.zeros(length, dtype=np.bool_)
        made = 0
        for v in range(n_levels - 1, -1, -1):
            k = min_len + v
            lo, hi = offsets[v], offsets[v + 1]
            # starts are sorted, so a stable sort by prefix p-value breaks ties by start
            for o in np.argsort(prefix_p[lo:hi], kind="mergesort"):
                s = start[lo + o]
                free = True
                for j in range(s, s + k):
                    if called[j]:
                        free = False
                        break
                if not free:
                    continue
                called[s:s + k] = True
                core[i, made] = s
                span[i, made] = k
                p_value[i, made] = tails[k, csum[s + k] - csum[s]]
                made += 1
        n_calls[i] = made


@njit(cache=True, parallel=True)
def add_shifted(previous, nonzero, weights, out):
    """``out[j:j + len(previous)] += previous * w`` for each (j, w), j ascending.

    Every element of ``out`` receives its terms in the same order as that sequential loop,
    so the sums are the same; blocks of ``out`` are filled in parallel.

    Parameters
    ----------
    previous : float64 array, shape (m,)
    nonzero : int64 array, shape (t,), ascending
    weights : float64 array, shape (t,)
    out : float64 array, shape (>= nonzero[-1] + m,), added to in place
    """
    width = previous.shape[0]
    n_out = out.shape[0]
    block = 2048
    for b in prange((n_out + block - 1) // block):
        lo = b * block
        hi = min(lo + block, n_out)
        for t in range(nonzero.shape[0]):
            j = nonzero[t]
            w = weights[t]
            a, e = max(lo, j), min(hi, j + width)
            if e <= a:
                continue
            source = previous[a - j:e - j]
            target = out[a:e]
            for i in range(e - a):
                target[i] += source[i] * w
