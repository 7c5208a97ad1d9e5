"""motifscope's TF-MoDISco engine: modisco-lite's procedure with faster kernels.

TF-MoDISco spends its time in seven computations, which modisco-lite 3.0 (the field's
implementation, and the oracle) runs as lazily compiled numba loops or Python loops; this
module computes each of them its own way and returns what modisco-lite's function returns:

===========================  ===============================================================
modisco-lite                 here
===========================  ===============================================================
``cosine_similarity_from_``  gapped k-mer embeddings (modisco-lite's extractor, compiled
``seqlets``                  once and cached), then the two cosine products as blocked
                             sparse matrix products instead of one merge loop per pair
``jaccard``                  :func:`~motifscope.denovo._kernels_cpu.sliding_jaccard`: a
                             vectorised reduction per offset
``_density_adaptation``      array arithmetic on the CSR matrix; the perplexity search in
                             one compiled loop
``LeidenCluster``            leidenalg on the graph with each pair once (modisco-lite adds
                             both (i, j) and (j, i) as parallel edges: the same modularity,
                             half the edges); the same seeds and the same choice of the run
                             with the best quality
``pairwise_jaccard``         :func:`~motifscope.denovo._kernels_cpu.all_pairs_jaccard`
``pearson_correlation``      one array expression over all offsets
``roc_auc_score``            the Mann-Whitney statistic of the ranks (sklearn's checks
                             outweigh the arithmetic on a pattern pair's few scores)
===========================  ===============================================================

The orchestration (rounds, filtering, merging, trimming, subpatterns) is modisco-lite's own
code: :func:`substituted_kernels` swaps the seven functions in for the duration of a call,
and with them modisco-lite's gapped k-mer extractor recompiled with a disk cache.
tests/test_modisco.py checks the patterns against modisco-lite run as is;
bench/RESULTS.md ("modisco") measures both.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import warnings

import numpy as np
import scipy.sparse
import scipy.stats
from modiscolite import aggregator, affinitymat, cluster, gapped_kmer, tfmodisco
from numba import njit

from motifscope.denovo import _kernels_cpu
from motifscope.utils import progress

# Rows of the coarse similarity computed at once: (block, n) float64 twice stays small
_COARSE_BLOCK = 512
# Rows of the fine similarity per kernel call, and the pairs from which it shows progress
_FINE_BLOCK = 256
_FINE_PROGRESS_PAIRS = 200_000
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
    (n, k), neighbours int32 (n, k)), most similar first, ties by row."""
    similarities = np.empty((len(X), len(X)))
    _kernels_cpu.all_pairs_jaccard(np.ascontiguousarray(X), similarities)
    order = np.argsort(-similarities, axis=1, kind="mergesort")[:, :k]
    return (np.take_along_axis(similarities, order, axis=1), order.astype(np.int32))


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
    n = forward.shape[0]
    k = min(n_neighbors + 1, n)
    similarities = np.empty((n, k))
    neighbors = np.empty((n, k), dtype=np.int32)
    forward_t, reverse_t = forward.T.tocsc(), reverse.T.tocsc()
    for start in progress(range(0, n, _COARSE_BLOCK), desc="coarse affinity (gapped k-mers)",
                          unit="block", verbose=_verbose if n > _COARSE_BLOCK else False):
        rows = forward[start:start + _COARSE_BLOCK]
        dot = np.maximum((rows @ forward_t).toarray(), (rows @ reverse_t).toarray())
        order = np.argsort(-dot, axis=1, kind="mergesort")[:, :k]
        similarities[start:start + rows.shape[0]] = np.take_along_axis(dot, order, axis=1)
        neighbors[start:start + rows.shape[0]] = order
    return similarities, neighbors


def _shared_columns(matrices):
    """The CSR matrices with their columns renumbered to those any of them uses: a gapped
    k-mer index space has 5**max_len columns, far too many to transpose or multiply."""
    used, inverse = np.unique(np.concatenate([m.indices for m in matrices]),
                              return_inverse=True)
    ends = np.cumsum([m.nnz for m in matrices])
    return [scipy.sparse.csr_matrix((m.data, inverse[end - m.nnz:end], m.indptr),
                                    shape=(m.shape[0], len(used)))
            for m, end in zip(matrices, ends)]


def _l2_rows(matrices):
    """Rows of each CSR matrix scaled to unit L2 norm (all-zero rows stay zero)."""
    scaled = []
    for matrix in matrices:
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        scaled.append(scipy.sparse.csr_matrix(scipy.sparse.diags(1.0 / norms) @ matrix))
    return scaled


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
    lengths = [len(row) for row in seqlet_neighbors]
    rows = np.repeat(np.arange(n), lengths)
    cols = np.concatenate([np.asarray(r, dtype=np.int64) for r in seqlet_neighbors])
    data = np.concatenate([np.asarray(r, dtype=np.float64) for r in affmat_nn])
    distances = scipy.sparse.csr_matrix((data, (rows, cols)), shape=(n, n), dtype="float64")
    distances.data = np.maximum(np.log((1.0 / (0.5 * np.maximum(distances.data, eps))) - 1), 0)
    distances.eliminate_zeros()
    counts = scipy.sparse.csr_matrix((np.ones_like(distances.data), distances.indices,
                                      distances.indptr), shape=distances.shape, dtype="float64")
    distances = distances + distances.T
    counts = counts + counts.T
    distances.data /= counts.data
    betas = _kernels_cpu.perplexity_betas(distances.data, distances.indptr, tsne_perplexity)
    row_of = np.repeat(np.arange(n), np.diff(distances.indptr))
    # modisco-lite divides by beta here where the search multiplied: kept, it is the method
    kernel_row = np.exp(-distances.data / betas[row_of])
    normfactors = np.bincount(row_of, weights=kernel_row, minlength=n) + 1
    rbf_row = kernel_row / normfactors[row_of]
    col_of = distances.indices
    rbf_col = np.exp(-distances.data / betas[col_of]) / normfactors[col_of]
    affinity = distances.copy()
    affinity.data = np.sqrt(rbf_row * rbf_col)
    return affinity + scipy.sparse.diags(1.0 / normfactors)


def leiden_cluster(affinity_mat, n_seeds=2, n_leiden_iterations=-1):
    """Leiden communities of an affinity matrix (``cluster.LeidenCluster``).

    modisco-lite turns every stored entry (i, j) into an undirected edge, so each pair is
    two parallel edges; here it is one edge with their summed weight, which leaves every
    modularity unchanged and halves the work. Runs leidenalg with seeds 100, 200, ... and
    keeps the membership of the run with the best quality (the first among equals); on a
    large graph the runs go to forked processes, one per core, as leidenalg holds the GIL.

    Parameters
    ----------
    affinity_mat : scipy.sparse matrix, shape (n, n)
    n_seeds : int, default 2
    n_leiden_iterations : int, default -1 (until no improvement)

    Returns
    -------
    int array, shape (n,)
    """
    matrix = scipy.sparse.csr_matrix(affinity_mat)
    both = (matrix + matrix.T).tocoo()
    upper = both.row <= both.col
    row, col, weight = both.row[upper], both.col[upper], both.data[upper]
    graph = (matrix.shape[0], np.column_stack([row, col]),
             np.where(row == col, weight / 2, weight))
    seeds = [seed * 100 for seed in range(1, n_seeds + 1)]
    workers = min(len(seeds), _cpu_count())
    bar = progress(total=len(seeds), desc=f"Leiden ({len(row)} edges)", unit="run",
                   verbose=_verbose if len(row) >= _PARALLEL_LEIDEN_EDGES else False)
    with bar:
        if workers > 1 and len(row) >= _PARALLEL_LEIDEN_EDGES and _can_fork():
            # fork: the children only run leidenalg on the arrays they inherit, so the
            # numba threads of the parent (Python >= 3.12 warns about them) do not matter
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    jobs = [pool.apply_async(_leiden_run, (graph, seed, n_leiden_iterations),
                                             callback=lambda _: bar.update(1))
                            for seed in seeds]
                    runs = [job.get() for job in jobs]
        else:
            runs = []
            for seed in seeds:
                runs.append(_leiden_run(graph, seed, n_leiden_iterations))
                bar.update(1)
    best = max(range(len(runs)), key=lambda i: (runs[i][0], -i))
    return runs[best][1]


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _leiden_run(graph, seed, n_iterations):
    """(quality, membership) of one leidenalg run on graph = (n, edges (e, 2), weights)."""
    import igraph
    import leidenalg

    n, edges, weights = graph
    # add_edges takes the array as it is; Graph(edges=...) makes a tuple per edge first
    # (about 170 bytes an edge: 1.7 GB for the 10 million edges of 20,000 seqlets)
    network = igraph.Graph(n=n)
    network.add_edges(edges)
    partition = leidenalg.find_partition(
        graph=network, partition_type=leidenalg.ModularityVertexPartition,
        weights=weights, n_iterations=n_iterations, initial_membership=None, seed=seed)
    return partition.quality(), np.array(partition.membership)


_SUBSTITUTES = (
    (affinitymat, "jaccard", jaccard),
    (affinitymat, "pairwise_jaccard", pairwise_jaccard),
    (affinitymat, "pearson_correlation", pearson_correlation),
    (affinitymat, "cosine_similarity_from_seqlets", cosine_similarity_from_seqlets),
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
