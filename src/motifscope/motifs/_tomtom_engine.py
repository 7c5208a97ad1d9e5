"""The TOMTOM engines: the batched torch engine (CUDA, CPU without numba, many sequence
queries on CPU) and the dispatch of PWM queries to the fused numba kernel of
:mod:`motifscope.motifs._tomtom_cpu` on CPU. Both give the same p-values to 1e-12.

Module flags (tests switch them): ``_USE_CPU_KERNEL`` (numba kernel on CPU) and
``_MIN_SHARED_QUERIES`` (sequence queries below it go to the kernel).
"""

from __future__ import annotations

import numpy as np
import torch

from motifscope.motifs._convolve import convolve_rows
from motifscope.motifs._tomtom_common import (
    _binned_median,
    _compact,
    _log_cdf_table,
    _row_chunk,
    _SpanKeys,
    _top_per_length,
    _unique_rows,
    _window_keys_add,
    _window_keys_gemm,
    MAX_QUERY_WIDTH,
    TomtomResult,
)
from motifscope.motifs._tomtom_database import _Database
from motifscope.utils import numba_kernels, numba_threads, progress


# Window sums are one matrix product when a group of queries has at most this many
# column kinds (one-hot seqlets have 4 or 5).
_GEMM_KINDS = 16
# Elements per (queries x windows) block of alignment keys.
_MAX_KEY_ELEMENTS = 4_000_000


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
