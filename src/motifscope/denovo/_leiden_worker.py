"""One seeded Leiden run on a graph saved to disk, in a process of its own.

    python -P _leiden_worker.py GRAPH.npz SEED N_ITERATIONS OUT.npz

:func:`motifscope.denovo.engine.leiden_cluster` starts one such process per seeded run of a
large graph. It runs as a file, not as a module of the package, so that it imports numpy,
igraph and leidenalg only: a forked copy of the rule's process would carry torch, numba,
the tracks and the seqlets in its resident set (about 1.5 GB at 20,000 seqlets) for a
computation that needs none of them.

GRAPH.npz holds ``n`` (vertices), ``edges`` (int32, shape (e, 2)) and ``weights``
(float64, shape (e,)); OUT.npz receives ``quality`` and ``membership`` (int64, shape (n,)).
"""

from __future__ import annotations

import sys

import numpy as np


def leiden_run(n: int, edges: np.ndarray, weights: np.ndarray, seed: int,
               n_iterations: int) -> tuple[float, np.ndarray]:
    """(quality, membership) of leidenalg's modularity partition with this seed."""
    import igraph
    import leidenalg

    network = igraph.Graph(n=n)
    # add_edges takes the array as it is; Graph(edges=...) makes a tuple per edge first
    # (about 170 bytes an edge: 1.7 GB for the 10 million edges of 20,000 seqlets)
    network.add_edges(edges)
    # leidenalg copies the weights into a list either way; Python floats are the smallest
    partition = leidenalg.find_partition(
        graph=network, partition_type=leidenalg.ModularityVertexPartition,
        weights=weights.tolist(), n_iterations=n_iterations, initial_membership=None,
        seed=seed)
    return partition.quality(), np.array(partition.membership)


def main(graph_path: str, seed: str, n_iterations: str, out_path: str) -> None:
    with np.load(graph_path) as graph:
        n, edges, weights = int(graph["n"]), graph["edges"], graph["weights"]
    quality, membership = leiden_run(n, edges, weights, int(seed), int(n_iterations))
    del edges, weights
    np.savez(out_path, quality=quality, membership=membership)


if __name__ == "__main__":
    main(*sys.argv[1:])
