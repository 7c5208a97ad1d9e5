"""numba kernels of the TF-MoDISco engine (:mod:`motifscope.denovo.engine`).

The continuous Jaccard similarity of two seqlets is ``sum(sign(a) sign(b) min(|a|, |b|)) /
sum(max(|a|, |b|))`` over the positions and channels they share. modisco-lite evaluates it
with three nested loops over (position, channel) and two ``np.sign`` calls per value; here
each candidate offset of the second seqlet is one contiguous run of ``d * m`` values (an
offset moves the window by whole positions of ``m`` channels), so the innermost loop is a
flat reduction that LLVM vectorises, with the sign product as a select. The kernels are
compiled once and cached on disk (``cache=True``), where modisco-lite compiles its lazily
typed kernels in every process. Unlike the other ``_*_cpu`` modules these have no torch
counterpart: modisco-lite, whose procedure they serve, needs numba itself.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True, inline="always")
def _continuous_jaccard(x, y, base, width):
    """Jaccard of ``x[:width]`` and ``y[base:base + width]`` (0 when both are all zero)."""
    num = x.dtype.type(0.0)
    den = x.dtype.type(0.0)
    for t in range(width):
        a = x[t]
        b = y[base + t]
        abs_a = abs(a)
        abs_b = abs(b)
        smaller = min(abs_a, abs_b)
        den += max(abs_a, abs_b)
        num += smaller if a * b >= 0 else -smaller
    return num / den if den > 0 else 0.0


@njit(cache=True, parallel=True, fastmath=True)
def sliding_jaccard(X, Y, neighbors, channels, scores):
    """Jaccard of each seqlet's neighbours at every offset.

    Parameters
    ----------
    X : float32 array, shape (n_x, d * m)
        The neighbours' data, each (d, m) block flattened.
    Y : float32 array, shape (n_y, (d + 2 * pad) * m)
        The seqlets' data, zero-padded by ``pad`` positions on both sides and flattened.
    neighbors : int32 array, shape (n_y, k)
        Rows of X compared with each row of Y.
    channels : int
        m, the channels per position.
    scores : float32 array, shape (n_y, k, n_offsets), filled
        ``scores[l, i, o]`` compares ``X[neighbors[l, i]]`` with Y[l]'s positions
        ``o .. o + d``.
    """
    n_y, k = neighbors.shape
    n_offsets = scores.shape[2]
    width = X.shape[1]
    for row in prange(n_y):
        y = Y[row]
        for i in range(k):
            x = X[neighbors[row, i]]
            for o in range(n_offsets):
                scores[row, i, o] = _continuous_jaccard(x, y, o * channels, width)


@njit(cache=True, parallel=True, fastmath=True)
def best_sliding_jaccard(X, Y, neighbors, channels, n_offsets, best):
    """:func:`sliding_jaccard` reduced to each pair's best offset as it goes: ``best``
    (float32, shape (n_y, k)) is filled, and the (n_y, k, n_offsets) scores, a gigabyte at
    20,000 seqlets, are never held."""
    n_y, k = neighbors.shape
    width = X.shape[1]
    for row in prange(n_y):
        y = Y[row]
        for i in range(k):
            x = X[neighbors[row, i]]
            top = _continuous_jaccard(x, y, 0, width)
            for o in range(1, n_offsets):
                top = max(top, _continuous_jaccard(x, y, o * channels, width))
            best[row, i] = top


@njit(cache=True, parallel=True, fastmath=True)
def rows_jaccard(X, first, out):
    """Jaccard of rows ``first .. first + len(out)`` of X (float32/float64, shape (n, w))
    with every row of X, into out (float64, shape (len(out), n))."""
    n, width = X.shape
    for i in prange(out.shape[0]):
        for j in range(n):
            out[i, j] = _continuous_jaccard(X[first + i], X[j], 0, width)


@njit(cache=True)
def perplexity_betas(data, indptr, desired_perplexity):
    """modisco-lite's per-row binary search (``util.binary_search_perplexity``) over the rows
    of a CSR matrix: the beta of each row whose kernel ``exp(-d * beta)`` (plus one for the
    row itself) has the wanted perplexity. Returns float64 array, shape (n_rows,)."""
    n = len(indptr) - 1
    betas = np.empty(n)
    desired_entropy = np.log(desired_perplexity)
    for row in range(n):
        d = data[indptr[row]:indptr[row + 1]]
        beta_min = -np.inf
        beta_max = np.inf
        beta = 1.0
        for _ in range(100):
            sum_ps = 1.0
            weighted = 0.0
            for v in d:
                p = np.exp(-v * beta)
                sum_ps += p
                weighted += v * p
            weighted /= max(sum_ps, 1e-8)
            entropy_diff = np.log(sum_ps) + beta * weighted - desired_entropy
            if abs(entropy_diff) <= 1e-5:
                break
            if entropy_diff > 0.0:
                beta_min = beta
                beta = beta * 2.0 if beta_max == np.inf else (beta + beta_max) / 2.0
            else:
                beta_max = beta
                beta = beta / 2.0 if beta_min == -np.inf else (beta + beta_min) / 2.0
        betas[row] = beta
    return betas
