"""TOMTOM motif comparison with exact p-values (Gupta et al. 2007), batched in torch.

For every query motif and every target motif this finds the best alignment (offset and
strand) and its p-value under Tomtom's "complete score" null, the way MEME Tomtom and
memelite (``n_target_bins=None``) define it:

1. **Column scores.** Each query column is scored against every column of the database
   (all targets, and their reverse complements): the negative Euclidean distance
   (``distance="ed"``) or the Pearson correlation (``"pearson"``, MEME's definition with the
   letter mean fixed at 1/4 and 0 when a column has no variance).
2. **Median centring.** Each query column's scores are shifted by their median over the
   database columns, so an unaligned query column counts as a median match. The median is
   memelite's binned median (1000 bins, the mean of the values in the bin holding the
   middle), which is what makes the p-values reproduce memelite's.
3. **Integer scores.** Per query, the shifted scores are mapped to integers in
   ``[0, n_score_bins]`` (``i_min = floor(min)``, ``bin_scale = floor(n_score_bins /
   max(max - i_min, 1))``, rounding half up); each query column's histogram over the
   database columns is its null distribution.
4. **Best alignment.** The score of an alignment is the sum of the aligned columns' integer
   scores, the unaligned query columns contributing their median (0); the best of the
   ``nq + t - 1`` alignments (overhangs included) is kept, ties going to the larger
   overlap, then the leftmost offset.
5. **P-value.** Under the null, target columns are drawn independently from the
   database's columns and the alignments are independent; the p-value is
   ``P(max over the alignments >= best score)`` for the target's length, with the
   distribution of every span of query columns built by exact convolution. With both
   strands, ``p = 1 - (1 - p_best_strand)^2`` (the maximum over twice the alignments).

Implementation: two engines compute the same quantities.

- On CPU with numba installed, PWM queries go through a fused kernel
  (:mod:`motifscope.motifs._tomtom_cpu`): one query at a time, every step in one pass per
  column while the data are in cache, the p-value of an alignment read from the upper
  tail of its span distribution and the alignments combined as a union of independent
  events (no logarithms). Queries run in parallel over ``torch.get_num_threads()``
  threads.
- The torch engine (CUDA, CPU without numba, and sequence queries on CPU when there are
  at least 64 of them): query and database columns are deduplicated; queries are
  processed in batches; span distributions are shared between queries whose columns come
  from a few distinct kinds (one-hot seqlets: the distribution of a span depends only on
  its base composition), and all convolutions are batched float64 GEMMs.

Both compute the exact discrete null in float64 and agree to 1e-12 relative in p.
With ``n_nearest``, p-values are computed only for the best-scoring targets of each
target length (the only ones that can rank first), which makes annotating thousands of
seqlets cheap.

Differences from MEME Tomtom, by design: MEME uses the exact median (memelite's binned one
here), applies ``-motif-pseudo 0.1`` by default (``pseudocount=0`` here), estimates
q-values with Storey's pi0 (Benjamini-Hochberg per query here) and reports p-values
rounded to float. Ties between strands go to the forward strand (as MEME sorts them);
memelite gives them to the reverse strand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.motifs._convolve import convolve_rows
from motifscope.motifs._inputs import MotifList, apply_pseudocount, as_motif_list, bh_qvalues, \
    consensus
from motifscope.utils import full_float32_matmul, numba_kernels, numba_threads, progress, \
    resolve_device

DISTANCES = ("ed", "pearson")
MAX_QUERY_WIDTH = 64
TOMTOM_COLUMNS = ["query_id", "target_id", "optimal_offset", "p-value", "E-value", "q-value",
                  "overlap", "query_consensus", "target_consensus", "orientation", "score"]

# Window sums are one matrix product when a group of queries has at most this many
# column kinds (one-hot seqlets have 4 or 5).
_GEMM_KINDS = 16
# Elements per (queries x windows) block of alignment keys.
_MAX_KEY_ELEMENTS = 4_000_000
# Span distributions are shared by composition when every score class has at most this
# many distinct query-column kinds (keys are base-65 digit strings packed in an int64).
_MAX_KINDS_PER_CLASS = 8
_KEY_BASE = MAX_QUERY_WIDTH + 1
# Budget (bytes) for the per-batch database score matrices.
_BATCH_BYTES = 192 * 2**20
# PWM queries run through the fused numba kernel on CPU when numba is installed (tests
# switch it off to check the torch engine, which CUDA runs use).
_USE_CPU_KERNEL = True
# Budget (bytes) for the CPU kernel's per-thread scratch (fewer threads beyond it).
_KERNEL_SCRATCH_BYTES = 2 * 2**30
# Sequence queries (one-hot seqlets) go to the torch engine, which shares span
# distributions between queries by composition, when there are at least this many; below
# that its fixed cost per batch exceeds the kernel's per-query cost.
_MIN_SHARED_QUERIES = 64


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


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------

def tomtom(queries, targets, distance: str = "ed", min_overlap: int = 1,
           reverse_complement: bool = True, n_nearest: int | None = None,
           thresh: float | None = None, pseudocount: float = 0.0, batch_size: int | None = None,
           device: str | torch.device = "auto", n_score_bins: int = 100,
           n_median_bins: int = 1000, max_query_width: int = MAX_QUERY_WIDTH,
           verbose: bool | None = None) -> pd.DataFrame:
    """Compare query motifs with target motifs, as MEME Tomtom does.

    Parameters
    ----------
    queries, targets : str, MotifSet, dict, list or array
        A MEME file, ``{name: (4, w) array}``, a list of ``(4, w)`` arrays or tensors
        (named by index) or an ``(n, 4, w)`` array. Queries may be PWMs, one-hot
        sequences or (scaled) CWMs; targets are the database whose columns make the null.
    distance : {"ed", "pearson"}, default "ed"
        Column similarity: negative Euclidean distance or Pearson correlation.
    min_overlap : int, default 1
        Only alignments overlapping by at least this many columns (or the width of the
        shorter motif) are searched; as in MEME, the null still covers every alignment.
    reverse_complement : bool, default True
        Also align the reverse complement of every target.
    n_nearest : int, optional
        Keep only the best ``n_nearest`` targets of each query (by p-value).
    thresh : float, optional
        Keep only matches with q-value <= thresh (MEME's ``-thresh``); default: all.
    pseudocount : float, default 0.0
        MEME's ``-motif-pseudo`` applied to queries and targets
        (``(p * nsites + pseudocount / 4) / (nsites + pseudocount)``, nsites from a
        MotifSet or 20). MEME's command line uses 0.1; memelite uses 0.
    batch_size : int, optional
        Queries per batch (default: chosen from a ~200 MB memory budget for the torch
        engine, 256 for the CPU kernel).
    device : str or torch.device, default "auto"
    n_score_bins, n_median_bins : int, default 100 and 1000
        Integer score range and median histogram bins (memelite's defaults).
    max_query_width : int, default 64
        Wider queries are refused (memory grows with the cube of the width); trim them.
    verbose : bool, optional
        Progress bar over query batches (default: when stderr is a terminal or
        ``MOTIFSCOPE_PROGRESS=1``).

    Returns
    -------
    pandas.DataFrame
        Columns query_id, target_id, optimal_offset, p-value, E-value (p x number of
        targets), q-value (Benjamini-Hochberg over each query's targets; with
        ``n_nearest`` an upper bound from the kept p-values), overlap, query_consensus,
        target_consensus (of the target in the matched orientation), orientation (``+``
        or ``-``) and score (integer alignment score, comparable within a query only).
        Sorted by query (input order), then p-value. ``optimal_offset`` follows MEME: the
        position of the query's first column in the (oriented) target.

    Raises
    ------
    InputError
        For an unknown distance, malformed or empty motif collections, queries wider than
        ``max_query_width``, or all-zero inputs.

    Examples
    --------
    >>> table = tomtom(filter_pwms, "motifs/database.meme", distance="pearson")  # doctest: +SKIP
    """
    query_list = as_motif_list(queries, "queries")
    target_list = as_motif_list(targets, "targets")
    result = tomtom_pvalues(query_list, target_list, distance=distance, min_overlap=min_overlap,
                            reverse_complement=reverse_complement, n_nearest=n_nearest,
                            pseudocount=pseudocount, batch_size=batch_size, device=device,
                            n_score_bins=n_score_bins, n_median_bins=n_median_bins,
                            max_query_width=max_query_width, verbose=verbose)
    return _result_table(result, query_list, target_list, thresh, pseudocount)


def tomtom_pvalues(queries, targets, distance: str = "ed", min_overlap: int = 1,
                   reverse_complement: bool = True, n_nearest: int | None = None,
                   pseudocount: float = 0.0, batch_size: int | None = None,
                   device: str | torch.device = "auto", n_score_bins: int = 100,
                   n_median_bins: int = 1000, max_query_width: int = MAX_QUERY_WIDTH,
                   verbose: bool | None = None) -> TomtomResult:
    """TOMTOM as arrays: p-values, scores, offsets, overlaps and strands.

    The fast path behind :func:`tomtom` (same parameters, no table), for annotating many
    seqlets. With both strands on, it matches memelite's ``tomtom(Qs, Ts,
    n_target_bins=None)`` p-values. On CPU, PWM queries run through the numba kernel
    (when numba is installed) on ``torch.get_num_threads()`` threads, fewer if their
    scratch (about 10 bytes x widest query x database columns each) would pass 2 GiB.

    Returns
    -------
    TomtomResult
        Arrays of shape ``(n_queries, n_targets)``, or ``(n_queries, n_nearest)`` sorted by
        p-value (ties: lower target index first) with ``target_idx``. Unpacks as
        ``p, scores, offsets, overlaps, strands, target_idx``.
    """
    if distance not in DISTANCES:
        raise InputError(f"distance '{distance}' is not supported; use one of {DISTANCES}")
    if int(min_overlap) < 1:
        raise InputError(f"min_overlap {min_overlap} must be at least 1")
    if n_nearest is not None and int(n_nearest) < 1:
        raise InputError(f"n_nearest {n_nearest} must be at least 1 (or None for all)")
    if not 1 <= n_score_bins <= 1000 or n_median_bins < 2:
        raise InputError("n_score_bins must be in [1, 1000] and n_median_bins at least 2")
    query_list = queries if isinstance(queries, MotifList) else as_motif_list(queries, "queries")
    target_list = targets if isinstance(targets, MotifList) else as_motif_list(targets, "targets")
    limit = min(int(max_query_width), MAX_QUERY_WIDTH)
    too_wide = np.flatnonzero(query_list.widths > limit)
    if too_wide.size:
        i = int(too_wide[0])
        raise InputError(f"query '{query_list.names[i]}' is {query_list.widths[i]} columns "
                         f"wide, more than max_query_width={limit}; trim it (e.g. to its "
                         "informative core) before comparing")
    dev = resolve_device(device)
    uniform = np.full(4, 0.25)
    q_mats = [apply_pseudocount(m, pseudocount, n, uniform)
              for m, n in zip(query_list.matrices, query_list.nsites)]
    t_mats = [apply_pseudocount(m, pseudocount, n, uniform)
              for m, n in zip(target_list.matrices, target_list.nsites)]
    if not any(np.any(m != 0) for m in q_mats) or not any(np.any(m != 0) for m in t_mats):
        raise InputError("queries or targets are all zeros; TOMTOM needs non-zero matrices")
    database = _Database(t_mats, reverse_complement, distance, n_score_bins, n_median_bins, dev)
    engine = _Engine(database, int(min_overlap), None if n_nearest is None else int(n_nearest))
    return engine.run(q_mats, batch_size, verbose)


# --------------------------------------------------------------------------------------
# The database: target columns and their layout
# --------------------------------------------------------------------------------------

class _Database:
    """Target columns (with reverse complements), plus their deduplicated form and
    alignment layouts for the torch engine (computed on first use)."""

    def __init__(self, matrices: list[np.ndarray], reverse_complement: bool, distance: str,
                 n_score_bins: int, n_median_bins: int, device: torch.device):
        self.device = device
        self.distance = distance
        self.n_bins = n_score_bins
        self.n_median_bins = n_median_bins
        self.n_targets = len(matrices)
        self.reverse_complement = reverse_complement
        oriented = list(matrices)
        if reverse_complement:
            oriented += [m[::-1, ::-1] for m in matrices]
        self.lengths = torch.tensor([m.shape[1] for m in oriented], dtype=torch.int64,
                                    device=device)
        self.flat = np.concatenate(oriented, axis=1).T  # (M, 4), every oriented column
        self.n_columns = self.flat.shape[0]
        self.halfway = float(self.n_columns) / 2
        starts = np.concatenate([[0], np.cumsum([m.shape[1] for m in oriented])[:-1]])
        self.starts = torch.as_tensor(starts, dtype=torch.int64, device=device)
        self._layouts: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._kernel_arrays: dict[str, np.ndarray] | None = None

    @functools.cached_property
    def _unique(self) -> dict[str, torch.Tensor]:
        """Distinct columns (M_u, 4), each column's index among them and their counts."""
        unique, inverse, counts = np.unique(self.flat, axis=0, return_inverse=True,
                                            return_counts=True)
        columns = torch.from_numpy(np.ascontiguousarray(unique)).to(self.device)
        counts = torch.from_numpy(counts).to(device=self.device, dtype=torch.float64)
        out = {"columns": columns, "inverse": torch.from_numpy(inverse.ravel()).to(self.device),
               "counts": counts, "weights": counts / float(self.n_columns)}
        if self.distance == "ed":
            out["norms"] = (columns ** 2).sum(1)
        else:
            out["centred"] = columns - 0.25
            out["sum_squares"] = (out["centred"] ** 2).sum(1)
        return out

    columns = property(lambda self: self._unique["columns"])
    inverse = property(lambda self: self._unique["inverse"])
    counts = property(lambda self: self._unique["counts"])
    weights = property(lambda self: self._unique["weights"])
    norms = property(lambda self: self._unique["norms"])
    centred = property(lambda self: self._unique["centred"])
    sum_squares = property(lambda self: self._unique["sum_squares"])

    def dissimilarity(self, query_columns: torch.Tensor) -> torch.Tensor:
        """Minus the column similarity of query columns (U, 4) with every unique database
        column, (U, M_u) float64: the Euclidean distance, or minus the Pearson correlation.
        """
        if self.distance == "ed":
            q_norms = (query_columns ** 2).sum(1)
            squared = torch.addmm(q_norms[:, None] + self.norms[None, :], query_columns,
                                  self.columns.T, alpha=-2.0)
            return squared.clamp_(min=0).sqrt_()
        centred = query_columns - 0.25
        numerator = centred @ self.centred.T
        denominator = torch.sqrt((centred ** 2).sum(1)[:, None] * self.sum_squares[None, :])
        safe = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
        return torch.where(denominator == 0, torch.zeros_like(numerator), -numerator / safe)

    def layout(self, width: int):
        """Flat target layout for queries of one width.

        Oriented targets are laid end to end in order of length, separated (and
        flanked) by ``width - 1`` padding columns, so every alignment of a query is a
        window of one flat array, the windows of one target are consecutive, and the
        targets of one length form a block that reshapes to (n_targets, n_alignments).

        Returns
        -------
        flat : torch.Tensor (L_flat,)
            Unique database column (in [0, M_u)) at each flat position, M_u for padding.
        groups : list of (length, targets, start, n_align, overlap)
            Per target length: the oriented target indices (in layout order), the first
            window of the block, ``width + length - 1`` and the (n_align,) overlap of
            each alignment.
        overlap : torch.Tensor (L_out,)
            Overlap of every window (L_out = L_flat - width + 1).
        """
        if width in self._layouts:
            return self._layouts[width]
        dev = self.device
        gap = width - 1
        lengths = self.lengths.cpu()
        order = torch.argsort(lengths, stable=True)
        sorted_lengths = lengths[order]
        n_oriented = len(order)
        # Flat position of every column of every target, in layout order.
        starts_sorted = torch.cumsum(sorted_lengths, 0) - sorted_lengths
        flat_start = starts_sorted + gap * (torch.arange(n_oriented) + 1)
        total = self.n_columns + (n_oriented + 1) * gap
        flat = torch.full((total,), len(self.columns), dtype=torch.int64)
        owner = torch.repeat_interleave(torch.arange(n_oriented), sorted_lengths)
        local = torch.arange(self.n_columns) - torch.repeat_interleave(starts_sorted,
                                                                       sorted_lengths)
        source = self.starts.cpu()[order][owner] + local
        flat[flat_start[owner] + local] = self.inverse.cpu()[source]
        groups, pieces = [], []
        position = 0
        for t in torch.unique(sorted_lengths).tolist():
            members = order[sorted_lengths == t]
            n_align = width + t - 1
            a = torch.arange(n_align)
            ov = torch.clamp(a + 1, max=width) - torch.clamp(a - t + 1, min=0)
            groups.append((t, members.to(dev), position, n_align, ov.to(dev)))
            pieces.append(ov.repeat(len(members)))
            position += len(members) * n_align
        overlap = torch.cat(pieces)
        self._layouts[width] = (flat.to(dev), groups, overlap.to(dev))
        return self._layouts[width]

    def kernel_arrays(self) -> dict[str, np.ndarray]:
        """The database as numpy arrays for the CPU kernel (computed once).

        Every column of every oriented target (not deduplicated), grouped by target
        length and, within a group of n targets of length t, ordered column-major (column p
        of the r-th target at ``base + p * n + r``): Y (4, N) (centred at 1/4 for Pearson)
        and aux (N,) its squared norms in memelite's summation order (Euclidean) or sums
        of squares (Pearson); per group its length, size, base and members (oriented
        target indices); the oriented target lengths; and the forward targets sorted by
        length with the start of each length.
        """
        if self._kernel_arrays is None:
            columns = self.flat
            lengths = self.lengths.cpu().numpy().astype(np.int64)
            starts = self.starts.cpu().numpy().astype(np.int64)
            members = np.argsort(lengths, kind="stable").astype(np.int64)
            group_length, group_size = np.unique(lengths[members], return_counts=True)
            group_base = np.concatenate([[0], np.cumsum(group_length * group_size)[:-1]])
            source = []
            offset = 0
            for t, n in zip(group_length, group_size):
                chosen = members[offset:offset + n]
                # Column p of every member, for p = 0..t-1.
                source.append((starts[chosen][None, :] + np.arange(t)[:, None]).ravel())
                offset += n
            flat = columns[np.concatenate(source)].T
            if self.distance == "ed":
                y = np.ascontiguousarray(flat)
                aux = y[0] * y[0] + y[1] * y[1] + y[2] * y[2] + y[3] * y[3]
            else:
                y = np.ascontiguousarray(flat - 0.25)
                aux = (y ** 2).sum(0)
            forward = lengths[:self.n_targets]
            order = np.argsort(forward, kind="stable").astype(np.int64)
            cuts = np.flatnonzero(np.diff(forward[order])) + 1
            self._kernel_arrays = {
                "Y": y, "aux": np.ascontiguousarray(aux),
                "group_length": group_length.astype(np.int64),
                "group_size": group_size.astype(np.int64),
                "group_base": group_base.astype(np.int64), "group_members": members,
                "target_lengths": lengths, "length_order": order,
                "group_start": np.concatenate([[0], cuts, [len(order)]]).astype(np.int64),
            }
        return self._kernel_arrays

    def layout_inverse(self, width: int) -> torch.Tensor:
        """Position in layout order of every oriented target (for :meth:`layout`)."""
        _, groups, _ = self.layout(width)
        members = torch.cat([g[1] for g in groups])
        return torch.argsort(members)


# --------------------------------------------------------------------------------------
# Per-batch computation
# --------------------------------------------------------------------------------------

class _Engine:
    def __init__(self, database: _Database, min_overlap: int, n_nearest: int | None):
        self.db = database
        self.min_overlap = min_overlap
        self.n_nearest = None if n_nearest is None else min(n_nearest, database.n_targets)

    # ---- driver ---------------------------------------------------------------------

    def run(self, queries: list[np.ndarray], batch_size: int | None,
            verbose: bool | None) -> TomtomResult:
        db = self.db
        n_q = len(queries)
        k = db.n_targets if self.n_nearest is None else self.n_nearest
        # Every row is written by one of the two engines.
        out = {name: np.empty((n_q, k), dtype=dtype) for name, dtype in
               [("p", np.float64), ("score", np.int64), ("offset", np.int64),
                ("overlap", np.int64), ("strand", np.int8), ("target", np.int64)]}
        by_kernel = self._by_kernel(queries)
        work = [("torch", batch) for batch in
                self._torch_batches(queries, np.flatnonzero(~by_kernel), batch_size)]
        work += [("kernel", chunk) for chunk in
                 _kernel_chunks(queries, np.flatnonzero(by_kernel), batch_size)]
        run_kernel = _KernelRun(_cpu_kernel(db.device), db, queries, self.min_overlap,
                                self.n_nearest, out) if by_kernel.any() else None
        for kind, batch in progress(work, desc="tomtom", unit="batch", verbose=verbose):
            if kind == "kernel":
                run_kernel(batch)
                continue
            result = self._run_batch([queries[i] for i in batch[0]], *batch[1:])
            for name, values in result.items():
                out[name][batch[0]] = values.cpu().numpy()
        return TomtomResult(out["p"], out["score"], out["offset"], out["overlap"],
                            out["strand"], out["target"], db.n_targets)

    def _by_kernel(self, queries: list[np.ndarray]) -> np.ndarray:
        """Which queries the CPU kernel runs: all but sequences (one-hot or all-zero
        columns, e.g. seqlets), unless there are too few of those for the torch engine's
        sharing of span distributions by composition to pay off. None without a kernel
        (CUDA, or numba missing)."""
        if _cpu_kernel(self.db.device) is None:
            return np.zeros(len(queries), dtype=bool)
        sequence = np.array([_is_sequence(q) for q in queries], dtype=bool)
        if sequence.sum() < _MIN_SHARED_QUERIES:
            return np.ones(len(queries), dtype=bool)
        return ~sequence

    def _torch_batches(self, queries: list[np.ndarray], indices: np.ndarray,
                       batch_size: int | None):
        """Batches of the torch engine: (query indices, distinct query columns, column ids
        of the batch's queries concatenated)."""
        if indices.size == 0:
            return []
        chosen = [queries[i] for i in indices]
        columns = np.ascontiguousarray(np.concatenate(chosen, axis=1).T)
        unique, column_ids = _unique_rows(columns)
        starts = np.concatenate([[0], np.cumsum([q.shape[1] for q in chosen])])
        batches = []
        for batch in self._batches(chosen, column_ids, starts, batch_size):
            ids = np.concatenate([column_ids[starts[i]:starts[i + 1]] for i in batch])
            batches.append((indices[batch], unique, ids))
        return batches

    def _batches(self, queries: list[np.ndarray], column_ids: np.ndarray, starts: np.ndarray,
                 batch_size: int | None) -> list[np.ndarray]:
        """Queries sorted by width, cut so each batch's unique columns fit the budget."""
        widths = np.array([q.shape[1] for q in queries])
        order = np.argsort(widths, kind="stable")
        budget = max(64, _BATCH_BYTES // (12 * max(1, self.db.columns.shape[0])))
        max_queries = batch_size or 4096
        batches, current, seen = [], [], set()
        for i in order:
            ids = set(column_ids[starts[i]:starts[i + 1]].tolist())
            if current and (len(current) >= max_queries or len(seen | ids) > budget):
                batches.append(np.array(current))
                current, seen = [], set()
            current.append(i)
            seen |= ids
        if current:
            batches.append(np.array(current))
        return batches

    def _run_batch(self, queries: list[np.ndarray], all_unique: np.ndarray,
                   ids: np.ndarray) -> dict[str, torch.Tensor]:
        """One batch of queries sorted by width; ``ids`` index their columns (concatenated)
        in ``all_unique``, the distinct query columns of the whole run."""
        db = self.db
        dev = db.device
        widths = torch.tensor([q.shape[1] for q in queries], dtype=torch.int64, device=dev)
        n_b, w_max = len(queries), int(widths.max())
        kinds, local = np.unique(ids, return_inverse=True)
        unique = torch.from_numpy(all_unique[kinds]).to(dev)
        column_kind = torch.from_numpy(local.ravel()).to(dev)
        dissim, d_min, d_max, d_median = self._column_statistics(unique)

        owner = torch.repeat_interleave(torch.arange(n_b, device=dev), widths)
        # Score g = -dissimilarity; memelite's range uses min(g) - median and max(g) - median.
        i_min, bin_scale, offset = self._integer_scale(d_median - d_max, d_median - d_min,
                                                       column_kind, owner, n_b)
        classes, query_class = torch.unique(torch.stack([i_min, bin_scale], 1), dim=0,
                                            return_inverse=True)
        pair_key = column_kind * len(classes) + query_class[owner]
        pairs, column_pair = torch.unique(pair_key, return_inverse=True)
        pair_kind, pair_class = pairs // len(classes), pairs % len(classes)
        hist, shifted = self._integerise(dissim, d_median, pair_kind, classes[pair_class])
        del dissim

        # (n_b, w_max) pair index of every query column, -1 past the query's end.
        position = torch.arange(len(owner), device=dev) - torch.repeat_interleave(
            torch.cumsum(widths, 0) - widths, widths)
        pair_table = torch.full((n_b, w_max), -1, dtype=torch.int64, device=dev)
        pair_table[owner, position] = column_pair

        best = self._best_alignments(pair_table, widths, shifted, offset)
        del shifted
        cand = self._candidates(best)
        acc = self._null_log_cdf(pair_table, widths, offset, hist, pair_class, cand)
        n_orient = 2 if db.reverse_complement else 1
        p = (-torch.expm1(n_orient * acc)).clamp(0.0, 1.0)
        return self._finish(p, cand, widths)

    # ---- steps ----------------------------------------------------------------------

    def _column_statistics(self, unique):
        """Dissimilarities of the batch's unique query columns and their row statistics.

        Returns the (U, M_u) dissimilarities and per row its min, max and memelite's binned
        median (of the scores g = -d, expressed back in d).
        """
        db = self.db
        n_u = len(unique)
        n_bins = db.n_median_bins
        dissim = torch.empty((n_u, len(db.columns)), dtype=torch.float64, device=db.device)
        d_min = torch.empty(n_u, dtype=torch.float64, device=db.device)
        d_max = torch.empty_like(d_min)
        d_median = torch.empty_like(d_min)
        step = _row_chunk(len(db.columns))
        for lo in range(0, n_u, step):
            hi = min(n_u, lo + step)
            d = db.dissimilarity(unique[lo:hi])
            dissim[lo:hi] = d
            low, high = torch.aminmax(d, dim=1)
            d_min[lo:hi], d_max[lo:hi] = low, high
            d_median[lo:hi] = _binned_median(d, low, high, db.counts, db.halfway, n_bins)
        return dissim, d_min, d_max, d_median

    def _integer_scale(self, low_shift, high_shift, column_kind, owner, n_b):
        """memelite's per-query integer range: i_min, bin_scale and offset (int64)."""
        dev = self.db.device
        z_min = torch.full((n_b,), float("inf"), dtype=torch.float64, device=dev)
        z_max = torch.full((n_b,), -float("inf"), dtype=torch.float64, device=dev)
        z_min = z_min.scatter_reduce(0, owner, low_shift[column_kind], "amin")
        z_max = z_max.scatter_reduce(0, owner, high_shift[column_kind], "amax")
        i_min = torch.floor(z_min)
        spread = torch.clamp(z_max - i_min, min=1.0)
        bin_scale = torch.floor(self.db.n_bins / spread)
        i_min, bin_scale = i_min.to(torch.int64), bin_scale.to(torch.int64)
        return i_min, bin_scale, -i_min * bin_scale

    def _integerise(self, dissim, d_median, pair_kind, pair_scale):
        """Integer scores of each (column kind, class) pair against the database.

        memelite computes ``x = floor((g - (median + i_min)) * bin_scale + 0.5)`` with
        ``g = -d``; the same floating-point operations are done here on ``d``.

        Returns the null histograms (P, n_bins + 1) float64 and the median-centred integer
        scores ``x - offset`` for every unique database column plus a trailing 0 for
        padding, (P, M_u + 1) int16 (int32 when n_score_bins is large).
        """
        db = self.db
        n_p = len(pair_kind)
        i_min = pair_scale[:, 0].to(torch.float64)
        scale = pair_scale[:, 1].to(torch.float64)
        centre = i_min - d_median[pair_kind]  # median of g plus i_min
        offset = -pair_scale[:, 0] * pair_scale[:, 1]
        hist = torch.zeros((n_p, db.n_bins + 1), dtype=torch.float64, device=db.device)
        # Alignment sums of at most MAX_QUERY_WIDTH values in [-n_bins, n_bins] fit int16
        # for the default 100 bins (half the memory traffic of int32).
        small = db.n_bins * MAX_QUERY_WIDTH < 2**15
        dtype = torch.int16 if small else torch.int32
        shifted = torch.zeros((n_p, len(db.columns) + 1), dtype=dtype, device=db.device)
        step = _row_chunk(len(db.columns))
        for lo in range(0, n_p, step):
            hi = min(n_p, lo + step)
            # floor((g - centre) * scale + 0.5) with g = -d: the same operations as memelite.
            y = dissim[pair_kind[lo:hi]].add_(centre[lo:hi, None]).mul_(scale[lo:hi, None])
            x = y.neg_().add_(0.5).floor_().to(torch.int64).clamp_(0, db.n_bins)
            hist[lo:hi].scatter_add_(1, x, db.weights.expand(hi - lo, -1))
            shifted[lo:hi, :-1] = (x - offset[lo:hi, None]).to(dtype)
        return hist, shifted

    def _best_alignments(self, pair_table, widths, shifted, offset):
        """Best alignment of every query with every oriented target.

        Returns a dict of (n_b, n_oriented) int64 tensors: score (shifted integer units:
        ``nq * offset`` plus the aligned columns' centred scores), alignment index ``a``
        and overlap. Ties go to the larger overlap, then the smaller ``a``.
        """
        db = self.db
        dev = db.device
        n_b = len(widths)
        n_or = len(db.lengths)
        score = torch.empty((n_b, n_or), dtype=torch.int64, device=dev)
        align = torch.empty_like(score)
        overlap = torch.empty_like(score)
        for width in torch.unique(widths).tolist():
            rows = torch.nonzero(widths == width).ravel()
            flat, groups, ov = db.layout(width)
            # Window keys are 128 * score + overlap (exact in float32), so a maximum over a
            # target's windows breaks score ties by overlap and argmax takes the leftmost.
            # Windows shorter than min_overlap get a key no real window can reach.
            tie = ov.to(torch.float32)
            if self.min_overlap > 1:
                t_of_window = torch.cat([torch.full((len(g[1]) * g[3],), g[0], device=dev)
                                         for g in groups])
                needed = torch.clamp(torch.clamp(t_of_window, max=width), max=self.min_overlap)
                tie = torch.where(ov >= needed, tie, torch.full_like(tie, -2.0 ** 23))
            step = max(1, _MAX_KEY_ELEMENTS // len(ov))
            back = db.layout_inverse(width)
            for lo in range(0, len(rows), step):
                sub = rows[lo:lo + step]
                pairs = pair_table[sub, :width]
                used, local = torch.unique(pairs, return_inverse=True)
                # Keys (L_out, B): one matrix product when the queries use few column kinds
                # (one-hot seqlets), else shifted additions of each column's scores.
                if len(used) <= _GEMM_KINDS:
                    key = _window_keys_gemm(local, shifted[used][:, flat], tie)
                else:
                    key = _window_keys_add(pairs, shifted, flat, tie)
                parts = [[], [], []]
                for t, members, start, n_align, group_ov in groups:
                    block = key[start:start + len(members) * n_align]
                    best_key, best_a = block.view(len(members), n_align, len(sub)).max(1)
                    best_key, best_a = best_key.T, best_a.T
                    best_ov = group_ov[best_a]
                    parts[0].append((best_key.to(torch.int64) - best_ov) // 128)
                    parts[1].append(best_a)
                    parts[2].append(best_ov)
                # Columns come in layout order; put them back in target order.
                score[sub] = torch.cat(parts[0], 1)[:, back] + width * offset[sub][:, None]
                align[sub] = torch.cat(parts[1], 1)[:, back]
                overlap[sub] = torch.cat(parts[2], 1)[:, back]
        return {"score": score, "align": align, "overlap": overlap}

    def _candidates(self, best):
        """Merge strands and choose which targets need a p-value.

        Returns a dict of (n_b, k_c) tensors: target index, score, alignment, overlap,
        strand and target length.
        """
        db = self.db
        n = db.n_targets
        score, align, overlap = best["score"], best["align"], best["overlap"]
        if db.reverse_complement:
            key_f = score[:, :n] * 128 + overlap[:, :n]
            key_r = score[:, n:] * 128 + overlap[:, n:]
            use_rc = key_r > key_f
            pick = lambda x: torch.where(use_rc, x[:, n:], x[:, :n])  # noqa: E731
            score, align, overlap = pick(score), pick(align), pick(overlap)
            strand = use_rc.to(torch.int8)
        else:
            strand = torch.zeros_like(score, dtype=torch.int8)
        lengths = db.lengths[:n]
        n_b = len(score)
        if self.n_nearest is not None:
            target = _top_per_length(score, lengths, self.n_nearest)
        else:
            # Every target, ordered by length (the null accumulation works on slices).
            target = torch.argsort(lengths, stable=True).expand(n_b, -1)
        pick = lambda x: torch.gather(x, 1, target)  # noqa: E731
        return {"target": target, "score": pick(score), "align": pick(align),
                "overlap": pick(overlap), "strand": pick(strand), "length": lengths[target[0]]}

    def _null_log_cdf(self, pair_table, widths, offset, hist, pair_class, cand):
        """log P(every alignment scores below the observed score) for each candidate.

        The spans of query columns are processed by length m: their score distributions
        are built by convolution from the spans one shorter, turned into a table of
        ``log P(span sum < s)``, and every alignment whose aligned query span has length m
        adds its term to the candidates' accumulators. Queries are sorted by width and
        candidate targets by length, so each kind of term covers a rectangle of the
        accumulator.
        """
        db = self.db
        dev = db.device
        n_b, w_max = pair_table.shape
        kern, kern_lo, kern_width = _compact(hist)
        score, length = cand["score"], cand["length"]
        acc = torch.zeros(score.shape, dtype=torch.float64, device=dev)
        span_key = _SpanKeys(pair_table, widths, pair_class)
        widths_cpu = widths.cpu()
        length_cpu = length.cpu()
        pdf = lo = width_of = None
        for m in range(1, w_max + 1):
            rowid, parent, kernel = span_key.level(m)
            if m == 1:
                pdf, lo, width_of = kern[kernel], kern_lo[kernel], kern_width[kernel]
            else:
                pdf = convolve_rows(pdf[parent], kern[kernel])
                lo = lo[parent] + kern_lo[kernel]
                width_of = width_of[parent] + kern_width[kernel] - 1
                pdf = pdf[:, :int(width_of.max())]
            table = _log_cdf_table(pdf).reshape(-1)
            n_col = pdf.shape[1] + 1
            # Rows [r_eq, r_gt) have width m, rows [r_gt, n_b) are wider; candidate
            # columns [c_eq, c_gt) have length m, [c_gt, k) are longer.
            r_eq = int(torch.searchsorted(widths_cpu, m))
            r_gt = int(torch.searchsorted(widths_cpu, m, right=True))
            c_eq = int(torch.searchsorted(length_cpu, m))
            c_gt = int(torch.searchsorted(length_cpu, m, right=True))
            # Observed score minus this length's shift (offset * unaligned columns).
            base = score - (offset * (widths - m))[:, None]

            def lookup(rows, r0, c0, c1):
                """log P(span < s) for span rows (n,) and candidate columns [c0, c1)."""
                j = base[r0:r0 + len(rows), c0:c1] - lo[rows][:, None]
                j.clamp_(0, n_col - 1).add_((rows * n_col)[:, None])
                return table[j]

            if r_gt < n_b:
                wide = slice(r_gt, n_b)
                if c_gt < score.shape[1]:
                    # Overhangs: query prefix and suffix of length m, targets longer than m.
                    prefix = rowid[wide, 0]
                    suffix = torch.gather(rowid[wide], 1, (widths[wide] - m)[:, None])[:, 0]
                    acc[wide, c_gt:] += lookup(prefix, r_gt, c_gt, None) + \
                        lookup(suffix, r_gt, c_gt, None)
                if c_eq < c_gt:
                    # Targets of length m, shorter than the query: every internal window.
                    for i in range(int(widths_cpu[-1]) - m + 1):
                        r0 = r_gt if i == 0 else int(torch.searchsorted(widths_cpu, m + i))
                        if r0 >= n_b:
                            break
                        acc[r0:, c_eq:c_gt] += lookup(rowid[r0:, i], r0, c_eq, c_gt)
            if r_eq < r_gt and c_eq < score.shape[1]:
                # Queries of width m against targets at least as long: t - m + 1 copies.
                whole = rowid[r_eq:r_gt, 0]
                copies = (length[c_eq:] - m + 1).to(torch.float64)
                acc[r_eq:r_gt, c_eq:] += lookup(whole, r_eq, c_eq, None) * copies
        return acc

    def _finish(self, p, cand, widths):
        """Order candidates by p-value (n_nearest) and return the output arrays."""
        target = cand["target"]
        offset = cand["align"] - (widths[:, None] - 1)
        if self.n_nearest is not None:
            # Sort by p-value, ties by target index (stable after sorting by index).
            by_target = torch.argsort(target, dim=1, stable=True)
            p_sorted = torch.gather(p, 1, by_target)
            order = torch.gather(by_target, 1, torch.argsort(p_sorted, dim=1, stable=True))
            order = order[:, :self.n_nearest]
            pick = lambda x: torch.gather(x, 1, order)  # noqa: E731
        else:
            order = torch.argsort(target[:1], dim=1).expand_as(target)  # back to input order
            pick = lambda x: torch.gather(x, 1, order)  # noqa: E731
        return {"p": pick(p), "score": pick(cand["score"]), "offset": pick(offset),
                "overlap": pick(cand["overlap"]), "strand": pick(cand["strand"]),
                "target": pick(target)}


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------

def _cpu_kernel(device: torch.device):
    """The fused numba kernel module for CPU runs, or None (other devices, numba missing,
    or ``_USE_CPU_KERNEL`` switched off)."""
    return numba_kernels("motifscope.motifs._tomtom_cpu", device, _USE_CPU_KERNEL)


def _is_sequence(matrix: np.ndarray) -> bool:
    """Whether every column is one-hot or all zero (a sequence, e.g. a seqlet): such
    queries share span distributions by composition in the torch engine."""
    return bool(np.all((matrix == 0) | (matrix == 1)) and np.all(matrix.sum(0) <= 1))


def _kernel_chunks(queries: list[np.ndarray], indices: np.ndarray,
                   batch_size: int | None) -> list[np.ndarray]:
    """Queries for the CPU kernel, widest first (the kernel interleaves them over its
    threads), in chunks of ``batch_size`` (default 256) for the progress bar."""
    if indices.size == 0:
        return []
    widths = np.array([queries[i].shape[1] for i in indices])
    ordered = indices[np.argsort(-widths, kind="stable")]
    size = batch_size or 256
    return [ordered[lo:lo + size] for lo in range(0, len(ordered), size)]


class _KernelRun:
    """Runs the CPU kernel on chunks of queries into the output arrays, with per-thread
    scratch allocated once."""

    def __init__(self, kernel, db: "_Database", queries: list[np.ndarray], min_overlap: int,
                 n_nearest: int | None, out: dict[str, np.ndarray]):
        import numba

        self.kernel, self.db, self.queries, self.out = kernel, db, queries, out
        self.min_overlap = min_overlap
        self.n_nearest = -1 if n_nearest is None else n_nearest
        self.arrays = db.kernel_arrays()
        # the most threads numba_threads() will give; the scratch is sized for them
        self.threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
        self.scratch = None

    def __call__(self, batch: np.ndarray) -> None:
        """Fill the output rows ``batch``."""
        arrays, db, out = self.arrays, self.db, self.out
        chosen = [self.queries[i] for i in batch]
        widths = np.array([q.shape[1] for q in chosen], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        matrix = self.kernel.column_coefficients(np.concatenate(chosen, axis=1), db.distance)
        if self.scratch is None or self.scratch[5].shape[1] < widths.max():
            # Chunks come widest first, so this is allocated once; threads are capped so
            # that their scratch (about 10 bytes x widest query x database columns each)
            # stays within the budget.
            shape = (int(widths.max()), arrays["Y"].shape[1], db.n_bins, db.n_median_bins,
                     int(arrays["group_length"].max()), int(arrays["group_size"].max()),
                     len(arrays["target_lengths"]), db.n_targets)
            per_thread = self.kernel.scratch_bytes(*shape)
            self.threads = max(1, min(self.threads, _KERNEL_SCRATCH_BYTES // per_thread))
            self.scratch = self.kernel.make_scratch(self.threads, *shape)
        # Queries are handed out one at a time (their costs differ by the cube of width).
        with numba_threads(chunksize=1, max_threads=self.threads):
            self.kernel.run_queries(
                db.distance == "ed", matrix, starts, widths, batch.astype(np.int64),
                arrays["Y"], arrays["aux"], arrays["group_length"], arrays["group_size"],
                arrays["group_base"], arrays["group_members"], arrays["target_lengths"],
                db.n_targets, db.reverse_complement, arrays["length_order"],
                arrays["group_start"], db.n_bins, db.n_median_bins, self.min_overlap,
                self.n_nearest, self.scratch, out["p"], out["score"], out["offset"],
                out["overlap"], out["strand"], out["target"])


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


# --------------------------------------------------------------------------------------
# Table output
# --------------------------------------------------------------------------------------

def _result_table(result: TomtomResult, queries: MotifList, targets: MotifList,
                  thresh: float | None, pseudocount: float) -> pd.DataFrame:
    n_q, k = result.p_values.shape
    p = torch.from_numpy(result.p_values)
    q = bh_qvalues(p, n_tests=result.n_targets).numpy()
    q_idx = np.repeat(np.arange(n_q), k)
    t_idx = result.target_idx.ravel()
    strands = result.strands.ravel()
    q_cons = [consensus(m) for m in queries.matrices]
    t_cons = [consensus(m) for m in targets.matrices]
    t_cons_rc = [consensus(m[::-1, ::-1]) for m in targets.matrices]
    table = pd.DataFrame({
        "query_id": np.array(queries.names, dtype=object)[q_idx],
        "target_id": np.array(targets.names, dtype=object)[t_idx],
        "optimal_offset": result.offsets.ravel(),
        "p-value": result.p_values.ravel(),
        "E-value": result.p_values.ravel() * result.n_targets,
        "q-value": q.ravel(),
        "overlap": result.overlaps.ravel(),
        "query_consensus": np.array(q_cons, dtype=object)[q_idx],
        "target_consensus": np.where(strands == 1, np.array(t_cons_rc, dtype=object)[t_idx],
                                     np.array(t_cons, dtype=object)[t_idx]),
        "orientation": np.where(strands == 1, "-", "+"),
        "score": result.scores.ravel(),
    })
    table["_q"] = q_idx
    table["_t"] = t_idx
    table = table.sort_values(["_q", "p-value", "_t"], kind="mergesort")
    if thresh is not None:
        table = table[table["q-value"] <= thresh]
    return table.drop(columns=["_q", "_t"]).reset_index(drop=True)[TOMTOM_COLUMNS]
