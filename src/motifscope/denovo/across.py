"""Patterns across targets (which targets share a motif and which have their own), and
across runs (:func:`matched_patterns`: one run's patterns paired with a reference run's).

Two patterns are the same motif when their trimmed, L2-normalised CWMs have a cosine
similarity of at least ``min_similarity`` at their best alignment (either strand, any
offset overlapping at least ``min_overlap`` of the shorter pattern). Patterns are grouped by
average linkage on that similarity, so a cluster gathers one motif across targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from motifscope.denovo.patterns import trimmed
from motifscope.io.modisco import Pattern

SHARED_COLUMNS = ["cluster", "target", "pattern", "metacluster", "n_seqlets", "share",
                  "label", "similarity_to_lead"]


def aligned_cosine(a: np.ndarray, b: np.ndarray, min_overlap: float = 0.7) -> float:
    """Best cosine similarity of two (4, w) matrices over offsets and strands (columns
    outside the overlap count as zeros, so a partial match scores lower)."""
    a = a / max(np.linalg.norm(a), 1e-12)
    best = -1.0
    for other in (b, b[::-1, ::-1]):
        o = other / max(np.linalg.norm(other), 1e-12)
        wa, wb = a.shape[1], o.shape[1]
        need = max(1, int(np.ceil(min_overlap * min(wa, wb))))
        for shift in range(-(wb - need), wa - need + 1):
            lo, hi = max(0, shift), min(wa, shift + wb)
            if hi - lo < need:
                continue
            best = max(best, float((a[:, lo:hi] * o[:, lo - shift:hi - shift]).sum()))
    return best


def matched_patterns(ours: list[Pattern], theirs: list[Pattern], min_seqlets: int = 0,
                     min_cosine: float = 0.9, count_tolerance: float = 0.1
                     ) -> tuple[list[tuple[Pattern, Pattern]], list[Pattern]]:
    """Pair each of ``theirs`` (a reference run, e.g. modisco-lite's) one-to-one with the
    pattern of ``ours`` of the same metacluster whose CWM is most similar
    (:func:`aligned_cosine`); a pair counts when the cosine is at least ``min_cosine`` and
    the seqlet counts differ by at most ``count_tolerance`` of theirs.

    Returns ((theirs, ours) pairs, their patterns left unmatched); patterns of theirs with
    fewer than ``min_seqlets`` seqlets are not compared.
    """
    available = list(ours)
    pairs, unmatched = [], []
    for pattern in theirs:
        if pattern.n_seqlets < min_seqlets:
            continue
        scored = [(aligned_cosine(p.cwm, pattern.cwm), p) for p in available
                  if p.group == pattern.group]
        cosine, best = max(scored, key=lambda pair: pair[0], default=(-1.0, None))
        close_count = (best is not None and abs(best.n_seqlets - pattern.n_seqlets)
                       <= count_tolerance * pattern.n_seqlets)
        if close_count and cosine >= min_cosine:
            pairs.append((pattern, best))
            available.remove(best)
        else:
            unmatched.append(pattern)
    return pairs, unmatched


def shared_patterns(patterns: dict[str, list[Pattern]], labels: dict | None = None,
                    min_similarity: float = 0.8, trim_threshold: float = 0.3
                    ) -> pd.DataFrame:
    """Cluster the patterns of every target into motifs shared across targets.

    Parameters
    ----------
    patterns : dict target -> list of Pattern
    labels : dict (target, pattern) -> str, optional
        A name per pattern (its TOMTOM match); a cluster's label is its lead's.
    min_similarity : float, default 0.8
    trim_threshold : float, default 0.3

    Returns
    -------
    pandas.DataFrame
        One row per pattern: cluster (``motif_<k>``, numbered by total seqlets, largest
        first), target, pattern, metacluster, n_seqlets, share (of the target's seqlets in
        patterns of that metacluster), label (of the cluster's largest pattern), and
        similarity_to_lead.
    """
    labels = labels or {}
    items = [(t, p) for t, ps in patterns.items() for p in ps]
    if not items:
        return pd.DataFrame(columns=SHARED_COLUMNS)
    cwms = [trimmed(p, trim_threshold)[1] for _, p in items]
    signs = np.array([p.sign for _, p in items])
    n = len(items)
    similarity = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            # a positive and a negative pattern are never the same motif
            s = aligned_cosine(cwms[i], cwms[j]) if signs[i] == signs[j] else -1.0
            similarity[i, j] = similarity[j, i] = s
    if n > 1:
        tree = linkage(squareform(1 - similarity, checks=False), method="average")
        groups = fcluster(tree, t=1 - min_similarity, criterion="distance")
    else:
        groups = np.array([1])
    totals = {}
    for (t, p) in items:
        totals[(t, p.group)] = totals.get((t, p.group), 0) + p.n_seqlets
    table = pd.DataFrame({
        "group": groups, "target": [t for t, _ in items], "pattern": [p.name for _, p in items],
        "metacluster": [p.group.split("_")[0] for _, p in items],
        "n_seqlets": [p.n_seqlets for _, p in items],
        "share": [p.n_seqlets / max(totals[(t, p.group)], 1) for t, p in items]})
    size = table.groupby("group")["n_seqlets"].sum().sort_values(ascending=False,
                                                                  kind="mergesort")
    name = {g: f"motif_{k}" for k, g in enumerate(size.index, start=1)}
    lead, label, to_lead = {}, [], []
    for g, rows in table.groupby("group", sort=False):
        lead[g] = rows["n_seqlets"].idxmax()
    for i, row in table.iterrows():
        k = lead[row["group"]]
        label.append(labels.get((table.at[k, "target"], table.at[k, "pattern"]), "")
                     or table.at[k, "pattern"])
        to_lead.append(similarity[i, k])
    table["cluster"] = table["group"].map(name)
    table["label"] = label
    table["similarity_to_lead"] = to_lead
    order = table["cluster"].str.removeprefix("motif_").astype(int)
    return table.assign(_o=order).sort_values(["_o", "target", "pattern"], kind="mergesort"
                                              )[SHARED_COLUMNS].reset_index(drop=True)


def shared_matrix(table: pd.DataFrame, targets: list) -> pd.DataFrame:
    """Clusters x targets: each target's share of seqlets in the cluster (0 when absent),
    the heat map of the report; rows labelled ``<cluster> <label> (<metacluster>)``."""
    if table.empty:
        return pd.DataFrame(columns=list(targets))
    table = table.assign(row=table["cluster"] + " " + table["label"] + " ("
                         + table["metacluster"] + ")")
    matrix = table.pivot_table(index="row", columns="target", values="share", aggfunc="sum",
                               fill_value=0.0, sort=False)
    return matrix.reindex(columns=list(targets), fill_value=0.0)
