"""motifscope's TF-MoDISco engine: modisco-lite's procedure with faster, leaner kernels.

TF-MoDISco spends its time and memory in eight computations, which modisco-lite 3.0 (the
field's implementation, and the oracle) runs as lazily compiled numba loops or Python
loops over lists; this module computes each of them its own way and returns what
modisco-lite's function returns:

===========================  ===============================================================
modisco-lite                 here
===========================  ===============================================================
``cosine_similarity_from_``  gapped k-mer embeddings (modisco-lite's extractor, compiled
``seqlets``                  once and cached), then the two cosine products as sparse
                             matrix products over blocks of rows (32 MB of scores at once)
                             instead of one merge loop per pair
``jaccard``                  :func:`~motifscope.denovo._kernels_cpu.sliding_jaccard`: a
                             vectorised reduction per offset
``_filter_by_correlation``   the same Spearman test per seqlet; the kept neighbours as one
                             array per seqlet, not lists of numpy scalars (800 MB at
                             20,000 seqlets)
``_density_adaptation``      array arithmetic on the CSR matrix, a block of rows at a time;
                             the perplexity search in one compiled loop
``LeidenCluster``            leidenalg on the graph with each pair once (modisco-lite adds
                             both (i, j) and (j, i) as parallel edges: the same modularity,
                             half the edges); the same seeds and the same choice of the run
                             with the best quality; on large graphs each run in a small
                             process of its own (:mod:`._leiden_worker`)
``pairwise_jaccard``         :func:`~motifscope.denovo._kernels_cpu.rows_jaccard` over
                             blocks of rows (the (n, n) matrix was 2.3 GB at 10,000 seqlets)
``pearson_correlation``      one array expression over all offsets
``roc_auc_score``            the Mann-Whitney statistic of the ranks (sklearn's checks
                             outweigh the arithmetic on a pattern pair's few scores)
===========================  ===============================================================

The orchestration (rounds, merging, trimming, subpatterns) is modisco-lite's own code:
:func:`substituted_kernels` swaps the eight functions in for the duration of a call, and
with them modisco-lite's gapped k-mer extractor recompiled with a disk cache; the tracks
are held compactly (:mod:`._trackset`). tests/test_modisco.py checks the patterns against
modisco-lite run as is; bench/RESULTS.md ("modisco") measures both.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import scipy.sparse
import scipy.stats
from modiscolite import aggregator, affinitymat, cluster, gapped_kmer, tfmodisco
from numba import njit

from motifscope.denovo import _kernels_cpu, _leiden_worker
from motifscope.utils import progress

# Rows of the coarse similarity computed at once, and the bytes of one (block, n) float64
_COARSE_BLOCK = 512
_COARSE_BLOCK_BYTES = 32 * 2**20
# Rows of the fine similarity per kernel call, and the pairs from which it shows progress
_FINE_BLOCK = 256
_FINE_PROGRESS_PAIRS = 200_000
# Similarities of the all-pairs Jaccard held at once (rows of n float64 and their argsort)
_PAIRWISE_BLOCK_BYTES = 64 * 2**20
# Rows of the density adaptation's arithmetic per block
_DENSITY_BLOCK_ROWS = 2048
# Edges from which a graph's Leiden runs are worth a process each
_PARALLEL_LEIDEN_EDGES = 50_000
# Whether the phases show progress bars (set by substituted_kernels)
_verbose: bool | None = False

# modisco-lite's gapped k-mer extractor, compiled once per machine rather than per process
_cached_gkmers = njit(parallel=True, cache=True)(gapped_kmer._extract_gkmers.py_func)


def jaccard(X, Y, min_overlap=None, seqlet_neighbors=None, func=np.ceil,
            return_sparse=False):
    """Continuous Jaccard of seqlet pairs at every overlap (``affinitymat.jaccard``).

    Parameters
    ----------
    X : array, shape (n_x, d, m)
        Neighbour data (``util.get_2d_data_from_patterns``).
    Y : array, shape (n_y, d, m)
        Seqlet data, slid along X.
    min_overlap : float, optional
        Fraction of d that must overlap; Y is zero-padded by ``func(d * (1 - min_overlap))``
        positions on each side. None: no sliding.
    seqlet_neighbors : int array, shape (n_y, k), optional
        Rows of X compared with each row of Y (default: all of X).
    func : callable, default np.ceil
        Rounding of the padding.
    return_sparse : bool, default False
        True: the best score of each pair, shape (n_y, k). False: shape (n_y, k, 2) holding
        the best score and its offset (negative: Y starts before X).
    """
    if seqlet_neighbors is None:
        seqlet_neighbors = np.tile(np.arange(X.shape[0]), (Y.shape[0], 1))
    n_pad = int(func(X.shape[1] * (1 - min_overlap))) if min_overlap is not None else 0
    d, m = X.shape[1], X.shape[2]
    X = np.ascontiguousarray(X, dtype=np.float32).reshape(len(X), d * m)
    Y = np.pad(np.asarray(Y, dtype=np.float32), ((0, 0), (n_pad, n_pad), (0, 0)))
    n_offsets = 1 + Y.shape[1] - d
    Y = Y.reshape(len(Y), -1)
    neighbors = np.ascontiguousarray(seqlet_neighbors, dtype=np.int32)
    if return_sparse:
        best = np.empty(neighbors.shape, dtype=np.float32)
        # row blocks only so that a long affinity pass shows its progress and ETA
        blocks = range(0, len(Y), _FINE_BLOCK)
        show = _verbose if neighbors.size >= _FINE_PROGRESS_PAIRS else False
        for start in progress(blocks, desc="fine affinity (sliding Jaccard)", unit="block",
                              verbose=show):
            rows = slice(start, start + _FINE_BLOCK)
            _kernels_cpu.best_sliding_jaccard(X, Y[rows], neighbors[rows], m, n_offsets,
                                              best[rows])
        return best
    scores = np.empty((len(Y), neighbors.shape[1], n_offsets), dtype=np.float32)
    _kernels_cpu.sliding_jaccard(X, Y, neighbors, m, scores)
    best = np.argmax(scores, axis=-1)
    result = np.empty(scores.shape[:2] + (2,))
    result[..., 0] = np.take_along_axis(scores, best[..., None], axis=-1)[..., 0]
    result[..., 1] = best - n_pad
    return result


def pearson_correlation(X, Y, min_overlap=None, func=np.ceil):
    """Best alignment of Y to X by the cosine of the whole arrays at each offset
    (``affinitymat.pearson_correlation``, which names it a correlation; no mean is taken).

    Parameters
    ----------
    X, Y : arrays, shape (d, m) or (n, d, m)
    min_overlap : float, optional
        Y is zero-padded by ``func(d * (1 - min_overlap))`` positions on each side.

    Returns
    -------
    array, shape (1, n, 2): the best cosine and its offset (the same for every row, as
    modisco-lite computes one cosine over all rows).
    """
    X = X[None] if X.ndim == 2 else X
    Y = Y[None] if Y.ndim == 2 else Y
    n_pad = int(func(X.shape[1] * (1 - min_overlap))) if min_overlap is not None else 0
    Y = np.pad(Y, ((0, 0), (n_pad, n_pad), (0, 0)))
    d = X.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(Y, d, axis=1)  # (n, offsets, m, d)
    dots = np.einsum("ndm,nomd->o", X, windows)
    norms = np.sqrt(np.einsum("nomd,nomd->o", windows, windows)) * np.linalg.norm(X)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.nan_to_num(dots / norms)
    best = int(np.argmax(scores))
    n = len(X)
    return np.array([[np.full(n, scores[best]), np.full(n, best - n_pad)]]).transpose(0, 2, 1)


def roc_auc_score(y_true, y_score):
    """Area under the ROC curve (sklearn's ``roc_auc_score`` for two classes, ties counted
    half) as the Mann-Whitney statistic of the ranks, without sklearn's input checks, which
    cost more than the sums on the few hundred scores of a pattern pair."""
    positive = np.asarray(y_true, dtype=bool)
    ranks = scipy.stats.rankdata(np.asarray(y_score, dtype=np.float64))
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pairwise_jaccard(X, k):
    """The k most similar rows of X to each row, by continuous Jaccard
    (``affinitymat.pairwise_jaccard``). X: shape (n, w). Returns (similarities float64
    (n, k), neighbours int32 (n, k)), most similar first, ties by row.

    Rows go in blocks of about ``_PAIRWISE_BLOCK_BYTES`` of similarities: the whole (n, n)
    matrix and its argsort were 2.3 GB for a pattern of 10,000 seqlets.
    """
    X = np.ascontiguousarray(X)
    n = len(X)
    k = min(k, n)
    similarities = np.empty((n, k))
    neighbors = np.empty((n, k), dtype=np.int32)
    block = max(1, _PAIRWISE_BLOCK_BYTES // (16 * max(n, 1)))
    scores = np.empty((min(block, n), n))
    for start in range(0, n, block):
        rows = scores[:min(block, n - start)]
        _kernels_cpu.rows_jaccard(X, start, rows)
        order = np.argsort(-rows, axis=1, kind="mergesort")[:, :k]
        similarities[start:start + len(rows)] = np.take_along_axis(rows, order, axis=1)
        neighbors[start:start + len(rows)] = order
    return similarities, neighbors


def cosine_similarity_from_seqlets(seqlets, n_neighbors, sign, topn=20, min_k=4, max_k=6,
                                   max_gap=15, max_len=15, max_entries=500, alphabet_size=4):
    """Coarse similarity: each seqlet's nearest neighbours by the cosine of gapped k-mer
    embeddings, the better of forward-forward and forward-reverse
    (``affinitymat.cosine_similarity_from_seqlets``, same arguments).

    Returns (similarities float64 (n, k), neighbours int32 (n, k)) with
    k = min(n_neighbors + 1, n), most similar first (the seqlet itself among them).
    """
    embed = [gapped_kmer._seqlet_to_gkmers(seqlets, topn, min_k, max_k, max_gap, max_len,
                                           max_entries, strand, sign)
             for strand in (True, False)]
    forward, reverse = _l2_rows(_shared_columns(embed))
    del embed
    n = forward.shape[0]
    k = min(n_neighbors + 1, n)
    similarities = np.empty((n, k))
    neighbors = np.empty((n, k), dtype=np.int32)
    # transposed once as CSR: a CSC operand is converted to CSR inside every product
    forward_t, reverse_t = forward.T.tocsr(), reverse.T.tocsr()
    del reverse
    block = max(1, min(_COARSE_BLOCK, _COARSE_BLOCK_BYTES // (8 * n)))
    for start in progress(range(0, n, block), desc="coarse affinity (gapped k-mers)",
                          unit="block", verbose=_verbose if n > block else False):
        rows = forward[start:start + block]
        dot = (rows @ forward_t).toarray()
        np.maximum(dot, (rows @ reverse_t).toarray(), out=dot)
        order = np.argsort(-dot, axis=1, kind="mergesort")[:, :k]
        similarities[start:start + rows.shape[0]] = np.take_along_axis(dot, order, axis=1)
        neighbors[start:start + rows.shape[0]] = order
    return similarities, neighbors


def _shared_columns(matrices):
    """The CSR matrices with their columns renumbered to those any of them uses: a gapped
    k-mer index space has 5**max_len columns, far too many to transpose or multiply.
    The used columns are found matrix by matrix, so no sort spans all their entries."""
    used = np.unique(np.concatenate([np.unique(m.indices) for m in matrices]))
    index_type = np.int32 if len(used) < 2**31 else np.int64
    return [scipy.sparse.csr_matrix((m.data, np.searchsorted(used, m.indices).astype(index_type),
                                     m.indptr), shape=(m.shape[0], len(used)))
            for m in matrices]


def _l2_rows(matrices):
    """Rows of each CSR matrix scaled to unit L2 norm (all-zero rows stay zero)."""
    scaled = []
    for matrix in matrices:
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        scaled.append(scipy.sparse.csr_matrix(scipy.sparse.diags(1.0 / norms) @ matrix))
    return scaled


def filter_by_correlation(seqlets, seqlet_neighbors, coarse_affmat_nn, fine_affmat_nn,
                          correlation_threshold):
    """The seqlets whose fine and coarse similarities to their neighbours agree
    (``tfmodisco._filter_by_correlation``: Spearman correlation of each row above the
    threshold), with the neighbour lists restricted to them and renumbered.

    Parameters
    ----------
    seqlets : list, length n
    seqlet_neighbors : int array, shape (n, k)
    coarse_affmat_nn, fine_affmat_nn : float arrays, shape (n, k)
    correlation_threshold : float

    Returns
    -------
    (kept seqlets, neighbours: list of int64 arrays, fine similarities: list of arrays), one
    array per kept seqlet, where modisco-lite builds Python lists of numpy scalars (about
    40 bytes a neighbour: 800 MB for 20,000 seqlets' 10 million).
    """
    fine = np.asarray(fine_affmat_nn)
    coarse = np.asarray(coarse_affmat_nn)
    neighbors = np.asarray(seqlet_neighbors)
    correlations = np.empty(len(fine))
    for row, (fine_row, coarse_row) in enumerate(zip(fine, coarse)):
        compared = np.abs(fine_row) > 0
        correlations[row] = scipy.stats.spearmanr(fine_row[compared],
                                                  coarse_row[compared]).correlation
    keep = correlations > correlation_threshold
    new_index = np.cumsum(keep) - 1
    kept_neighbors, kept_affinities = [], []
    for row in np.flatnonzero(keep):
        kept = keep[neighbors[row]]
        kept_neighbors.append(new_index[neighbors[row][kept]])
        kept_affinities.append(fine[row][kept])
    return ([seqlet for seqlet, k in zip(seqlets, keep) if k], kept_neighbors,
            kept_affinities)


def density_adaptation(affmat_nn, seqlet_neighbors, tsne_perplexity):
    """Density-adapted affinities (``tfmodisco._density_adaptation``, the same arithmetic).

    Parameters
    ----------
    affmat_nn : sequence of 1-d float arrays
        Each seqlet's fine similarities to its neighbours.
    seqlet_neighbors : sequence of 1-d int arrays
        The neighbours, in the same order.
    tsne_perplexity : float

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, n)
        ``sqrt(rbf_i * rbf_j)`` between neighbours, ``1 / normfactor_i`` on the diagonal.
    """
    eps = 0.0000001
    n = len(affmat_nn)
    index_type = np.int32 if n < 2**31 else np.int64
    lengths = [len(row) for row in seqlet_neighbors]
    rows = np.repeat(np.arange(n, dtype=index_type), lengths)
    cols = np.concatenate([np.asarray(r, dtype=index_type) for r in seqlet_neighbors])
    data = np.concatenate([np.asarray(r, dtype=np.float64) for r in affmat_nn])
    distances = scipy.sparse.csr_matrix((data, (rows, cols)), shape=(n, n), dtype="float64")
    del rows, cols, data
    distances.data = np.maximum(np.log((1.0 / (0.5 * np.maximum(distances.data, eps))) - 1), 0)
    distances.eliminate_zeros()
    # the counts are 1 or 2, exact in float32: half the bytes of modisco-lite's float64
    counts = scipy.sparse.csr_matrix((np.ones(distances.nnz, dtype=np.float32),
                                      distances.indices, distances.indptr), shape=(n, n))
    counts = counts + counts.T
    distances = distances + distances.T
    distances.data /= counts.data
    del counts
    betas = _kernels_cpu.perplexity_betas(distances.data, distances.indptr, tsne_perplexity)
    affinity, normfactors = _adapted_affinities(distances, betas)
    return affinity + scipy.sparse.diags(1.0 / normfactors)


def _adapted_affinities(distances, betas):
    """``sqrt(rbf_i * rbf_j)`` for each stored (i, j) of the symmetric distances, computed a
    block of rows at a time so that no temporary spans all entries (20 million at 20,000
    seqlets). Returns (the CSR matrix, normfactors float64 (n,))."""
    n = distances.shape[0]
    indptr, indices, d = distances.indptr, distances.indices, distances.data
    normfactors = np.empty(n)
    values = np.empty_like(d)
    blocks = [(r, min(r + _DENSITY_BLOCK_ROWS, n)) for r in range(0, n, _DENSITY_BLOCK_ROWS)]

    def local_rows(r0, r1):
        return np.repeat(np.arange(r1 - r0), np.diff(indptr[r0:r1 + 1]))

    for r0, r1 in blocks:
        a, b, row = indptr[r0], indptr[r1], local_rows(r0, r1)
        # modisco-lite divides by beta here where the search multiplied: kept, it is the method
        values[a:b] = np.exp(-d[a:b] / betas[r0:r1][row])
        # a row lies within one block, so its sum runs in the same order as over all rows
        normfactors[r0:r1] = np.bincount(row, weights=values[a:b], minlength=r1 - r0) + 1
    for r0, r1 in blocks:
        a, b, row = indptr[r0], indptr[r1], local_rows(r0, r1)
        col = indices[a:b]
        rbf_col = np.exp(-d[a:b] / betas[col]) / normfactors[col]
        values[a:b] = np.sqrt(values[a:b] / normfactors[r0:r1][row] * rbf_col)
    return scipy.sparse.csr_matrix((values, indices, indptr), shape=distances.shape), normfactors


def leiden_cluster(affinity_mat, n_seeds=2, n_leiden_iterations=-1):
    """Leiden communities of an affinity matrix (``cluster.LeidenCluster``).

    modisco-lite turns every stored entry (i, j) into an undirected edge, so each pair is
    two parallel edges; here it is one edge with their summed weight, which leaves every
    modularity unchanged and halves the work. Runs leidenalg with seeds 100, 200, ... and
    keeps the membership of the run with the best quality (the first among equals). On a
    large graph the runs go to processes of their own (:mod:`._leiden_worker`, one per
    core, as leidenalg holds the GIL), which read the graph from a temporary file and
    import nothing of this process.

    Parameters
    ----------
    affinity_mat : scipy.sparse matrix, shape (n, n)
    n_seeds : int, default 2
    n_leiden_iterations : int, default -1 (until no improvement)

    Returns
    -------
    int array, shape (n,)
    """
    n, edges, weights = _undirected_edges(affinity_mat)
    n_edges = len(weights)
    seeds = [seed * 100 for seed in range(1, n_seeds + 1)]
    large = n_edges >= _PARALLEL_LEIDEN_EDGES
    bar = progress(total=len(seeds), desc=f"Leiden ({n_edges} edges)", unit="run",
                   verbose=_verbose if large else False)
    with bar:
        if large:
            with tempfile.TemporaryDirectory(prefix="motifscope-leiden-") as tmp:
                graph = os.path.join(tmp, "graph.npz")
                np.savez(graph, n=n, edges=edges, weights=weights)
                del edges, weights  # not held while the runs go
                runs = _leiden_in_processes(graph, seeds, n_leiden_iterations, bar)
        else:
            runs = []
            for seed in seeds:
                runs.append(_leiden_worker.leiden_run(n, edges, weights, seed,
                                                      n_leiden_iterations))
                bar.update(1)
    best = max(range(len(runs)), key=lambda i: (runs[i][0], -i))
    return runs[best][1]


def _undirected_edges(affinity_mat):
    """(n, edges int32 (e, 2), weights float64 (e,)): each unordered pair {i, j} of stored
    entries once, weighted A_ij + A_ji; a self-loop keeps A_ii."""
    matrix = scipy.sparse.csr_matrix(affinity_mat)
    both = scipy.sparse.triu(matrix + matrix.T, format="coo")
    weights = both.data
    weights[both.row == both.col] /= 2
    edges = np.column_stack([both.row.astype(np.int32), both.col.astype(np.int32)])
    return matrix.shape[0], edges, weights


def _leiden_in_processes(graph, seeds, n_iterations, bar):
    """[(quality, membership)] of the seeded runs on the graph saved at ``graph``
    (:mod:`._leiden_worker`'s layout), at most one process per core at once."""
    workers = max(1, min(len(seeds), _cpu_count()))
    outputs = [f"{graph[:-len('.npz')]}.run{seed}.npz" for seed in seeds]
    commands = [[sys.executable, "-P", _leiden_worker.__file__, graph, str(seed),
                 str(n_iterations), out] for seed, out in zip(seeds, outputs)]
    running = []
    try:
        for command in commands:
            if len(running) == workers:
                _finish(running.pop(0), bar)
            running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True))
        while running:
            _finish(running.pop(0), bar)
    finally:
        for process in running:
            process.kill()
            process.wait()
    runs = []
    for out in outputs:
        with np.load(out) as run:
            runs.append((float(run["quality"]), run["membership"]))
    return runs


def _finish(process, bar):
    """Wait for one Leiden process; its error, if any, raised here with its last line."""
    _, stderr = process.communicate()
    if process.returncode:
        last = stderr.strip().splitlines()[-1:] or [f"exit status {process.returncode}"]
        raise RuntimeError(f"a Leiden run failed (seed {process.args[4]}): {last[0]}")
    bar.update(1)


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


_SUBSTITUTES = (
    (affinitymat, "jaccard", jaccard),
    (affinitymat, "pairwise_jaccard", pairwise_jaccard),
    (affinitymat, "pearson_correlation", pearson_correlation),
    (affinitymat, "cosine_similarity_from_seqlets", cosine_similarity_from_seqlets),
    (tfmodisco, "_filter_by_correlation", filter_by_correlation),
    (tfmodisco, "_density_adaptation", density_adaptation),
    (aggregator, "roc_auc_score", roc_auc_score),
    (cluster, "LeidenCluster", leiden_cluster),
    (gapped_kmer, "_extract_gkmers", _cached_gkmers),
)


@contextlib.contextmanager
def substituted_kernels(verbose: bool | None = False):
    """Within the block, modisco-lite's hot functions are this module's; restored after,
    also on error, so a plain modisco-lite call elsewhere in the process is unaffected.

    verbose : bool, optional
        Progress bars with ETA on the long phases (coarse and fine affinities, Leiden runs);
        None: as :func:`motifscope.utils.progress` decides.
    """
    global _verbose
    saved = [(module, name, getattr(module, name)) for module, name, _ in _SUBSTITUTES]
    saved_verbose, _verbose = _verbose, verbose
    try:
        for module, name, function in _SUBSTITUTES:
            setattr(module, name, function)
        yield
    finally:
        for module, name, function in saved:
            setattr(module, name, function)
        _verbose = saved_verbose
