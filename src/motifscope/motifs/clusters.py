"""Clusters of near-identical database motifs, by TOMTOM similarity.

Motif databases are redundant (JASPAR holds many GATA, FOX or bHLH matrices that TOMTOM
cannot tell apart). :func:`cluster_motifs` compares the database with itself and groups
motifs by complete linkage on the TOMTOM p-value: inside a cluster every pair of motifs
matches with p <= ``threshold`` in both directions. Counting seqlet annotations per
cluster then stops near-identical motifs from splitting the count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.motifs._motif_list import as_motif_list
from motifscope.motifs.tomtom import tomtom_pvalues


def cluster_motifs(motifs, threshold: float = 1e-4, distance: str = "ed",
                   min_overlap: int = 5, device: str | torch.device = "auto",
                   verbose: bool | None = None) -> pd.DataFrame:
    """Group motifs whose TOMTOM matches are all significant.

    Parameters
    ----------
    motifs : str, MotifSet, dict or list
        The motif database.
    threshold : float, default 1e-4
        Complete-linkage cut on the symmetric p-value ``max(p(a, b), p(b, a))``: every
        pair inside a cluster is at least this significant.
    distance : {"ed", "pearson"}, default "ed"
    min_overlap : int, default 5
        TOMTOM's minimum overlap, so that motifs sharing only a short core (GATA vs
        GATA-E-box composites) do not merge by a partial match.
    device, verbose
        Passed to :func:`motifscope.motifs.tomtom_pvalues`.

    Returns
    -------
    pandas.DataFrame
        One row per motif (input order): id, alt_id, cluster (``"cluster_<k>"``, numbered
        from 1 by decreasing size, ties by first member), cluster_size, and cluster_name
        (the alt id, or id, of the cluster's medoid: the member with the smallest summed
        log10 p-value to the others; followed by the cluster number when two clusters
        would share a name).
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    motif_list = as_motif_list(motifs, "motifs")
    n = len(motif_list)
    if n == 1:
        labels = np.array([1])
        p_sym = np.zeros((1, 1))
    else:
        p = tomtom_pvalues(motif_list, motif_list, distance=distance, min_overlap=min_overlap,
                           device=device, verbose=verbose).p_values
        p_sym = np.maximum(p, p.T)
        np.fill_diagonal(p_sym, 0.0)
        tree = linkage(squareform(p_sym, checks=False), method="complete")
        labels = fcluster(tree, t=threshold, criterion="distance")
    names = [a or i for a, i in zip(motif_list.alt_ids, motif_list.names)]
    # Renumber clusters by decreasing size, ties by their first member.
    sizes = np.bincount(labels)
    first = {lab: int(np.flatnonzero(labels == lab)[0]) for lab in np.unique(labels)}
    ordered = sorted(first, key=lambda lab: (-sizes[lab], first[lab]))
    number = {lab: k + 1 for k, lab in enumerate(ordered)}
    log_p = np.log10(np.clip(p_sym, 1e-300, 1.0))
    medoid_name = {}
    for lab in ordered:
        members = np.flatnonzero(labels == lab)
        cost = log_p[np.ix_(members, members)].sum(1)  # most similar to the others: lowest
        medoid_name[lab] = names[members[int(np.argmin(cost))]]
    counts = pd.Series(list(medoid_name.values())).value_counts()
    table = pd.DataFrame({
        "id": motif_list.names,
        "alt_id": motif_list.alt_ids,
        "cluster": [f"cluster_{number[lab]}" for lab in labels],
        "cluster_size": sizes[labels],
        "cluster_name": [medoid_name[lab] if counts[medoid_name[lab]] == 1 else
                         f"{medoid_name[lab]} ({number[lab]})" for lab in labels],
    })
    return table
