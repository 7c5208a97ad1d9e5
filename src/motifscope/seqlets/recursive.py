"""The recursive seqlet caller (tangermeme's algorithm), vectorised across examples.

An i.i.d. null for the sum of every span length, built from the histogram of all positions
of all examples, and a longest-first greedy decoding in which every sub-span of a seqlet is
significant too. Two engines give the same table to the last bit: whole-batch torch
operations (CUDA, or CPU without numba) and, on CPU, the numba kernels of
:mod:`motifscope.seqlets._seqlets_cpu` (binning and decoding one example at a time while it
is in cache, examples in parallel). Coordinates are 0-based half-open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from motifscope.seqlets._common import (
    ShardSource,
    _as_track,
    _check_finite,
    _check_int,
    _check_lengths,
    _check_sign,
    _check_threshold,
    _iter_rows,
    _pick_device,
    _rows_per_batch,
)
from motifscope.utils import numba_kernels, numba_threads, progress

# The library's default p-value threshold of recursive_seqlets (the workflow's is the
# schema's seqlets.threshold).
DEFAULT_THRESHOLD = 0.01

# On CPU the recursive caller bins and decodes with numba kernels when numba is installed
# (tests switch them off to check the torch engine, which CUDA runs use).
_USE_CPU_KERNEL = True


def _cpu_kernel(device: torch.device):
    """The numba kernels of the recursive caller for CPU runs, or None (other devices,
    numba missing, or ``_USE_CPU_KERNEL`` switched off)."""
    return numba_kernels("motifscope.seqlets._seqlets_cpu", device, _USE_CPU_KERNEL)


# ---------------------------------------------------------------------------------------
# the recursive caller: null distributions
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecursiveNull:
    """The null of :func:`recursive_seqlets`: bins and span-sum tail probabilities.

    Attributes
    ----------
    xmin : torch.Tensor
        0-dim, in the track's dtype: the smallest value of the track (the left bin edge).
    bin_width : float
        ``(xmax - xmin) / (n_bins - 1)``, the largest value falling in the last bin.
    n_bins : int
    n_values : int
        Number of positions the histogram was built from (all examples).
    tails : torch.Tensor
        float64, shape ``(max_seqlet_len + 1, n_bins * max_seqlet_len + 1)``:
        ``tails[k, b]`` is the probability that the sum of the bins of ``k`` positions drawn
        independently from the histogram is at least ``b``.
    """

    xmin: torch.Tensor
    bin_width: float
    n_bins: int
    n_values: int
    tails: torch.Tensor

    @property
    def max_seqlet_len(self) -> int:
        return self.tails.shape[0] - 1

    def bins(self, X: torch.Tensor) -> torch.Tensor:
        """Bin of every value of ``X`` ((n, L) int16, or int32 beyond 32768 bins), clamped
        to ``[0, n_bins - 1]``.

        The arithmetic is tangermeme's: ``x - xmin`` in the track's dtype, then a float64
        division by the bin width and a floor, so bins agree with it bit for bit.
        """
        shifted = (X - self.xmin.to(X.device)).to(torch.float64)
        dtype = torch.int16 if self.n_bins <= 2 ** 15 else torch.int32
        # after the clamp to [0, n_bins - 1] truncation is the floor
        return shifted.div_(self.bin_width).clamp_(0, self.n_bins - 1).to(dtype)

    def min_passing_sums(self, threshold: float) -> torch.Tensor:
        """For each span length k, the smallest bin sum whose tail probability is below
        ``threshold`` (int64, shape ``(max_seqlet_len + 1,)``); tails never increase."""
        return (self.tails >= threshold).sum(dim=1)


def _span_sum_tails(frequencies: np.ndarray, max_seqlet_len: int) -> np.ndarray:
    """Tail probabilities of sums of 1..max_seqlet_len i.i.d. draws from ``frequencies``.

    The k-fold distributions are direct convolutions in float64 (never FFT: an FFT spreads
    rounding noise over the bins that are exactly empty, which would break exact ties between
    spans), and the tails are summed from the top, sequentially, so that the far tail keeps
    its precision and an empty bin gives a tail exactly equal to its neighbour's.
    """
    n_bins = frequencies.shape[0]
    tails = np.zeros((max_seqlet_len + 1, n_bins * max_seqlet_len + 1), dtype=np.float64)
    nonzero = np.flatnonzero(frequencies)
    weights = frequencies[nonzero]
    current = frequencies.astype(np.float64)
    kernel = _cpu_kernel(torch.device("cpu"))
    for k in range(1, max_seqlet_len + 1):
        if k > 1:
            previous, current = current, np.zeros(k * (n_bins - 1) + 1, dtype=np.float64)
            if kernel is not None:
                with numba_threads():
                    kernel.add_shifted(previous, nonzero, weights, current)
            else:
                width = previous.shape[0]
                for j, w in zip(nonzero.tolist(), weights.tolist()):
                    current[j:j + width] += previous * w
        tails[k, :current.shape[0]] = np.add.accumulate(current[::-1])[::-1]
    return tails


def _track_range(source: ShardSource, sign: int, desc: str) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Smallest and largest value (0-dim tensors on CPU) and number of values of a source."""
    lo = hi = None
    n_values = 0
    for _, X in progress(source(), desc=desc, unit="shard"):
        X = X if sign > 0 else -X
        a, b = torch.aminmax(X)
        lo = a if lo is None else torch.minimum(lo, a)
        hi = b if hi is None else torch.maximum(hi, b)
        n_values += X.numel()
    return lo.cpu(), hi.cpu(), n_values


def _null_from_range(lo: torch.Tensor, hi: torch.Tensor, n_values: int, n_bins: int,
                     max_seqlet_len: int, counts: np.ndarray | None = None) -> RecursiveNull:
    bin_width = float(hi - lo) / (n_bins - 1)
    null = RecursiveNull(xmin=lo, bin_width=bin_width, n_bins=n_bins, n_values=n_values,
                         tails=torch.empty(0))
    if counts is None:
        return null
    tails = _span_sum_tails(counts.astype(np.float64) / n_values, max_seqlet_len)
    return RecursiveNull(lo, bin_width, n_bins, n_values, torch.from_numpy(tails))


def recursive_null(X, n_bins: int = 1000, max_seqlet_len: int = 25,
                   sign: str = "positive") -> RecursiveNull | None:
    """Build the null of :func:`recursive_seqlets` from a whole track.

    Parameters
    ----------
    X : array or tensor, shape (N, L)
        Projected per-position attributions of every example (the null is over all of them).
    n_bins : int, default 1000
    max_seqlet_len : int, default 25
    sign : {"positive", "negative"}, default "positive"
        "negative" builds the null of ``-X``, for negative seqlets.

    Returns
    -------
    RecursiveNull, or None when every value of X is equal (no span can be significant).
    """
    X = _as_track(X)
    n_bins = _check_int(n_bins, "n_bins", 2)
    max_seqlet_len = _check_int(max_seqlet_len, "max_seqlet_len", 1)
    s = -1 if _check_sign(sign) == "negative" else 1
    source = lambda: iter([(0, X)])  # noqa: E731
    return _recursive_nulls(source, n_bins, max_seqlet_len, (s,))[0][s]


def _recursive_nulls(source: ShardSource, n_bins: int, max_seqlet_len: int,
                     signs: tuple[int, ...], keep_bins: bool = False
                     ) -> tuple[dict[int, RecursiveNull | None], dict[int, torch.Tensor]]:
    """Two passes over a source: the range of the values, then the histogram of each sign.

    With ``keep_bins`` the bins of every shard are also returned ({sign: {first example
    index: bins}}), so that an in-memory track is binned only once.
    """
    lo, hi, n_values = _track_range(source, 1, "seqlet null: range")
    _check_finite(lo, hi, "the attribution track")
    ranges = {1: (lo, hi), -1: (-hi, -lo)}
    nulls = {s: _null_from_range(*ranges[s], n_values, n_bins, max_seqlet_len)
             for s in signs if hi > lo}
    if not nulls:
        return {s: None for s in signs}, {}
    counts = {s: np.zeros(n_bins, dtype=np.int64) for s in nulls}
    kept = {s: {} for s in nulls}
    for first, X in progress(source(), desc="seqlet null: histogram", unit="shard"):
        for s, null in nulls.items():
            bins, shard_counts = _bins_and_counts(null, X if s > 0 else -X)
            counts[s] += shard_counts
            if keep_bins:
                kept[s][first] = bins
    nulls = {s: _null_from_range(*ranges[s], n_values, n_bins, max_seqlet_len, counts[s])
             if s in nulls else None for s in signs}
    return nulls, kept


def _bins_and_counts(null: RecursiveNull, X: torch.Tensor,
                     count: bool = True) -> tuple[torch.Tensor, np.ndarray | None]:
    """The bins of ``X`` ((n, L), as :meth:`RecursiveNull.bins`) and, with ``count``, their
    histogram (else None)."""
    kernel = _cpu_kernel(X.device)
    if kernel is None:
        bins = null.bins(X)
        return bins, _bin_counts(bins, null.n_bins) if count else None
    values = np.ascontiguousarray(X.numpy())
    bins = np.empty(values.shape, dtype=np.int16 if null.n_bins <= 2 ** 15 else np.int32)
    xmin = values.dtype.type(null.xmin.item())
    with numba_threads() as threads:
        counts = kernel.bin_and_count(values, xmin, null.bin_width, null.n_bins, bins,
                                      min(threads, max(len(values), 1)), count)
    return torch.from_numpy(bins), counts if count else None


def _bin_counts(bins: torch.Tensor, n_bins: int) -> np.ndarray:
    flat = bins.reshape(-1)
    if flat.device.type != "cpu":  # int16 is the CPU's fast path; CUDA wants int32 or int64
        flat = flat.to(torch.int32)
    return torch.bincount(flat, minlength=n_bins).cpu().numpy()


# ---------------------------------------------------------------------------------------
# the recursive caller: candidates and greedy decoding
# ---------------------------------------------------------------------------------------

def _greedy_select(key: torch.Tensor, priority: torch.Tensor, reach: int) -> torch.Tensor:
    """Sequential greedy selection of non-conflicting items, computed in parallel rounds.

    ``key`` is sorted and distinct; two items conflict when their keys differ by at most
    ``reach`` (callers lay examples out ``stride > reach + positions`` apart, so items of
    different examples never conflict). Visiting items by increasing (priority, key) and
    keeping each one that conflicts with no kept item gives the selection returned (a bool
    mask). Each round keeps every item that beats all its remaining conflicting items, which
    the sequential visit keeps too, and drops the items they conflict with; the rounds end
    when no item remains.
    """
    n = key.numel()
    selected = torch.zeros(n, dtype=torch.bool, device=key.device)
    alive = torch.arange(n, device=key.device)
    while alive.numel():
        k, pr = key[alive], priority[alive]
        m = alive.numel()
        wins = torch.ones(m, dtype=torch.bool, device=key.device)
        conflicts = []
        for d in range(1, min(reach, m - 1) + 1):
            # pairs (i, i + d): if none conflicts at list distance d, none does further away
            near = k[d:] - k[:-d] <= reach
            if not bool(near.any()):
                break
            left_first = pr[:-d] <= pr[d:]  # on equal priority the smaller key wins
            wins[:-d] &= ~near | left_first
            wins[d:] &= ~near | ~left_first
            conflicts.append((d, near))
        beaten = torch.zeros(m, dtype=torch.bool, device=key.device)
        for d, near in conflicts:
            beaten[d:] |= near & wins[:-d]
            beaten[:-d] |= near & wins[d:]
        selected[alive[wins]] = True
        alive = alive[~wins & ~beaten]
    return selected


@dataclass
class _Candidates:
    """Spans of one length whose whole triangle is below the threshold. ``key`` is
    ``example * (L + 1) + start``, sorted; ``prefix_p`` is the largest p-value over the
    span's prefixes, ``triangle_p`` the largest over all its sub-spans of at least the
    minimum length."""

    key: torch.Tensor
    prefix_p: torch.Tensor
    triangle_p: torch.Tensor


def _span_candidates(csum: torch.Tensor, tails: torch.Tensor, min_sums: torch.Tensor,
                     threshold: float, min_len: int, max_len: int) -> dict[int, _Candidates]:
    """Candidates of every length, from the prefix sums of the bins ((n, L+1) int).

    A span passes only if both spans one shorter inside it pass, so each length is built
    from the previous one's candidates (pairs of consecutive starts) and the lists shrink.
    """
    stride = csum.shape[1]
    flat = csum.reshape(-1)
    span = csum[:, min_len:] - csum[:, :-min_len]
    example, start = torch.nonzero(span >= min_sums[min_len], as_tuple=True)
    key = example * stride + start
    p = tails[min_len][(flat[key + min_len] - flat[key]).long()]
    levels = {min_len: _Candidates(key, p, p)}
    for k in range(min_len + 1, min(max_len, stride - 1) + 1):
        prev = levels[k - 1]
        if prev.key.numel() < 2:
            break
        # a start and the next one both passing at length k - 1 (never across examples:
        # a start is at most L - k + 1, below the stride)
        pair = torch.nonzero(prev.key[1:] == prev.key[:-1] + 1, as_tuple=True)[0]
        key = prev.key[pair]
        prefix_p = torch.maximum(tails[k][(flat[key + k] - flat[key]).long()],
                                 prev.prefix_p[pair])
        triangle_p = torch.maximum(prefix_p, prev.triangle_p[pair + 1])
        keep = triangle_p < threshold
        if not bool(keep.any()):
            break
        levels[k] = _Candidates(key[keep], prefix_p[keep], triangle_p[keep])
    return levels


def _overlaps_called(key: torch.Tensor, k: int, called_key: torch.Tensor,
                     called_end: torch.Tensor) -> torch.Tensor:
    """Whether [key, key + k) overlaps a called span [called_key, called_end). Called spans
    are disjoint and sorted, so their ends are sorted too and only the last one starting
    before ``key + k`` can overlap."""
    if called_key.numel() == 0:
        return torch.zeros_like(key, dtype=torch.bool)
    j = torch.searchsorted(called_key, key + k) - 1
    return (j >= 0) & (called_end[j.clamp(min=0)] > key)


def _decode_recursive(X: torch.Tensor, bins: torch.Tensor, null: RecursiveNull, threshold: float,
                      min_len: int, max_len: int, flanks: int,
                      min_sums: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Seqlets of one batch of examples, in tangermeme's call order (example, longest first,
    then by prefix p-value and start). Returns tensors: example (batch-local), core start,
    length, flanked start and end, attribution (float64, over the flanked span), p-value."""
    n, length = bins.shape
    device = bins.device
    stride = length + 1
    sum_dtype = torch.int32 if null.n_bins * stride < 2 ** 31 else torch.int64
    csum = torch.zeros(n, stride, dtype=sum_dtype, device=device)
    torch.cumsum(bins, dim=1, dtype=sum_dtype, out=csum[:, 1:])
    tails = null.tails.to(device)
    if min_sums is None:
        min_sums = null.min_passing_sums(threshold)
    levels = _span_candidates(csum, tails, min_sums, threshold, min_len, max_len)

    called_key = torch.zeros(0, dtype=torch.long, device=device)
    called_end = called_key
    calls = []
    for k in sorted(levels, reverse=True):
        c = levels[k]
        free = ~_overlaps_called(c.key, k, called_key, called_end)
        key, pp = c.key[free], c.prefix_p[free]
        if key.numel() == 0:
            continue
        keep = _greedy_select(key, pp, reach=k - 1)
        key, pp = key[keep], pp[keep]
        # tangermeme's visiting order within a length: example, prefix p-value, start
        order = torch.argsort(pp, stable=True)
        order = order[torch.argsort(torch.div(key[order], stride, rounding_mode="floor"),
                                    stable=True)]
        calls.append((key[order], torch.full_like(key, k)))
        called_key, order = torch.sort(torch.cat([called_key, key]))
        called_end = torch.cat([called_end, key + k])[order]

    if not calls:
        empty_i = torch.zeros(0, dtype=torch.long, device=device)
        empty_f = torch.zeros(0, dtype=torch.float64, device=device)
        return {"example": empty_i, "core": empty_i, "length": empty_i, "start": empty_i,
                "end": empty_i, "attribution": empty_f, "p-value": empty_f}
    key, k = (torch.cat(parts) for parts in zip(*calls))
    example = torch.div(key, stride, rounding_mode="floor")
    order = torch.argsort(example, stable=True)  # lengths were appended longest first
    key, k, example = key[order], k[order], example[order]
    flat = csum.reshape(-1)
    p = tails[k, (flat[key + k] - flat[key]).long()]
    return _calls_table(X, example, key - example * stride, k, p, flanks)


def _calls_table(X: torch.Tensor, example: torch.Tensor, core: torch.Tensor, k: torch.Tensor,
                 p: torch.Tensor, flanks: int) -> dict[str, torch.Tensor]:
    """The decoders' result: the calls widened by ``flanks`` (clamped to the sequence) and
    the attribution summed over the widened spans."""
    start = (core - flanks).clamp(min=0)
    end = (core + k + flanks).clamp(max=X.shape[1])
    return {"example": example, "core": core, "length": k, "start": start, "end": end,
            "attribution": _span_sums(X, example, start, end), "p-value": p}


def _decode_recursive_cpu(kernel, X: torch.Tensor, bins: torch.Tensor, null: RecursiveNull,
                          threshold: float, min_len: int, max_len: int, flanks: int,
                          min_sums: torch.Tensor) -> dict[str, torch.Tensor]:
    """:func:`_decode_recursive` with the numba kernel (same calls, same order)."""
    n, length = bins.shape
    cap = length // min_len + 1
    n_calls = np.zeros(n, dtype=np.int64)
    core = np.zeros((n, cap), dtype=np.int64)
    span = np.zeros((n, cap), dtype=np.int64)
    p_value = np.zeros((n, cap), dtype=np.float64)
    with numba_threads(chunksize=1):
        kernel.decode(bins.numpy(), null.tails.numpy(), min_sums.numpy().astype(np.int64),
                      threshold, min_len, max_len, n_calls, core, span, p_value)
    made = np.arange(cap) < n_calls[:, None]  # row-major: by example, then call order
    return _calls_table(X, torch.from_numpy(np.repeat(np.arange(n), n_calls)),
                        torch.from_numpy(core[made]), torch.from_numpy(span[made]),
                        torch.from_numpy(p_value[made]), flanks)


def _span_sums(X: torch.Tensor, example: torch.Tensor, start: torch.Tensor,
               end: torch.Tensor) -> torch.Tensor:
    """float64 sum of X[example, start:end] for each span."""
    if example.numel() == 0:
        return torch.zeros(0, dtype=torch.float64, device=X.device)
    width = int((end - start).max())
    idx = start[:, None] + torch.arange(width, device=X.device)
    inside = idx < end[:, None]
    values = X[example[:, None], idx.clamp(max=X.shape[1] - 1)].to(torch.float64)
    return (values * inside).sum(dim=1)


def _recursive_calls(source: ShardSource, nulls: dict[int, RecursiveNull | None], threshold: float,
                     min_len: int, max_len: int, flanks: int, device: torch.device,
                     rows: int, kept_bins: dict[int, torch.Tensor] | None = None) -> pd.DataFrame:
    """Third pass: decode every shard (split into batches of ``rows`` examples) with the
    nulls of the requested signs, and return the seqlets sorted by p-value. ``kept_bins``
    (from :func:`_recursive_nulls`, for batches of the same ``rows``) saves binning the
    values again."""
    parts = []
    nulls = {s: None if null is None else RecursiveNull(null.xmin, null.bin_width, null.n_bins,
                                                        null.n_values, null.tails.to(device))
             for s, null in nulls.items()}
    min_sums = {s: null.min_passing_sums(threshold) for s, null in nulls.items() if null}
    kernel = _cpu_kernel(device)
    for first, shard in progress(source(), desc="seqlets: calling", unit="shard"):
        shard = shard.to(device)
        for offset, X in _iter_rows(shard, rows):
            for s, null in nulls.items():
                if null is None:
                    continue
                signed = X if s > 0 else -X
                i = first + offset
                bins = (kept_bins[s].pop(i) if kept_bins
                        else _bins_and_counts(null, signed, count=False)[0])
                if kernel is None:
                    found = _decode_recursive(signed, bins, null, threshold, min_len, max_len,
                                              flanks, min_sums[s])
                else:
                    found = _decode_recursive_cpu(kernel, signed, bins, null, threshold,
                                                  min_len, max_len, flanks, min_sums[s])
                found["example"] = found["example"] + first + offset
                found["attribution"] = found["attribution"] * s
                found["sign"] = torch.full_like(found["example"], s)
                parts.append({key: v.cpu() for key, v in found.items()})
    return _assemble(parts)


def _assemble(parts: list[dict[str, torch.Tensor]]) -> pd.DataFrame:
    """Concatenate the calls of every batch and sign; drop negative seqlets whose core
    overlaps a positive core of the same example; sort stably by p-value."""
    if not parts:
        return _empty_seqlets()
    cols = {key: torch.cat([p[key] for p in parts]).numpy() for key in parts[0]}
    if (cols["sign"] < 0).any() and (cols["sign"] > 0).any():
        cols = {key: v[_negative_not_overlapping(cols)] for key, v in cols.items()}
    # positives before negatives on equal p-values; within a sign, batches and shards come
    # in example order, so a stable sort keeps the call order among equal p-values
    order = np.lexsort((-cols["sign"], cols["p-value"]))
    return pd.DataFrame({
        "example_idx": cols["example"][order].astype(np.int64),
        "start": cols["start"][order].astype(np.int64),
        "end": cols["end"][order].astype(np.int64),
        "attribution": cols["attribution"][order],
        "p-value": cols["p-value"][order],
    })


def _negative_not_overlapping(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Keep mask: every positive call, and negative calls whose core overlaps no positive core."""
    pos = cols["sign"] > 0
    stride = int((cols["core"] + cols["length"]).max()) + 1
    key = cols["example"][pos] * stride + cols["core"][pos]
    order = np.argsort(key)
    key, end = key[order], (cols["core"] + cols["length"])[pos][order]
    example = cols["example"][pos][order]
    neg = ~pos
    q_end = cols["core"][neg] + cols["length"][neg]
    j = np.searchsorted(key, cols["example"][neg] * stride + q_end) - 1
    jj = np.clip(j, 0, None)
    overlap = (j >= 0) & (example[jj] == cols["example"][neg]) & (end[jj] > cols["core"][neg])
    keep = pos.copy()
    keep[neg] = ~overlap
    return keep


def _empty_seqlets() -> pd.DataFrame:
    return pd.DataFrame({"example_idx": np.zeros(0, np.int64), "start": np.zeros(0, np.int64),
                         "end": np.zeros(0, np.int64), "attribution": np.zeros(0),
                         "p-value": np.zeros(0)})


def _signs(sign: str) -> tuple[int, ...]:
    return {"positive": (1,), "negative": (-1,), "both": (1, -1)}[sign]


def recursive_seqlets(X, threshold: float = DEFAULT_THRESHOLD, min_seqlet_len: int = 4,
                      max_seqlet_len: int = 25, additional_flanks: int = 0, n_bins: int = 1000,
                      sign: str = "positive", device=None,
                      batch_size: int | None = None) -> pd.DataFrame:
    """Call seqlets with tangermeme's recursive algorithm, vectorised across examples.

    1. Every value of X (all examples) is binned into ``n_bins`` equal bins between its
       minimum and maximum; the histogram gives the i.i.d. null of the bin sum of a span of
       each length 1..max_seqlet_len (repeated convolution), and each span's p-value is the
       tail probability of its bin sum.
    2. A span is a candidate when every sub-span of at least ``min_seqlet_len`` (including
       itself) has a p-value below ``threshold``.
    3. Decoding, per example: lengths from longest to shortest; within a length, candidates
       by increasing largest p-value over their prefixes (ties: smaller start first); a
       candidate is called when it overlaps no span called before. Calls never overlap.
    4. ``additional_flanks`` widens each call afterwards (clamped to the sequence), and the
       attribution is summed over the widened span; flanks may overlap.

    On the same input the rows equal tangermeme 1.6's ``recursive_seqlets`` (same example,
    start, end; the same p-values up to float64 rounding of the null's convolution;
    attributions up to float64 rounding), with these deviations:

    - *Row order among equal p-values.* tangermeme sorts with pandas' default quicksort, which
      is not stable, so rows with equal p-values come in an arbitrary order. Here the sort is
      stable: equal p-values keep the call order (example, longer first, prefix p-value,
      start), positive seqlets before negative ones.
    - *Input checks.* ``threshold`` must lie strictly between 0 and 1 (tangermeme accepts 1
      and returns nothing at 0 or below), ``min_seqlet_len`` may not exceed
      ``max_seqlet_len`` (tangermeme silently returns no rows), and NaN or infinite values
      raise (in tangermeme a NaN minimum silently bins every value into bin 0).
    - *Inputs tangermeme rejects* are accepted: CUDA tensors (its ``.numpy()`` fails) and
      float16/bfloat16 tracks (upcast to float32 first).
    - *Negative seqlets* (``sign="negative"`` or ``"both"``), which tangermeme leaves to the
      user: the same algorithm on ``-X`` with its own null (bins between ``-max(X)`` and
      ``-min(X)``); the reported attribution is the sum of X (negative). With "both",
      a negative seqlet whose core overlaps a positive seqlet's core is dropped.

    The quirks of tangermeme 1.4 listed in the reference (end clamped to ``L - 1`` so a
    seqlet touching the last base lost it, ``P[:, L - min_seqlet_len] = 1``, an unfilled
    null for length 1, the reported p-value being the prefix maximum) are all fixed in
    tangermeme 1.6, which this matches: seqlets may end at ``L``, and the p-value reported is
    the span's own. Two behaviours of the algorithm are kept as they are: the reported
    attribution includes the flanks, and one large outlier stretches the bins (every other
    value then falls in few bins and little is significant).

    Parameters
    ----------
    X : numpy array or torch tensor, shape (N, L)
        Projected per-position attributions (hypothetical x one-hot, summed over channels).
        float32 and float64 keep their precision; other dtypes are converted to float32.
    threshold : float, default 0.01
        p-value cutoff, in (0, 1), for every sub-span of a seqlet. A ranking cutoff, not an
        error rate; it scales with the number of spans tested (0.001 is typical genome-wide).
    min_seqlet_len, max_seqlet_len : int, default 4 and 25
        Length range of the cores, 1 <= min <= max.
    additional_flanks : int, default 0
        Bases added on each side of every call afterwards (clamped to [0, L]).
    n_bins : int, default 1000
        Histogram bins (at least 2).
    sign : {"positive", "negative", "both"}, default "positive"
    device : str or torch.device, optional
        Where to compute; default: the device of X (CPU for numpy). "cuda" without CUDA raises.
        On CPU with numba installed the numba kernels run on ``torch.get_num_threads()``
        threads; the table is the same either way.
    batch_size : int, optional
        Examples decoded together; default about 2**20 values per batch on CPU, 2**25 on GPU.

    Returns
    -------
    pandas.DataFrame
        Columns example_idx, start, end (0-based half-open, within the example), attribution
        (float64 sum of X over [start, end)), p-value (float64, of the core), sorted by
        p-value. Empty (with these columns) when nothing passes or X is constant.
    """
    X = _as_track(X)
    threshold = _check_threshold(threshold)
    min_len, max_len = _check_lengths(min_seqlet_len, max_seqlet_len)
    flanks = _check_int(additional_flanks, "additional_flanks", 0)
    n_bins = _check_int(n_bins, "n_bins", 2)
    signs = _signs(_check_sign(sign))
    dev = _pick_device(X, device)
    X = X.to(dev)
    rows = _rows_per_batch(X.shape[1], dev, batch_size)
    source = lambda: iter([(0, X)])  # noqa: E731
    nulls, kept = _recursive_nulls(lambda: _iter_rows(X, rows), n_bins, max_len, signs,
                                   keep_bins=True)
    return _recursive_calls(source, nulls, threshold, min_len, max_len, flanks, dev, rows,
                            kept)


def _streamed_recursive(source: ShardSource, length: int, device, batch_size,
                        threshold: float = DEFAULT_THRESHOLD, min_seqlet_len: int = 4,
                        max_seqlet_len: int = 25, additional_flanks: int = 0,
                        n_bins: int = 1000, sign: str = "positive") -> pd.DataFrame:
    threshold = _check_threshold(threshold)
    min_len, max_len = _check_lengths(min_seqlet_len, max_seqlet_len)
    flanks = _check_int(additional_flanks, "additional_flanks", 0)
    n_bins = _check_int(n_bins, "n_bins", 2)
    signs = _signs(_check_sign(sign))
    nulls, _ = _recursive_nulls(source, n_bins, max_len, signs)
    rows = _rows_per_batch(length, device, batch_size)
    return _recursive_calls(source, nulls, threshold, min_len, max_len, flanks, device, rows)
