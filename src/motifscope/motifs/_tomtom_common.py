"""What the TOMTOM modules share: the query width limit, the result type
(:class:`TomtomResult`, re-exported by :mod:`motifscope.motifs.tomtom`) and the array helpers
of the torch engine (unique rows, window keys, the binned median, histogram compaction,
log-CDF tables, top scores per target length, span keys).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motifscope.utils import full_float32_matmul


MAX_QUERY_WIDTH = 64


# Span distributions are shared by composition when every score class has at most this
# many distinct query-column kinds (keys are base-65 digit strings packed in an int64).
_MAX_KINDS_PER_CLASS = 8
_KEY_BASE = MAX_QUERY_WIDTH + 1


@dataclass
class TomtomResult:
    """Arrays from :func:`tomtom_pvalues`, each of shape ``(n_queries, k)``.

    ``k`` is the number of targets, or ``n_nearest`` when it was given (then row ``i``
    lists query ``i``'s best targets, best first, and ``target_idx`` says which).

    Attributes
    ----------
    p_values : numpy.ndarray of float64
    scores : numpy.ndarray of int64
        Best alignment score in the query's integer units (comparable only within a query).
    offsets : numpy.ndarray of int64
        Position in the (possibly reverse-complemented) target of the query's first
        column; negative when the query's first columns overhang.
    overlaps : numpy.ndarray of int64
        Number of aligned columns.
    strands : numpy.ndarray of int8
        0: the target as given; 1: its reverse complement.
    target_idx : numpy.ndarray of int64
        Index of the target in the target list.
    n_targets : int
        Number of (forward) targets, for E-values.
    """

    p_values: np.ndarray
    scores: np.ndarray
    offsets: np.ndarray
    overlaps: np.ndarray
    strands: np.ndarray
    target_idx: np.ndarray
    n_targets: int

    def __iter__(self):
        return iter((self.p_values, self.scores, self.offsets, self.overlaps, self.strands,
                     self.target_idx))


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a (n, 4) float64 array (compared bytewise) and each row's index."""
    rows = np.where(rows == 0, 0.0, rows)  # -0.0 and 0.0 are the same column
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def _row_chunk(n_columns: int) -> int:
    """Rows per chunk so a (rows, n_columns) float64 block stays near 4 MB (cache-sized)."""
    return max(1, (4 * 2**20) // (8 * max(1, n_columns)))


def _window_keys_gemm(local, laid_out, tie):
    """Window keys ``128 * sum + tie`` as one matrix product (few column kinds, e.g.
    one-hot seqlets): every window of ``laid_out`` (P, L_flat) times each query's one-hot
    kind matrix (``local`` (B, w) indexes the rows of ``laid_out``), plus ``tie`` (L_out,)
    through an extra row read at the window start. Integers below 2^24 are exact in
    float32. Returns (L_out, B) float32.
    """
    n_kinds, width = len(laid_out), local.shape[1]
    n_out = laid_out.shape[1] - width + 1
    signal = torch.cat([laid_out.to(torch.float32),
                        torch.nn.functional.pad(tie, (0, width - 1))[None]], 0)
    windows = signal.unfold(1, width, 1).permute(1, 0, 2).reshape(n_out, -1)
    weight = torch.zeros((len(local), n_kinds + 1, width), dtype=torch.float32,
                         device=local.device)
    weight.scatter_(1, local[:, None, :], 128.0)
    weight[:, n_kinds, 0] = 1.0
    with full_float32_matmul():
        return windows @ weight.reshape(len(local), -1).T


def _window_keys_add(pairs, shifted, flat, tie):
    """Window keys ``128 * sum + tie`` by adding each query column's scores at its shift.

    The scores of the queries' columns are laid out position-major, (L_flat, B * w), so
    the layout is built from contiguous row copies, and column i of every query is the
    strided slice ``[:, :, i]``. Returns (L_out, B) float32.
    """
    n_b, width = pairs.shape
    rows = torch.index_select(shifted, 0, pairs.reshape(-1))  # (B * w, M_u + 1)
    laid_out = torch.index_select(rows.T.contiguous(), 0, flat).view(-1, n_b, width)
    n_out = laid_out.shape[0] - width + 1
    sums = laid_out[:n_out, :, 0].clone()
    for i in range(1, width):
        sums += laid_out[i:i + n_out, :, i]
    return sums.to(torch.float32).mul_(128.0).add_(tie[:, None])


def _binned_median(dissim, low, high, counts, halfway, n_bins):
    """memelite's binned median of the scores ``g = -dissim``, returned as a dissimilarity.

    The scores of a row are put in ``n_bins`` equal bins between their min and max (the
    index ``int((g - g_min) / (g_max - g_min) * (n_bins - 1))``, here written with
    ``g - g_min = d_max - d``, the same floating-point operation); the median is the
    count-weighted mean of the values in the first bin where the cumulative count reaches
    half the total. A row whose values are all equal has that value as its median.
    """
    spread = high - low
    safe = torch.where(spread == 0, torch.ones_like(spread), spread)
    # (high - d) / range * (n_bins - 1), in place, in memelite's order of operations; the
    # value lies in [0, n_bins - 1] by construction.
    index = torch.neg(dissim).add_(high[:, None]).div_(safe[:, None]).mul_(n_bins - 1)
    index = index.to(torch.int64)
    n_rows = len(dissim)
    weights = counts.expand(n_rows, -1)
    count = torch.zeros((n_rows, n_bins), dtype=torch.float64, device=dissim.device)
    count.scatter_add_(1, index, weights)
    total = torch.zeros_like(count).scatter_add_(1, index, dissim * counts)
    crossing = (torch.cumsum(count, 1) >= halfway).to(torch.int8).argmax(1, keepdim=True)
    median = torch.gather(total, 1, crossing)[:, 0] / torch.gather(count, 1, crossing)[:, 0]
    return torch.where(spread == 0, high, median)


def _compact(hist):
    """Kernels cut to their support: (P, K) values, first bin and support width."""
    nonzero = hist > 0
    any_mass = nonzero.any(1)
    first = torch.where(any_mass, nonzero.to(torch.int8).argmax(1), torch.zeros_like(
        any_mass, dtype=torch.int64))
    last = hist.shape[1] - 1 - torch.flip(nonzero, [1]).to(torch.int8).argmax(1)
    last = torch.where(any_mass, last, first)
    width = last - first + 1
    k = int(width.max())
    idx = first[:, None] + torch.arange(k, device=hist.device)[None, :]
    inside = idx <= last[:, None]
    kern = torch.where(inside, torch.gather(hist, 1, idx.clamp(max=hist.shape[1] - 1)),
                       torch.zeros((), dtype=hist.dtype, device=hist.device))
    return kern, first, width


def _log_cdf_table(pdf):
    """``table[r, j] = log P(X_r < lo_r + j)`` for j in [0, W], accurate at both ends.

    Below the median the log of the lower cumulative sum is used; above it, log1p of
    minus the upper tail, so tiny tail probabilities keep full relative precision.
    """
    n_rows = len(pdf)
    zeros = pdf.new_zeros((n_rows, 1))
    below = torch.cat([zeros, torch.cumsum(pdf, 1)], 1)  # P(X < lo + j)
    above = torch.cat([torch.flip(torch.cumsum(torch.flip(pdf, [1]), 1), [1]), zeros], 1)
    above = above.clamp(0.0, 1.0)
    return torch.where(above < 0.5, torch.log1p(-above), torch.log(below))


def _top_per_length(score, lengths, k):
    """Indices of the k best-scoring targets of every length, per query.

    Within a length the p-value falls as the score rises, so only these targets can be
    among the k best by p-value. Ties go to the lower target index.
    """
    n = score.shape[1]
    rank_bits = max(1, int(n).bit_length())
    chosen = []
    for t in torch.unique(lengths).tolist():
        members = torch.nonzero(lengths == t).ravel()
        key = (score[:, members] << rank_bits) + (n - 1 - members)[None, :]
        top = torch.topk(key, min(k, len(members)), dim=1).indices
        chosen.append(members[top])
    return torch.cat(chosen, 1)


class _SpanKeys:
    """Identify the distinct spans of query columns at each length.

    A span is (query b, first column i, length m). When every score class has few
    distinct column kinds, the null distribution of a span depends only on its class and
    composition (the multiset of kinds), so spans are keyed by that and shared between
    queries; otherwise every span is its own row.
    """

    def __init__(self, pair_table, widths, pair_class):
        self.pairs = pair_table
        self.widths = widths
        dev = pair_table.device
        n_classes = int(pair_class.max()) + 1
        kinds_per_class = torch.bincount(pair_class, minlength=n_classes)
        # Keys are class * base^8 + counts in base 65: exact in int64 while the class
        # number stays below 2^63 / 65^8 (~28,000; batches hold at most 4,096 queries).
        self.shared = int(kinds_per_class.max()) <= _MAX_KINDS_PER_CLASS and \
            int(widths.max()) < _KEY_BASE and \
            n_classes * _KEY_BASE ** _MAX_KINDS_PER_CLASS < 2**63
        if self.shared:
            # Local digit of each pair within its class.
            order = torch.argsort(pair_class, stable=True)
            start = torch.cumsum(kinds_per_class, 0) - kinds_per_class
            local = torch.empty_like(pair_class)
            local[order] = torch.arange(len(pair_class), device=dev) - start[pair_class[order]]
            self.digit = torch.tensor(_KEY_BASE, device=dev) ** local
            self.class_key = pair_class * _KEY_BASE ** _MAX_KINDS_PER_CLASS
        self.keys = None
        self.rowid = None

    def level(self, m):
        """Rows of length-m spans: (rowid (n_b, w_max), parent row, kernel pair) per row.

        ``rowid[b, i]`` is the row of span (b, i, m), -1 where it does not exist;
        ``parent[r]`` is the row of a length m-1 span that, convolved with column kind
        ``kernel[r]``, gives row r.
        """
        pairs, widths = self.pairs, self.widths
        n_b, w_max = pairs.shape
        dev = pairs.device
        i = torch.arange(w_max, device=dev)
        exists = i[None, :] < (widths - m + 1)[:, None]
        last = (i + m - 1).clamp(max=w_max - 1)
        new_kind = torch.where(exists, pairs[:, last], torch.zeros_like(pairs))
        if self.shared:
            add = self.digit[new_kind]
            if m == 1:
                keys = self.class_key[new_kind] + add
            else:
                keys = self.keys + add
            keys = torch.where(exists, keys, torch.full_like(keys, -1))
            flat = keys[exists]
            unique, inverse = torch.unique(flat, return_inverse=True)
            rowid = torch.full_like(keys, -1)
            rowid[exists] = inverse
            # A representative (b, i) per row: the first occurrence.
            where = torch.nonzero(exists)
            first = torch.full((len(unique),), len(flat), dtype=torch.int64, device=dev)
            first = first.scatter_reduce(0, inverse, torch.arange(len(flat), device=dev),
                                         "amin")
            rep = where[first]
            self.keys = keys
        else:
            rowid = torch.full((n_b, w_max), -1, dtype=torch.int64, device=dev)
            count = int(exists.sum())
            rowid[exists] = torch.arange(count, device=dev)
            rep = torch.nonzero(exists)
        kernel = new_kind[rep[:, 0], rep[:, 1]]
        parent = None if m == 1 else self.rowid[rep[:, 0], rep[:, 1]]
        self.rowid = rowid
        return rowid, parent, kernel
