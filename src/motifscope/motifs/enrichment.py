"""Null models for motif evidence: attribution enrichment of FIMO hits, and seqlet
annotation counts against shuffled seqlets.

FIMO hits carry attribution (the sum of projected attributions over the hit's span), but a
raw count of hits with attribution above a fixed number (``0.0``) ranks motifs by how often
they occur, not by how much the model uses them: in a peak whose attribution is mostly
positive, any motif that happens to occur there has "positive" hits. The question is
whether a motif's hits carry *more* attribution than comparable sequence the model saw in
the same windows.

**The FIMO null** (:func:`hit_null_pvalues`, :func:`attribution_enrichment`). Each hit of
width ``w`` in locus ``j`` is compared with every other span of width ``w`` of the same
locus that does not overlap it (``L - w + 1`` spans, less the ``2w - 1`` that overlap).
Its empirical p-value ``u`` is the mid-rank fraction of those spans whose attribution is at
least the hit's: ``u = (#{greater} + #{equal} / 2) / n``. Under the null hypothesis that the
model treats the motif's hits like any other ``w``-mer of the locus (the hit's position is
exchangeable with the others), ``u`` has mean exactly 1/2 and variance at most
``(n + 2) / (12 n)`` (a discrete uniform), whatever the locus's overall attribution is. The
null is therefore *matched* on what confounds a raw count: the target, the locus (its peak
strength and the sign of its attribution), the span width and the position-independent
sequence composition of the window; it is exact (every span is used, nothing is sampled,
no model call) and costs one pass over the attribution file. A null of dinucleotide-shuffled
windows, attributed again by the model, asks a different question (does the motif carry
attribution in sequence the model never saw?) at the price of one more attribution run per
target; the within-locus null answers the one a reader asks (does the model use *these*
instances more than the rest of the window?) and is what we use.

Per motif, the hits of one locus are averaged (a palindrome's two strands, overlapping
hits), so each locus with hits gives one value ``v_j`` with mean 1/2 and variance at most
``(n_j + 2) / (12 n_j)`` under the null, independently across loci. The enrichment
statistic is ``z = sum_j (1/2 - v_j) / sqrt(sum_j var_j)`` and its one-sided p-value
``P(Z >= z)`` (normal approximation; the variance bound makes it conservative when hits of a
locus are correlated). Benjamini-Hochberg q-values are taken over the motifs with hits.

**Explaining away.** A motif that resembles a learned one (a CTCF half site, an E-box inside
a GATA::TAL composite) has hits on the learned motif's sites, and those hits carry its
attribution. Motifs are visited by decreasing ``z``; each one is re-tested on its hits that
do not overlap an above-null hit (``u <= alpha``) of a motif accepted before it
(``p_conditional <= alpha / n_motifs``, Bonferroni, so only clear winners explain others
away): ``n_independent``, ``z_conditional``, ``p_conditional``, ``q_conditional`` (BH),
``explained_by`` (the accepted motif whose hits removed most of this one's). A motif the
model learned keeps its evidence; one that only rides on another's sites loses it.

**The attribution threshold.** With ``fimo.attribution_threshold: null`` (the default) a hit
is *above* when ``u <= alpha`` (its attribution exceeds the ``1 - alpha`` quantile of the
same-width spans of its locus), so ``n_above`` is expected to be ``alpha * n_hits`` for a
motif the model ignores; a number keeps the old fixed threshold.

**The seqlet-annotation null** (:func:`annotation_null`, :func:`annotation_enrichment`).
Every seqlet's sequence is dinucleotide-shuffled ``n_shuffles`` times and the shuffles are
annotated by the same TOMTOM settings and q-value cut, giving the count each motif group
would get from sequence of the same length and dinucleotide composition: ``expected`` =
null count / ``n_shuffles``. With ``k1`` observed and ``k0`` null seqlets of a group and
``n1``, ``n0`` seqlets annotated in each arm, the exact conditional test of two Poisson rates
gives ``p = P(X >= k1)``, ``X ~ Binomial(k1 + k0, n1 / (n1 + n0))``; BH q-values over the
groups. Seqlets shorter than 3 bp or without a dinucleotide shuffle other than themselves
(homopolymers) are left out of the null arm (``n0`` counts only the shuffled ones).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.motifs._motif_list import bh_qvalues

ENRICHMENT_COLUMNS = ["attribution_threshold", "null_mean_attribution", "enrichment",
                      "mean_null_p", "z", "p-value", "q-value", "n_independent",
                      "z_conditional", "p_conditional", "q_conditional", "explained_by"]
ANNOTATION_NULL_COLUMNS = ["n_null", "expected", "enrichment", "p-value", "q-value"]
_HIT_CHUNK = 20_000  # hits compared with their locus's spans at a time


def _normal_sf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(-np.asarray(z, dtype=np.float64))


def _bh(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    return bh_qvalues(torch.from_numpy(p.copy())).numpy()


def hit_null_pvalues(hits: pd.DataFrame, track, first_example: int = 0) -> pd.DataFrame:
    """Each hit's attribution against the same-width spans of its own locus.

    Parameters
    ----------
    hits : pandas.DataFrame
        FIMO hits (:func:`motifscope.motifs.fimo`) whose ``sequence_name`` is an integer
        locus index in ``[first_example, first_example + N)``; columns start, end (0-based,
        half-open, within the window).
    track : array of shape (N, L)
        Projected attribution per position of those loci (hypothetical attributions times
        the one-hot sequence, summed over the four bases).
    first_example : int, default 0
        Locus index of the first row of ``track``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``hits``: ``attribution`` (the span sum, float64), ``null_mean`` (mean
        attribution of the non-overlapping same-width spans of the locus), ``null_p`` (the
        mid-rank fraction of those spans whose attribution is at least the hit's; NaN when
        the locus has no such span), ``null_n`` (how many spans).
    """
    track = np.asarray(track, dtype=np.float64)
    if track.ndim != 2:
        raise InputError(f"track has shape {track.shape}; pass the (N, L) projected "
                         "attribution of the loci")
    n_loci, length = track.shape
    seq = hits["sequence_name"].to_numpy().astype(np.int64) - first_example
    start = hits["start"].to_numpy().astype(np.int64)
    width = hits["end"].to_numpy().astype(np.int64) - start
    if len(seq) and (seq.min() < 0 or seq.max() >= n_loci or start.min() < 0
                     or (start + width).max() > length):
        raise InputError("FIMO hits lie outside the given attribution block; the hits and "
                         "the attributions must come from the same loci and window")
    prefix = np.concatenate([np.zeros((n_loci, 1)), np.cumsum(track, 1)], 1)
    attribution = np.empty(len(seq))
    null_mean = np.full(len(seq), np.nan)
    null_p = np.full(len(seq), np.nan)
    null_n = np.zeros(len(seq), dtype=np.int64)
    for w in np.unique(width):
        rows = np.flatnonzero(width == w)
        spans = prefix[:, w:] - prefix[:, :-w]  # (n_loci, L - w + 1)
        n_spans = spans.shape[1]
        totals = spans.sum(1)
        positions = np.arange(n_spans)
        for lo in range(0, len(rows), _HIT_CHUNK):
            r = rows[lo:lo + _HIT_CHUNK]
            s, j = start[r], seq[r]
            mine = spans[j]  # (chunk, n_spans)
            value = mine[np.arange(len(r)), s]
            attribution[r] = value
            overlap = np.abs(positions[None, :] - s[:, None]) < w
            free = ~overlap
            n_free = free.sum(1)
            greater = ((mine > value[:, None]) & free).sum(1)
            equal = ((mine == value[:, None]) & free).sum(1)
            overlap_sum = np.where(overlap, mine, 0.0).sum(1)
            ok = n_free > 0
            null_n[r] = n_free
            null_mean[r[ok]] = (totals[j[ok]] - overlap_sum[ok]) / n_free[ok]
            null_p[r[ok]] = (greater[ok] + 0.5 * equal[ok]) / n_free[ok]
        del spans
    return pd.DataFrame({"attribution": attribution, "null_mean": null_mean,
                         "null_p": null_p, "null_n": null_n}, index=hits.index)


def _locus_statistics(hits: pd.DataFrame) -> pd.DataFrame:
    """Per (motif, locus): mean null p-value, its variance bound, and the hit count."""
    table = hits.loc[hits["null_p"].notna(), ["motif_id", "sequence_name", "null_p",
                                               "null_n"]]
    grouped = table.groupby(["motif_id", "sequence_name"], sort=False)
    per_locus = grouped.agg(v=("null_p", "mean"), n=("null_n", "min")).reset_index()
    per_locus["var"] = (per_locus["n"] + 2) / (12.0 * per_locus["n"])
    return per_locus


def _z_scores(per_locus: pd.DataFrame) -> pd.DataFrame:
    grouped = per_locus.assign(d=0.5 - per_locus["v"]).groupby("motif_id", sort=True)
    out = pd.DataFrame({"sum": grouped["d"].sum(), "var": grouped["var"].sum(),
                        "loci": grouped.size()})
    out["z"] = out["sum"] / np.sqrt(out["var"])
    out["p"] = _normal_sf(out["z"].to_numpy())
    return out


def attribution_enrichment(hits: pd.DataFrame, alpha: float = 0.05,
                           attribution_threshold: float | None = None) -> pd.DataFrame:
    """Per motif: how much more attribution its hits carry than the matched null.

    Parameters
    ----------
    hits : pandas.DataFrame
        FIMO hits with the columns of :func:`hit_null_pvalues` (attribution, null_mean,
        null_p, null_n) and motif_id, sequence_name, start, end (0-based, half-open).
    alpha : float, default 0.05
        A hit is above the null when ``null_p <= alpha``; motifs with ``p_conditional <=
        alpha / n_motifs`` explain away the overlapping hits of weaker motifs.
    attribution_threshold : float, optional
        Reported in the ``attribution_threshold`` column (default: ``"null"``, meaning the
        per-hit rule ``null_p <= alpha``).

    Returns
    -------
    pandas.DataFrame
        One row per motif with hits: motif_id, attribution_threshold,
        null_mean_attribution (mean of the hits' null means), enrichment (mean of
        attribution minus null mean), mean_null_p (1/2 under the null), z, p-value, q-value,
        n_independent (hits left after explaining away), z_conditional, p_conditional,
        q_conditional, explained_by (a motif id, or empty). Sorted by motif_id.
    """
    if not 0 < alpha < 1:
        raise InputError(f"fimo.null_alpha {alpha} must be in (0, 1)")
    needed = {"motif_id", "sequence_name", "start", "end", "attribution", "null_mean",
              "null_p", "null_n"}
    if not needed <= set(hits.columns):
        raise InputError(f"hits lack column(s) {sorted(needed - set(hits.columns))}; add them "
                         "with hit_null_pvalues")
    label = "null" if attribution_threshold is None else attribution_threshold
    columns = ["motif_id"] + ENRICHMENT_COLUMNS
    if len(hits) == 0:
        return pd.DataFrame(columns=columns)
    hits = hits.assign(motif_id=hits["motif_id"].astype(str),
                       sequence_name=hits["sequence_name"].astype(np.int64))
    grouped = hits.groupby("motif_id", sort=True)
    out = pd.DataFrame({
        "null_mean_attribution": grouped["null_mean"].mean(),
        "enrichment": (hits["attribution"] - hits["null_mean"]).groupby(hits["motif_id"]).mean(),
        "mean_null_p": grouped["null_p"].mean(),
    })
    marginal = _z_scores(_locus_statistics(hits))
    out["z"] = marginal["z"]
    out["p-value"] = marginal["p"]
    out["p-value"] = out["p-value"].fillna(1.0)
    out["q-value"] = _bh(out["p-value"].to_numpy())

    # explaining away: accepted motifs' above-null hits mask others
    length = int(hits["end"].max())
    n_motifs = len(out)
    covered: dict[int, np.ndarray] = {}  # locus -> covered positions (0/1)
    claimed_by: dict[int, np.ndarray] = {}  # locus -> index of the accepting motif
    # Significant motifs first, by attribution excess: a short motif lying inside a longer
    # learned site has the higher z (narrower spans, more of them) but carries less of the
    # site's attribution, so the site's own motif must claim it first.
    significant = out["q-value"] <= alpha
    order = out.assign(_sig=~significant,
                       _key=np.where(significant, -out["enrichment"], -out["z"])).sort_values(
        ["_sig", "_key"], kind="mergesort").index.tolist()
    index_of = {m: k for k, m in enumerate(order)}
    by_motif = {m: g for m, g in hits.groupby("motif_id", sort=False)}
    cond = {}
    for motif in order:
        mine = by_motif[motif]
        loci = mine["sequence_name"].to_numpy()
        start = mine["start"].to_numpy().astype(np.int64)
        end = mine["end"].to_numpy().astype(np.int64)
        explained = np.zeros(len(mine), dtype=bool)
        blame = np.full(len(mine), -1)
        for locus in np.intersect1d(np.unique(loci), np.fromiter(covered, dtype=np.int64)):
            rows = np.flatnonzero(loci == locus)
            prefix = np.concatenate([[0], np.cumsum(covered[locus])])
            hit = prefix[end[rows]] - prefix[start[rows]] > 0
            explained[rows] = hit
            claim = claimed_by[locus]
            for r in rows[hit]:
                owners = claim[start[r]:end[r]]
                owners = owners[owners >= 0]
                blame[r] = np.bincount(owners).argmax() if owners.size else -1
        kept = mine[~explained]
        stats = _z_scores(_locus_statistics(kept)) if len(kept) else None
        z = float(stats["z"].iloc[0]) if stats is not None and len(stats) else np.nan
        p = float(stats["p"].iloc[0]) if stats is not None and len(stats) else 1.0
        blamed = blame[blame >= 0]
        by = order[np.bincount(blamed).argmax()] if blamed.size else ""
        cond[motif] = (int(len(kept)), z, p, by)
        if p <= alpha / n_motifs:
            above = (mine["null_p"] <= alpha).to_numpy()
            k = index_of[motif]
            for locus, s, e in zip(loci[above], start[above], end[above]):
                if locus not in covered:
                    covered[locus] = np.zeros(length, dtype=np.int8)
                    claimed_by[locus] = np.full(length, -1, dtype=np.int64)
                free = claimed_by[locus][s:e] < 0
                claimed_by[locus][s:e][free] = k
                covered[locus][s:e] = 1
    out["n_independent"] = [cond[m][0] for m in out.index]
    out["z_conditional"] = [cond[m][1] for m in out.index]
    out["p_conditional"] = [cond[m][2] for m in out.index]
    out["q_conditional"] = _bh(out["p_conditional"].to_numpy())
    out["explained_by"] = [cond[m][3] for m in out.index]
    out.insert(0, "attribution_threshold", label)
    out.index.name = "motif_id"
    return out.reset_index()[columns]


def add_enrichment(counts: pd.DataFrame, enrichment: pd.DataFrame) -> pd.DataFrame:
    """``fimo_counts`` with the enrichment columns, ranked by the null: conditional
    q-value, then z (descending), then motif_id. Motifs without hits get p = q = 1."""
    out = counts.merge(enrichment, on="motif_id", how="left")
    for column in ("p-value", "q-value", "p_conditional", "q_conditional"):
        out[column] = out[column].fillna(1.0)
    out["n_independent"] = out["n_independent"].fillna(0).astype(np.int64)
    out["explained_by"] = out["explained_by"].fillna("")
    if len(enrichment):
        out["attribution_threshold"] = out["attribution_threshold"].fillna(
            enrichment["attribution_threshold"].iloc[0])
    order = out.assign(_z=out["z"].fillna(-np.inf)).sort_values(
        ["q_conditional", "_z", "motif_id"], ascending=[True, False, True], kind="mergesort")
    return order.drop(columns="_z").reset_index(drop=True)


# --- seqlet annotation null ------------------------------------------------------------------


def _shuffle_group(X: torch.Tensor, n: int, random_state: int, ids: np.ndarray):
    """Dinucleotide shuffles of equal-width sequences; those with no shuffle other than
    themselves (or containing N) are dropped. Returns (shuffles (M, n, 4, w), kept ids)."""
    from motifscope.ersatz import dinucleotide_shuffle

    try:
        return dinucleotide_shuffle(X, n=n, random_state=random_state,
                                    example_ids=torch.as_tensor(ids)), ids
    except InputError:
        if len(ids) == 1:
            return None, ids[:0]
    half = len(ids) // 2
    parts = [_shuffle_group(X[:half], n, random_state, ids[:half]),
             _shuffle_group(X[half:], n, random_state, ids[half:])]
    kept = [p for p in parts if p[0] is not None]
    if not kept:
        return None, ids[:0]
    return torch.cat([p[0] for p in kept]), np.concatenate([p[1] for p in kept])


def shuffled_seqlets(X, seqlets: pd.DataFrame, n_shuffles: int = 2,
                     random_state: int = 0):
    """Dinucleotide-shuffled copies of every seqlet's sequence, as a batch to annotate.

    Parameters
    ----------
    X : array or tensor of shape (N, 4, L)
        One-hot windows the seqlets come from.
    seqlets : pandas.DataFrame
        Columns example_idx, start, end (0-based, half-open, within the window).
    n_shuffles : int, default 2
    random_state : int, default 0
        Shuffle ``j`` of seqlet ``i`` depends only on (random_state, i, j).

    Returns
    -------
    X_null : numpy.ndarray of uint8, shape (M * n_shuffles, 4, W)
        Every shuffle at the start of its row (W = widest seqlet; the rest is N).
    table : pandas.DataFrame
        example_idx (the row of ``X_null``), start (0), end (the width), seqlet_idx (the
        seqlet shuffled), shuffle.
    n_shuffled : int
        Seqlets that could be shuffled (M).
    """
    X = np.asarray(X)
    example = seqlets["example_idx"].to_numpy().astype(np.int64)
    start = seqlets["start"].to_numpy().astype(np.int64)
    end = seqlets["end"].to_numpy().astype(np.int64)
    width = end - start
    widest = int(width.max()) if len(width) else 1
    blocks, rows = [], []
    for w in np.unique(width):
        if w < 3:
            continue
        idx = np.flatnonzero(width == w)
        batch = np.stack([X[example[i], :, start[i]:end[i]] for i in idx]).astype(np.uint8)
        has_n = batch.sum(1).min(1) == 0
        idx, batch = idx[~has_n], batch[~has_n]
        if not len(idx):
            continue
        shuffled, kept = _shuffle_group(torch.from_numpy(batch), n_shuffles, random_state, idx)
        if shuffled is None:
            continue
        block = np.zeros((len(kept) * n_shuffles, 4, widest), dtype=np.uint8)
        block[:, :, :w] = shuffled.numpy().reshape(-1, 4, w)
        blocks.append(block)
        rows.append(pd.DataFrame({"seqlet_idx": np.repeat(kept, n_shuffles),
                                  "shuffle": np.tile(np.arange(n_shuffles), len(kept)),
                                  "end": w}))
    if not blocks:
        return (np.zeros((0, 4, widest), dtype=np.uint8),
                pd.DataFrame(columns=["example_idx", "start", "end", "seqlet_idx", "shuffle"]),
                0)
    X_null = np.concatenate(blocks)
    table = pd.concat(rows, ignore_index=True)
    table.insert(0, "example_idx", np.arange(len(table)))
    table.insert(1, "start", 0)
    return X_null, table[["example_idx", "start", "end", "seqlet_idx", "shuffle"]], \
        int(table["seqlet_idx"].nunique())


def annotation_null(X, seqlets: pd.DataFrame, motifs, n_shuffles: int = 2,
                    random_state: int = 0, **annotate_kwargs) -> tuple[pd.DataFrame, int]:
    """TOMTOM best matches of dinucleotide-shuffled seqlets (the annotation null).

    Parameters
    ----------
    X, seqlets
        As for :func:`motifscope.motifs.annotate_seqlets`.
    motifs : str, MotifSet, dict or list
        The same database.
    n_shuffles : int, default 2
    random_state : int, default 0
    **annotate_kwargs
        The same TOMTOM settings as the real annotation (min_overlap, batch_size, device).

    Returns
    -------
    annotated : pandas.DataFrame
        :func:`annotate_seqlets` rows (rank 1 only) of the shuffles, with seqlet_idx
        replaced by the shuffled seqlet's index and a shuffle column.
    n_shuffled : int
        Seqlets in the null arm (each shuffled ``n_shuffles`` times).
    """
    from motifscope.motifs.annotate import annotate_seqlets

    X_null, table, n_shuffled = shuffled_seqlets(X, seqlets, n_shuffles, random_state)
    annotate_kwargs.pop("n_nearest", None)
    if len(table) == 0:
        return annotate_seqlets(X_null if len(X_null) else np.zeros((1, 4, 1), np.uint8),
                                table.iloc[0:0][["example_idx", "start", "end"]], motifs,
                                **annotate_kwargs), 0
    annotated = annotate_seqlets(X_null, table.drop(columns="seqlet_idx"), motifs,
                                 n_nearest=1, **annotate_kwargs)
    annotated["seqlet_idx"] = table["seqlet_idx"].to_numpy()[annotated["seqlet_idx"].to_numpy()]
    return annotated, n_shuffled


def annotation_enrichment(counts: pd.DataFrame, null_counts: pd.DataFrame, label: str,
                          n_observed: int, n_null: int, n_shuffles: int) -> pd.DataFrame:
    """Observed seqlet counts per group against the shuffled-seqlet null.

    Parameters
    ----------
    counts : pandas.DataFrame
        :func:`count_annotations` of the real seqlets (column ``label``, n_seqlets, ...).
    null_counts : pandas.DataFrame
        :func:`count_annotations` of the shuffles, same grouping and q-value cut.
    label : str
        The group column (``cluster``, ``motif_id``, ``tf_family``, ...).
    n_observed : int
        Seqlets annotated in the real arm.
    n_null : int
        Seqlets shuffled in the null arm.
    n_shuffles : int

    Returns
    -------
    pandas.DataFrame
        ``counts`` with n_null (null matches of the group over all shuffles), expected
        (``n_null * n_observed / (n_null_seqlets * n_shuffles)``, the count the group would
        get from shuffled sequence), enrichment (``(n_seqlets + 1) / (expected + 1)``),
        p-value (exact conditional binomial test, one-sided) and q-value (BH over the
        groups), in the order of ``counts``.
    """
    from scipy.stats import binom

    out = counts.copy()
    null = dict(zip(null_counts[label].astype(str), null_counts["n_seqlets"])) \
        if len(null_counts) else {}
    k0 = np.array([null.get(str(g), 0) for g in out[label]], dtype=np.float64)
    k1 = out["n_seqlets"].to_numpy(dtype=np.float64)
    trials = n_null * n_shuffles
    if trials == 0 or n_observed == 0:
        expected = np.full(len(out), np.nan)
        p = np.full(len(out), 1.0) if len(out) else np.zeros(0)
    else:
        expected = k0 * n_observed / trials
        share = n_observed / (n_observed + trials)
        p = binom.sf(k1 - 1, k1 + k0, share)
    out["n_null"] = k0.astype(np.int64)
    out["expected"] = expected
    out["enrichment"] = (k1 + 1) / (expected + 1)
    out["p-value"] = p
    out["q-value"] = _bh(p)
    return out
