"""Seqlets: short spans of high attribution, called from per-position attribution tracks.

Two callers, both usable shard by shard:

- :func:`recursive_seqlets`, tangermeme's recursive caller: an i.i.d. null for the sum of
  every span length, built from the histogram of all positions of all examples, and a
  longest-first greedy decoding in which every sub-span of a seqlet is significant too.
  Two engines give the same table to the last bit: whole-batch torch operations (CUDA, or
  CPU without numba) and, on CPU, numba kernels that bin and decode one example at a time
  while it is in cache, examples in parallel (:mod:`motifscope._seqlets_cpu`).
- :func:`tfmodisco_seqlets`, TF-MoDISco's caller: windowed sums, a Laplace null fitted on
  the data, an isotonic-regression FDR threshold, and greedy non-maximum suppression.

:func:`seqlets_from_h5` streams ``attributions/<target>.h5`` and ``loci/onehot.h5`` shard
by shard (host memory bounded by a shard, the null still built from the whole data set),
and :func:`to_genome_coordinates` places seqlets on the genome with ``loci/loci.tsv``.

All coordinates are 0-based and half-open: a seqlet covers ``[start, end)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.utils import as_tensor, numba_kernels, numba_threads, progress, resolve_device

SEQLET_COLUMNS = ["example_idx", "start", "end", "attribution", "p-value"]
TFMODISCO_COLUMNS = ["example_idx", "start", "end", "attribution"]
SIGNS = ("positive", "negative", "both")

# Rows of a track processed together: about 2**20 values fit the CPU caches; a GPU wants more.
_CPU_BATCH_VALUES = 1 << 20
_GPU_BATCH_VALUES = 1 << 25

# A zero-argument function returning an iterator of (first example index, (n, L) track).
ShardSource = Callable[[], Iterator[tuple[int, torch.Tensor]]]

# On CPU the recursive caller bins and decodes with numba kernels when numba is installed
# (tests switch them off to check the torch engine, which CUDA runs use).
_USE_CPU_KERNEL = True


def _cpu_kernel(device: torch.device):
    """The numba kernels of the recursive caller for CPU runs, or None (other devices,
    numba missing, or ``_USE_CPU_KERNEL`` switched off)."""
    return numba_kernels("motifscope._seqlets_cpu", device, _USE_CPU_KERNEL)


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------

def _as_track(X, name: str = "X") -> torch.Tensor:
    """Return X as a 2-D floating tensor (float32 or float64), or raise InputError."""
    if not isinstance(X, (torch.Tensor, np.ndarray)):
        raise InputError(f"{name} must be a numpy array or torch tensor of shape (N, L); "
                         f"got {type(X).__name__}")
    if X.ndim != 2:
        hint = (" (sum projected attributions over the 4 channels first)" if X.ndim == 3
                else " (use X[None] for a single example)" if X.ndim == 1 else "")
        raise InputError(f"{name} must be a per-position attribution track of shape (N, L); "
                         f"got shape {tuple(X.shape)}{hint}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(X.shape)}); pass at least one "
                         "example of at least one position")
    t = as_tensor(X)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t


def _check_finite(lo: torch.Tensor, hi: torch.Tensor, name: str) -> None:
    # min and max propagate NaN, so two scalars tell whether every value is finite
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        raise InputError(f"{name} contains NaN or infinite values; fix or mask the "
                         "attributions (e.g. with numpy.nan_to_num) before calling seqlets")


def _check_threshold(threshold) -> float:
    if not isinstance(threshold, (int, float, np.floating)) or not 0 < threshold < 1:
        raise InputError(f"seqlets threshold must be a p-value strictly between 0 and 1; "
                         f"got {threshold!r} (e.g. 0.01 per locus, 0.001 genome-wide)")
    return float(threshold)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"seqlets {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_lengths(min_seqlet_len, max_seqlet_len) -> tuple[int, int]:
    lo = _check_int(min_seqlet_len, "min_seqlet_len", 1)
    hi = _check_int(max_seqlet_len, "max_seqlet_len", 1)
    if lo > hi:
        raise InputError(f"seqlets min_seqlet_len ({lo}) is above max_seqlet_len ({hi}); "
                         "lower min_seqlet_len or raise max_seqlet_len")
    return lo, hi


def _check_sign(sign: str) -> str:
    if sign not in SIGNS:
        raise InputError(f"seqlets sign must be one of {', '.join(SIGNS)}; got {sign!r}")
    return sign


def _pick_device(X: torch.Tensor | None, device) -> torch.device:
    if device is None:
        return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
    return resolve_device(device)


def _rows_per_batch(length: int, device: torch.device, batch_size: int | None) -> int:
    if batch_size is not None:
        return _check_int(batch_size, "batch_size", 1)
    budget = _GPU_BATCH_VALUES if device.type == "cuda" else _CPU_BATCH_VALUES
    return max(1, budget // max(length, 1))


def _iter_rows(X: torch.Tensor, rows: int) -> Iterator[tuple[int, torch.Tensor]]:
    for first in range(0, X.shape[0], rows):
        yield first, X[first:first + rows]


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


def recursive_seqlets(X, threshold: float = 0.01, min_seqlet_len: int = 4,
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


# ---------------------------------------------------------------------------------------
# the TF-MoDISco caller
# ---------------------------------------------------------------------------------------

_NULL_SAMPLES = 10_000
_MAX_THRESHOLD_VALUES = 1_000_000
_RANDOM_STATE = 1234


def _quantile(values: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``torch.quantile(values, q)`` (linear interpolation, same arithmetic) for any size:
    torch.quantile refuses inputs of more than 2**24 values."""
    ordered = torch.sort(values.reshape(-1))[0]
    ranks = q.to(values.dtype) * (ordered.numel() - 1)
    below = ranks.to(torch.long)
    above = ranks.ceil().to(torch.long)
    return torch.lerp(ordered[below], ordered[above], ranks - below.to(ranks.dtype))


def _histogram_mode(values: torch.Tensor) -> float:
    """The mode of the window sums, refined by a second 1000-bin histogram of the values
    strictly inside the most populated bin of the first (TF-MoDISco's estimate)."""
    hist, edges = torch.histogram(values, bins=1000)
    peak = int(torch.argmax(hist))
    left, right = edges[peak], edges[peak + 1]
    inside = values[(left < values) & (values < right)]
    if inside.numel() == 0:  # every value of the peak bin sits on an edge
        return (left + right).item() / 2
    hist, edges = torch.histogram(inside, bins=1000)
    peak = int(torch.argmax(hist))
    return (edges[peak] + edges[peak + 1]).item() / 2


def _laplace_null(values: torch.Tensor, n_samples: int = _NULL_SAMPLES,
                  random_state: int = _RANDOM_STATE) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples (float64) of a two-sided Laplace null fitted to the window sums: positive and
    negative samples. Each side's rate is the largest ``-log(1 - q) / |Q(q) - mu|`` over the
    quantiles q = 0.05..0.90 of that side, mu the histogram mode."""
    mu = _histogram_mode(values)
    pos, neg = values[values >= mu], values[values <= mu]
    # tangermeme's grid also has q = 0, whose term is 0 (or 0/0 = NaN when the smallest
    # value equals mu); leaving it out changes no rate that is a number
    q = torch.arange(1, 19) * 5.0 / 100
    lq = -torch.log(1 - q)
    inf = torch.tensor(float("inf"))
    pos_rate = torch.max(lq / (_quantile(pos, q) - mu)) if pos.numel() else inf
    neg_rate = torch.max(lq / torch.abs(_quantile(neg, 1 - q) - mu)) if neg.numel() else inf
    uniform = np.random.RandomState(random_state).uniform(size=(n_samples, 2))
    log_tail = torch.from_numpy(np.log(1 - uniform[:, 1]))  # numpy's log, as tangermeme
    uniform = torch.from_numpy(uniform)
    samples = torch.where(uniform[:, 0] < pos.numel() / values.numel(),
                          -log_tail / pos_rate + mu, mu + log_tail / neg_rate)
    return samples[samples >= 0], samples[samples < 0]


def _isotonic_fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, increasing: bool):
    """scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` fit, on scipy: sort by
    (x, y), merge x values closer than float64 resolution (weighted mean of y), pool
    adjacent violators, and keep the knots where the fit changes. Returns (knots, fit)."""
    from scipy.optimize import isotonic_regression

    order = np.lexsort((y, x))
    x, y, weight = x[order], y[order], weight[order]
    starts = _unique_starts(x, np.finfo(np.float64).resolution)
    w = np.add.reduceat(weight, starts)
    ux, uy = x[starts], np.add.reduceat(y * weight, starts) / w
    fit = np.asarray(isotonic_regression(uy, weights=w, increasing=increasing).x)
    keep = np.ones(fit.shape[0], dtype=bool)
    keep[1:-1] = (fit[1:-1] != fit[:-2]) | (fit[1:-1] != fit[2:])
    return ux[keep], fit[keep]


def _unique_starts(x: np.ndarray, eps: float) -> np.ndarray:
    """First index of each group of sorted x, a group running while ``x - x[first] < eps``."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(x) >= eps) + 1])
    ends = np.append(starts[1:], x.shape[0]) - 1
    wide = np.flatnonzero(x[ends] - x[starts] >= eps)  # chains of tiny steps: rare
    if wide.size == 0:
        return starts
    extra = []
    for g in wide:
        first = starts[g]
        for j in range(starts[g] + 1, ends[g] + 1):
            if x[j] - x[first] >= eps:
                extra.append(j)
                first = j
    return np.union1d(starts, extra)


def _isotonic_predict(knots: np.ndarray, fit: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The fitted isotonic function at t (clipped to the knots' range, linear in between)."""
    from scipy.interpolate import interp1d

    t = np.clip(t, knots[0], knots[-1])
    if knots.shape[0] == 1:
        return np.full(t.shape, fit[0])
    return interp1d(knots, fit, kind="linear", bounds_error=False)(t)


def _isotonic_threshold(values: torch.Tensor, null: torch.Tensor, increasing: bool,
                        target_fdr: float, min_frac_neg: float = 0.95) -> float:
    """The smallest-magnitude window sum whose estimated precision against the null reaches
    ``1 - target_fdr`` (TF-MoDISco's isotonic rule); +-inf when there are no values."""
    if values.numel() == 0:
        return math.inf if increasing else -math.inf
    values = torch.sort(values, descending=not increasing)[0]
    n1, n2 = values.numel(), null.numel()
    x = np.concatenate([values.numpy().astype(np.float64), null.numpy().astype(np.float64)])
    y = np.concatenate([np.ones(n1), np.zeros(n2)])
    # the null's weight is a float32 in tangermeme (torch.ones(n2) * w)
    weight = np.concatenate([np.ones(n1), np.full(n2, float(np.float32(n1 / max(n2, 1))))])
    knots, fit = _isotonic_fit(x, y, weight, increasing)
    end = knots[0] if increasing else knots[-1]
    min_precision = max(float(_isotonic_predict(knots, fit, np.array([end]))[0]), 1e-7)
    implied_frac_neg = -1 / (1 - (1 / min_precision)) if min_precision != 1 else math.inf
    implied_frac_neg = max(min(1.0, implied_frac_neg), min_frac_neg)
    y_hat = torch.from_numpy(_isotonic_predict(knots, fit, values.numpy().astype(np.float64)))
    precision = torch.clamp(1 + implied_frac_neg * (1 - 1 / torch.clamp(y_hat, min=1e-7)),
                            0.0, 1.0)
    precision[-1] = 1
    return values[precision >= (1 - target_fdr)][0].item()


def _subsample(values: torch.Tensor) -> torch.Tensor:
    """tangermeme's subsample of the window sums for the isotonic fit (1e6, seeded)."""
    if values.numel() <= _MAX_THRESHOLD_VALUES:
        return values
    return torch.from_numpy(np.random.RandomState(_RANDOM_STATE).choice(
        a=values.numpy(), size=_MAX_THRESHOLD_VALUES, replace=False))


def _tfmodisco_thresholds(null_values: torch.Tensor, values: torch.Tensor, target_fdr: float,
                          min_passing_frac: float, max_passing_frac: float
                          ) -> tuple[float, float]:
    """Positive and negative window-sum thresholds (CPU tensors in, floats out).

    ``null_values`` are the window sums the Laplace null is fitted on, ``values`` those the
    isotonic regression and the passing fractions use (a subsample when there are many).
    """
    pos_values, neg_values = values[values >= 0], values[values < 0]
    pos_null, neg_null = _laplace_null(null_values)
    pos = _isotonic_threshold(pos_values, pos_null, True, target_fdr)
    neg = _isotonic_threshold(neg_values, neg_null, False, target_fdr)
    values = torch.cat([pos_values, neg_values])
    frac_passing = float(((values >= pos).sum() + (values <= neg).sum()) / values.numel())
    magnitude = values.abs()
    if frac_passing < min_passing_frac:
        pos = _quantile(magnitude, torch.tensor(1 - min_passing_frac)).item()
        neg = -pos
    if frac_passing > max_passing_frac:
        pos = _quantile(magnitude, torch.tensor(1 - max_passing_frac)).item()
        neg = -pos
    return pos, neg


def _window_sums(X: torch.Tensor, window_size: int) -> torch.Tensor:
    return X.unfold(-1, window_size, 1).sum(dim=-1)


def _extract_windows(X: torch.Tensor, window_sums: torch.Tensor, pos: float, neg: float,
                     window_size: int, flank: int) -> dict[str, torch.Tensor]:
    """Greedy non-maximum suppression of the passing windows of one batch: per example, take
    the window with the largest |sum| (ties: leftmost), suppress every window within
    ``window_size // 2 + flank`` of it, repeat. Windows within ``flank`` of either end are
    never taken (their flanked seqlet would leave the sequence)."""
    n, d = window_sums.shape
    passing = (window_sums >= pos) | (window_sums <= neg)
    if flank > 0:
        passing[:, :flank] = False
        passing[:, -flank:] = False
    example, p = torch.nonzero(passing, as_tuple=True)
    score = window_sums[example, p].abs()
    suppress = int(0.5 * window_size) + flank
    stride = d + suppress + 1  # windows of different examples never suppress each other
    key = example * stride + p
    keep = _greedy_select(key, -score, reach=suppress)
    example, p, score = example[keep], p[keep], score[keep]
    order = torch.argsort(p, stable=True)
    order = order[torch.argsort(-score[order], stable=True)]
    order = order[torch.argsort(example[order], stable=True)]
    example, p = example[order], p[order]
    return {"example": example, "start": p - flank, "end": p + window_size + flank,
            "attribution": _span_sums(X, example, p, p + window_size)}


def _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac, max_passing_frac,
                     length: int) -> tuple[int, int]:
    window_size = _check_int(window_size, "window_size", 1)
    flank = _check_int(flank, "flank", 0)
    if window_size > length:
        raise InputError(f"seqlets window_size ({window_size}) is longer than the sequences "
                         f"({length} bp); lower window_size")
    if not 0 < target_fdr < 1:
        raise InputError(f"seqlets target_fdr must be strictly between 0 and 1; got {target_fdr!r}")
    if not 0 <= min_passing_frac <= max_passing_frac <= 1:
        raise InputError("seqlets min_passing_frac and max_passing_frac must satisfy "
                         f"0 <= min <= max <= 1; got {min_passing_frac!r} and {max_passing_frac!r}")
    return window_size, flank


def tfmodisco_seqlets(X, window_size: int = 21, flank: int = 10, target_fdr: float = 0.2,
                      min_passing_frac: float = 0.03, max_passing_frac: float = 0.2,
                      device=None, batch_size: int | None = None) -> pd.DataFrame:
    """Call seqlets with TF-MoDISco's procedure (as ported by tangermeme), vectorised.

    1. Window sums ``S[i, p] = X[i, p:p+window_size].sum()``, shape (N, L - window_size + 1).
    2. A two-sided Laplace null fitted on all window sums: the mode mu from two nested
       1000-bin histograms, each side's rate the steepest over its quantiles 0.05..0.90;
       10,000 samples drawn with a fixed seed (1234).
    3. Per sign, an isotonic regression of "real (1) vs null (0)" on the window sums (a
       seeded subsample of 1e6 when there are more) gives a precision for each value; the
       threshold is the smallest magnitude reaching precision ``1 - target_fdr``. If the
       windows passing are fewer than ``min_passing_frac`` or more than
       ``max_passing_frac`` of all, both thresholds become the matching quantile of |S|.
    4. Per example, greedily take the passing window with the largest |S| and suppress every
       window within ``window_size // 2 + flank`` of it; each taken window at p gives the
       seqlet ``[p - flank, p + window_size + flank)``.

    Deviations from tangermeme 1.6's ``tfmodisco_seqlets``:

    - *Threshold choice.* tangermeme takes the first passing value in the (unsorted, or
      randomly subsampled) order of the window sums, so its threshold is an arbitrary
      passing value, usually above the smallest one: it calls fewer seqlets than its FDR
      target allows. Here the values are sorted first (ascending for the positive side,
      descending for the negative), as in TF-MoDISco (modisco-lite), so the threshold is
      the smallest passing magnitude. With that one change the two agree.
    - *Large inputs.* Quantiles are computed with torch.quantile's arithmetic but without its
      limit of 2**24 values, which makes tangermeme fail on large data sets.
    - *Degenerate inputs.* Constant windows sums give no seqlets (tangermeme fails), and a
      side with no values gets an infinite threshold. The quantile grid leaves out q = 0,
      whose term only matters when it is NaN.
    - The unused "weak threshold" is not computed; scikit-learn is replaced by scipy's
      isotonic regression with scikit-learn's tie handling and interpolation.
    - Attributions are float64 sums (tangermeme sums in the track's dtype).

    Parameters
    ----------
    X : numpy array or torch tensor, shape (N, L)
        Projected per-position attributions.
    window_size : int, default 21
    flank : int, default 10
        Added on each side of a window; windows whose flanked span would leave the sequence
        are not called.
    target_fdr : float, default 0.2
    min_passing_frac, max_passing_frac : float, default 0.03 and 0.2
    device : str or torch.device, optional
        Default: the device of X. The null and the isotonic fit always run on the CPU.
    batch_size : int, optional
        Examples per batch in the suppression step.

    Returns
    -------
    pandas.DataFrame
        Columns example_idx, start, end (0-based half-open, within the example, seqlets
        ``window_size + 2 * flank`` long), attribution (float64 sum over the central
        window); per example in order of decreasing |window sum|. Both signs are included.
    """
    X = _as_track(X)
    window_size, flank = _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac,
                                          max_passing_frac, X.shape[1])
    dev = _pick_device(X, device)
    X = X.to(dev)
    lo, hi = torch.aminmax(X)
    _check_finite(lo, hi, "X")
    sums = _window_sums(X, window_size)
    values = sums.reshape(-1).cpu()
    if bool(values.min() == values.max()):
        return _empty_tfmodisco()
    pos, neg = _tfmodisco_thresholds(values, _subsample(values), target_fdr,
                                     min_passing_frac, max_passing_frac)
    rows = _rows_per_batch(X.shape[1], dev, batch_size)
    parts = []
    for first, batch in _iter_rows(X, rows):
        found = _extract_windows(batch, sums[first:first + batch.shape[0]], pos, neg,
                                 window_size, flank)
        found["example"] = found["example"] + first
        parts.append({k: v.cpu() for k, v in found.items()})
    return _tfmodisco_frame(parts)


def _empty_tfmodisco() -> pd.DataFrame:
    return _empty_seqlets()[TFMODISCO_COLUMNS]


def _tfmodisco_frame(parts: list[dict[str, torch.Tensor]]) -> pd.DataFrame:
    if not parts:
        return _empty_tfmodisco()
    cols = {k: torch.cat([p[k] for p in parts]).numpy() for k in parts[0]}
    return pd.DataFrame({"example_idx": cols["example"].astype(np.int64),
                         "start": cols["start"].astype(np.int64),
                         "end": cols["end"].astype(np.int64),
                         "attribution": cols["attribution"]})


# ---------------------------------------------------------------------------------------
# streaming from the workflow's HDF5 files, and genome coordinates
# ---------------------------------------------------------------------------------------

def _open_h5(path, dataset: str, what: str):
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as err:
        raise InputError(f"{path}: cannot open as HDF5 ({err}); expected {what}") from None
    if dataset not in h5 or not isinstance(h5[dataset], h5py.Dataset):
        h5.close()
        raise InputError(f"{path}: no dataset '{dataset}'; expected {what}")
    return h5


def check_attribution_files(attributions, onehot) -> tuple[int, int]:
    """Check ``attributions/<target>.h5`` (dataset ``attr``, (N, 4, L) float) against
    ``loci/onehot.h5`` (dataset ``X``, (N, 4, L) uint8); return (N, L) or raise InputError."""
    attr_what = "dataset 'attr' of hypothetical attributions, shape (N, 4, L)"
    with _open_h5(attributions, "attr", attr_what) as fa, \
            _open_h5(onehot, "X", "dataset 'X' of one-hot windows, shape (N, 4, L)") as fx:
        a, x = fa["attr"], fx["X"]
        if a.ndim != 3 or a.shape[1] != 4:
            raise InputError(f"{attributions}: dataset 'attr' has shape {a.shape}; expected "
                             "(N, 4, L) hypothetical attributions (rerun merge_attributions)")
        if a.dtype.kind != "f":
            raise InputError(f"{attributions}: dataset 'attr' has dtype {a.dtype}; expected "
                             "float16 or float32 attributions")
        if x.shape != a.shape:
            raise InputError(f"{attributions}: 'attr' shape {a.shape} does not match 'X' "
                             f"shape {x.shape} of {onehot}; both must come from the same loci")
        if a.shape[0] == 0:
            raise InputError(f"{attributions}: dataset 'attr' has no examples")
        return int(a.shape[0]), int(a.shape[2])


def projected_shards(attributions, onehot, shard_size: int | None = None
                     ) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (first example index, projected (n, L) float32 tensor) shard by shard:
    ``attr * X`` summed over the 4 channels. Reads ``shard_size`` examples at a time
    (default: the HDF5 chunk of ``attr``, at least 256)."""
    n, _ = check_attribution_files(attributions, onehot)
    with _open_h5(attributions, "attr", "") as fa, _open_h5(onehot, "X", "") as fx:
        a, x = fa["attr"], fx["X"]
        rows = shard_size or max(256, (a.chunks or (256,))[0])
        for first in range(0, n, rows):
            attr = a[first:first + rows].astype(np.float32)
            # one base per column, so the channel sum is exact in any order
            yield first, torch.from_numpy(np.einsum("ncl,ncl->nl", attr, x[first:first + rows],
                                                    dtype=np.float32))


def _shard_source(attributions, onehot, shard_size) -> ShardSource:
    return lambda: projected_shards(attributions, onehot, shard_size)


def seqlets_from_h5(attributions, onehot, loci: pd.DataFrame | None = None,
                    method: str = "recursive", shard_size: int | None = None, device=None,
                    batch_size: int | None = None, **params) -> pd.DataFrame:
    """Call seqlets from the workflow's files, holding one shard in memory at a time.

    The projected track is ``attr * X`` summed over channels, read shard by shard from
    ``attributions`` (dataset ``attr``, (N, 4, L)) and ``onehot`` (dataset ``X``). The null
    depends on the whole data set, so the files are read more than once:

    - ``method="recursive"``: pass 1 finds the range of the values, pass 2 their histogram
      (both signs), pass 3 calls the seqlets. Results equal :func:`recursive_seqlets` on
      the whole track.
    - ``method="tfmodisco"``: pass 1 collects the window sums the null is fitted on, all of
      them when there are at most 1e6, else a seeded uniform sample of 1e6 (the in-memory
      function fits the Laplace null on all of them: with more than 1e6 windows the two can
      differ slightly); pass 2 calls the seqlets.

    Parameters
    ----------
    attributions, onehot : path
        ``attributions/<target>.h5`` and ``loci/onehot.h5``.
    loci : pandas.DataFrame, optional
        ``loci/loci.tsv`` (columns idx, chrom, start, ...); when given, the result is placed
        on the genome with :func:`to_genome_coordinates`.
    method : {"recursive", "tfmodisco"}, default "recursive"
    shard_size : int, optional
        Examples read at a time (default: the HDF5 chunk, at least 256).
    device, batch_size
        As in :func:`recursive_seqlets`.
    **params
        Arguments of :func:`recursive_seqlets` (threshold, min_seqlet_len, max_seqlet_len,
        additional_flanks, n_bins, sign) or :func:`tfmodisco_seqlets` (window_size, flank,
        target_fdr, min_passing_frac, max_passing_frac).

    Returns
    -------
    pandas.DataFrame
        The seqlet table of the method (tfmodisco gets a NaN p-value column), or with
        ``loci`` the genome table of :func:`to_genome_coordinates`.
    """
    n, length = check_attribution_files(attributions, onehot)
    source = _shard_source(attributions, onehot, shard_size)
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    if method == "recursive":
        table = _streamed_recursive(source, length, dev, batch_size, **params)
    elif method == "tfmodisco":
        table = _streamed_tfmodisco(source, n, length, dev, batch_size, **params)
        table["p-value"] = np.nan
    else:
        raise InputError(f"seqlets method must be 'recursive' or 'tfmodisco'; got {method!r}")
    return table if loci is None else to_genome_coordinates(table, loci)


def _streamed_recursive(source: ShardSource, length: int, device, batch_size,
                        threshold: float = 0.01, min_seqlet_len: int = 4,
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


def _streamed_tfmodisco(source: ShardSource, n: int, length: int, device, batch_size,
                        window_size: int = 21, flank: int = 10, target_fdr: float = 0.2,
                        min_passing_frac: float = 0.03, max_passing_frac: float = 0.2
                        ) -> pd.DataFrame:
    window_size, flank = _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac,
                                          max_passing_frac, length)
    n_windows = length - window_size + 1
    total = n * n_windows
    picked = None
    if total > _MAX_THRESHOLD_VALUES:
        # Generator.choice draws without replacement in O(size); RandomState.choice (what
        # tangermeme uses on the values themselves) would permute all the windows
        picked = np.sort(np.random.default_rng(_RANDOM_STATE).choice(
            total, _MAX_THRESHOLD_VALUES, replace=False))
    kept = []
    for first, X in progress(source(), desc="seqlets: window sums", unit="shard"):
        lo, hi = torch.aminmax(X)
        _check_finite(lo, hi, "the attribution track")
        sums = _window_sums(X.to(device), window_size).reshape(-1).cpu()
        if picked is None:
            kept.append(sums)
        else:
            base = first * n_windows
            sel = picked[(picked >= base) & (picked < base + sums.numel())] - base
            kept.append(sums[torch.from_numpy(sel)])
    values = torch.cat(kept)
    if bool(values.min() == values.max()):
        return _empty_tfmodisco()
    pos, neg = _tfmodisco_thresholds(values, values, target_fdr, min_passing_frac,
                                     max_passing_frac)
    rows = _rows_per_batch(length, device, batch_size)
    parts = []
    for first, shard in progress(source(), desc="seqlets: calling", unit="shard"):
        for offset, X in _iter_rows(shard.to(device), rows):
            found = _extract_windows(X, _window_sums(X, window_size), pos, neg, window_size,
                                     flank)
            found["example"] = found["example"] + first + offset
            parts.append({k: v.cpu() for k, v in found.items()})
    return _tfmodisco_frame(parts)


GENOME_COLUMNS = ["chrom", "start", "end", "example_idx", "attribution", "p-value",
                  "window_start", "window_end"]


def to_genome_coordinates(seqlets: pd.DataFrame, loci: pd.DataFrame) -> pd.DataFrame:
    """Place seqlets on the genome.

    Parameters
    ----------
    seqlets : pandas.DataFrame
        Columns example_idx, start, end (within the window), attribution and p-value (NaN
        is fine), as returned by the callers.
    loci : pandas.DataFrame
        ``loci/loci.tsv``: one row per example with its window's chrom and start (0-based);
        example ``i`` is the row whose ``idx`` is i (or row i when there is no idx column).

    Returns
    -------
    pandas.DataFrame
        Columns chrom, start, end (genome, 0-based half-open), example_idx, attribution,
        p-value, window_start, window_end (the coordinates within the window), in the order
        of ``seqlets``. Windows padded past a contig's start can give negative starts.
    """
    for col in ("chrom", "start"):
        if col not in loci.columns:
            raise InputError(f"loci table has no '{col}' column; expected loci/loci.tsv "
                             "(idx, chrom, start, end, summit, name, score)")
    loci = loci.set_index("idx", drop=False) if "idx" in loci.columns else loci.reset_index(drop=True)
    example = seqlets["example_idx"].to_numpy()
    missing = ~np.isin(example, loci.index.to_numpy())
    if missing.any():
        raise InputError(f"seqlet example_idx {int(example[missing][0])} has no row in the loci "
                         f"table ({len(loci)} loci); the attributions and loci/loci.tsv must "
                         "come from the same run")
    windows = loci.loc[example]
    offset = windows["start"].to_numpy().astype(np.int64)
    return pd.DataFrame({
        "chrom": windows["chrom"].to_numpy(),
        "start": offset + seqlets["start"].to_numpy(),
        "end": offset + seqlets["end"].to_numpy(),
        "example_idx": example,
        "attribution": seqlets["attribution"].to_numpy(),
        "p-value": seqlets["p-value"].to_numpy() if "p-value" in seqlets else np.nan,
        "window_start": seqlets["start"].to_numpy(),
        "window_end": seqlets["end"].to_numpy(),
    })


def seqlets_to_bed(table: pd.DataFrame) -> pd.DataFrame:
    """BED6 rows (chrom, start, end, name, score, strand) for a genome seqlet table.

    Starts below 0 (windows padded past a contig's start) are clipped to 0 and seqlets left
    empty are dropped. name is ``<example_idx>:<window_start>-<window_end>``; score is the
    Phred-scaled p-value ``min(1000, round(-10 log10 p))`` (0 without a p-value); strand
    is "." (attributions have a sign, not a strand). Rows are sorted by position.
    """
    start = table["start"].clip(lower=0)
    keep = table["end"] > start
    t = table[keep]
    p = t["p-value"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(np.isfinite(p) & (p > 0), np.round(-10 * np.log10(p)), 0)
    score = np.where(np.isfinite(p) & (p <= 0), 1000, score)
    bed = pd.DataFrame({
        "chrom": t["chrom"].to_numpy(),
        "start": start[keep].to_numpy(),
        "end": t["end"].to_numpy(),
        "name": [f"{e}:{s}-{x}" for e, s, x in zip(t["example_idx"], t["window_start"],
                                                   t["window_end"])],
        "score": np.clip(score, 0, 1000).astype(np.int64),
        "strand": ".",
    })
    return bed.sort_values(["chrom", "start", "end"], kind="stable").reset_index(drop=True)


def plot_seqlet_summary(table: pd.DataFrame, window: int, title: str = ""):
    """A three-panel summary figure of a seqlet table (returns the matplotlib figure).

    Panels: where seqlets lie in the window (centre position, 0 = window start), their
    lengths, and the number of seqlets per locus (loci with none are not in the table, so
    ``n_loci`` is not needed: the panel counts loci that have at least one).

    Parameters
    ----------
    table : pandas.DataFrame
        A seqlet table with example_idx and window coordinates (``window_start`` and
        ``window_end``, or ``start`` and ``end`` within the window) and attribution.
    window : int
        Window length L (the x range of the position panel).
    title : str
    """
    import matplotlib.pyplot as plt

    from motifscope.plot import style

    start = table["window_start"] if "window_start" in table else table["start"]
    end = table["window_end"] if "window_end" in table else table["end"]
    positive = table["attribution"].to_numpy() >= 0
    centre = ((start + end) / 2).to_numpy()
    length = (end - start).to_numpy()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(11, 3))
        bins = np.linspace(0, window, min(50, max(window, 1)) + 1)
        for mask, label, color in ((positive, "attribution > 0", "tab:red"),
                                   (~positive, "attribution < 0", "tab:blue")):
            if mask.any():  # an empty table leaves the panels empty
                axes[0].hist(centre[mask], bins=bins, color=color, alpha=0.7, label=label)
                axes[1].hist(length[mask], bins=np.arange(length.min(), length.max() + 2) - 0.5,
                             color=color, alpha=0.7, label=label)
        axes[0].set(xlabel="seqlet centre in window (bp)", ylabel="seqlets", xlim=(0, window))
        axes[1].set(xlabel="seqlet length (bp)", ylabel="seqlets")
        per_locus = table.groupby("example_idx").size().to_numpy()
        if per_locus.size:
            axes[2].hist(per_locus, bins=np.arange(1, per_locus.max() + 2) - 0.5,
                         color="0.4")
        axes[2].set(xlabel="seqlets per locus (loci with any)", ylabel="loci")
        if positive.any() and (~positive).any():
            axes[0].legend(frameon=False, fontsize=7)
        fig.suptitle(title or f"{len(table)} seqlets")
        fig.tight_layout()
    return fig
