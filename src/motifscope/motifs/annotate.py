"""Seqlet annotation: the best database motifs of every seqlet, and per-motif counts.

:func:`annotate_seqlets` compares each seqlet's one-hot sequence (not its attributions) with
a motif database by TOMTOM, as tangermeme's ``annotate_seqlets`` does, and keeps the
``n_nearest`` best matches. :func:`count_annotations` turns the best matches into counts
per motif, or per group of motifs (TOMTOM clusters from :func:`cluster_motifs`, or the TF
family/class of ``motifs/database.tsv``), so near-identical database motifs (JASPAR's many
GATA matrices) do not split the count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.motifs._motif_list import as_motif_list, bh_qvalues
from motifscope.motifs.tomtom import MAX_QUERY_WIDTH, tomtom_pvalues
from motifscope.utils import as_numpy

ANNOTATION_COLUMNS = ["seqlet_idx", "rank", "motif_id", "motif_alt_id", "p-value", "E-value",
                      "q-value", "optimal_offset", "overlap", "orientation", "score"]


def annotate_seqlets(X, seqlets: pd.DataFrame, motifs, n_nearest: int = 1,
                     min_overlap: int = 1, reverse_complement: bool = True,
                     max_seqlet_width: int = MAX_QUERY_WIDTH, batch_size: int | None = None,
                     device: str | torch.device = "auto",
                     verbose: bool | None = None) -> pd.DataFrame:
    """The best TOMTOM matches of every seqlet in a motif database.

    Parameters
    ----------
    X : array or tensor of shape (N, 4, L)
        One-hot sequences the seqlets come from (N = all-zero column), or a list of
        equal-length (4, L) arrays.
    seqlets : pandas.DataFrame
        Columns ``example_idx``, ``start``, ``end`` (0-based, half-open, within the
        window); any other columns (genome coordinates, attribution, ...) are kept, those
        named like an output column (e.g. the caller's ``p-value``) as ``seqlet_<name>``.
    motifs : str, MotifSet, dict or list
        The database (a MEME file or ``{name: (4, w)}``).
    n_nearest : int, default 1
        Matches kept per seqlet, best (smallest p-value) first.
    min_overlap : int, default 1
        TOMTOM's minimum overlap.
    reverse_complement : bool, default True
    max_seqlet_width : int, default 64
        Wider seqlets are refused (TOMTOM's memory grows with the cube of the width).
    batch_size, device, verbose
        Passed to :func:`motifscope.motifs.tomtom_pvalues`.

    Returns
    -------
    pandas.DataFrame
        One row per (seqlet, rank): the seqlet's columns, then seqlet_idx (its row in
        ``seqlets``), rank (1 = best), motif_id, motif_alt_id, p-value, E-value (p x
        number of motifs), q-value (Benjamini-Hochberg over the database, an upper bound
        computed from the kept p-values), optimal_offset (position of the seqlet's first
        base in the oriented motif), overlap, orientation (``+``/``-``: the motif or its
        reverse complement) and score (TOMTOM's integer score). Coordinates are 0-based,
        half-open.

    Raises
    ------
    InputError
        For a seqlet table without the three columns, seqlets outside their sequence or
        wider than ``max_seqlet_width``, an unknown ``example_idx``, or sequences of mixed
        lengths.
    """
    X = _as_onehot_batch(X)
    missing = {"example_idx", "start", "end"} - set(seqlets.columns)
    if missing:
        raise InputError(f"seqlet table lacks column(s) {sorted(missing)}; it needs "
                         "example_idx, start and end (0-based, half-open)")
    database = as_motif_list(motifs, "motif database")
    # Seqlet columns named like annotation columns (a seqlet caller's p-value) are kept
    # under a "seqlet_" prefix.
    seqlets = seqlets.reset_index(drop=True).rename(
        columns={c: f"seqlet_{c}" for c in ANNOTATION_COLUMNS if c in seqlets.columns})
    if len(seqlets) == 0:
        return pd.DataFrame(columns=list(seqlets.columns) + ANNOTATION_COLUMNS)
    queries = _seqlet_sequences(X, seqlets, max_seqlet_width)
    k = min(int(n_nearest), len(database))
    result = tomtom_pvalues(queries, database, min_overlap=min_overlap,
                            reverse_complement=reverse_complement, n_nearest=k,
                            batch_size=batch_size, device=device,
                            max_query_width=max_seqlet_width, verbose=verbose)
    n_s = len(seqlets)
    p = result.p_values
    q = bh_qvalues(torch.from_numpy(p), n_tests=result.n_targets).numpy()
    rows = np.repeat(np.arange(n_s), k)
    t_idx = result.target_idx.ravel()
    table = seqlets.iloc[rows].reset_index(drop=True)
    table["seqlet_idx"] = rows
    table["rank"] = np.tile(np.arange(1, k + 1), n_s)
    table["motif_id"] = np.array(database.names, dtype=object)[t_idx]
    table["motif_alt_id"] = np.array(database.alt_ids, dtype=object)[t_idx]
    table["p-value"] = p.ravel()
    table["E-value"] = p.ravel() * result.n_targets
    table["q-value"] = q.ravel()
    table["optimal_offset"] = result.offsets.ravel()
    table["overlap"] = result.overlaps.ravel()
    table["orientation"] = np.where(result.strands.ravel() == 1, "-", "+")
    table["score"] = result.scores.ravel()
    return table


def _as_onehot_batch(X) -> np.ndarray:
    if isinstance(X, (list, tuple)):
        lengths = {np.shape(x)[-1] for x in X}
        if len(lengths) > 1:
            raise InputError(f"sequences have different lengths {sorted(lengths)[:5]}; "
                             "seqlet annotation needs an (N, 4, L) batch of equal-length "
                             "windows")
        X = np.stack([as_numpy(x) for x in X])
    X = as_numpy(X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"sequences have shape {X.shape}; pass one-hot (N, 4, L)")
    return X


def _seqlet_sequences(X: np.ndarray, seqlets: pd.DataFrame, max_width: int) -> list:
    example = seqlets["example_idx"].to_numpy()
    start = seqlets["start"].to_numpy()
    end = seqlets["end"].to_numpy()
    n, _, length = X.shape
    bad = (example < 0) | (example >= n)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"seqlet {i} has example_idx {example[i]} but there are {n} "
                         "sequences; the seqlet table does not belong to these sequences")
    bad = (start < 0) | (end > length) | (end <= start)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"seqlet {i} spans [{start[i]}, {end[i]}) outside its sequence of "
                         f"length {length} (or is empty); seqlet coordinates must be 0-based, "
                         "half-open window positions")
    wide = (end - start) > max_width
    if wide.any():
        i = int(np.flatnonzero(wide)[0])
        raise InputError(f"seqlet {i} is {end[i] - start[i]} bp wide, more than "
                         f"max_seqlet_width={max_width}; call seqlets with a smaller "
                         "max_seqlet_len or raise the limit")
    X = X.astype(np.float64, copy=False)
    return [X[e, :, s:t] for e, s, t in zip(example, start, end)]


def count_annotations(annotated: pd.DataFrame, by: str = "motif", groups=None,
                      max_pvalue: float | None = None, max_qvalue: float | None = None,
                      best_only: bool = True) -> pd.DataFrame:
    """Count annotated seqlets per motif or per group of motifs.

    Parameters
    ----------
    annotated : pandas.DataFrame
        From :func:`annotate_seqlets`.
    by : str, default "motif"
        ``"motif"`` counts per motif id. Any other name groups motifs: with ``groups`` a
        mapping or Series (motif id -> group label, e.g. :func:`cluster_motifs`'s
        ``cluster`` column), or a DataFrame with an ``id`` column and a column named
        ``by`` (e.g. ``motifs/database.tsv`` with ``by="tf_family"``). Motifs without a
        group label count under their own id.
    groups : mapping, pandas.Series or pandas.DataFrame, optional
    max_pvalue, max_qvalue : float, optional
        Count only matches at least this significant.
    best_only : bool, default True
        Count only each seqlet's best match (rank 1); otherwise every kept match.

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` (the motif id or group label), n_seqlets, n_examples (distinct
        example_idx), motifs (the matched motif ids, ``;``-joined), names (their alt ids),
        and, when the seqlets carry an ``attribution`` column, mean_attribution; sorted by
        n_seqlets (descending), then label.

    Raises
    ------
    InputError
        For a table without motif_id, or groups that do not give a ``by`` label.
    """
    if "motif_id" not in annotated.columns:
        raise InputError("count_annotations needs the table from annotate_seqlets "
                         "(column motif_id is missing)")
    table = annotated
    if best_only and "rank" in table.columns:
        table = table[table["rank"] == 1]
    if max_pvalue is not None:
        table = table[table["p-value"] <= max_pvalue]
    if max_qvalue is not None:
        table = table[table["q-value"] <= max_qvalue]
    label = "motif_id" if by == "motif" else by
    table = table.copy()
    if by != "motif":
        mapping = _group_mapping(groups, by)
        table[label] = table["motif_id"].map(mapping).fillna(table["motif_id"]).astype(str)
    columns = [label, "n_seqlets", "n_examples", "motifs", "names"]
    has_attr = "attribution" in table.columns
    if has_attr:
        columns.append("mean_attribution")
    if len(table) == 0:
        return pd.DataFrame(columns=columns)
    grouped = table.groupby(label, sort=True)
    out = pd.DataFrame({
        "n_seqlets": grouped.size(),
        "n_examples": grouped["example_idx"].nunique() if "example_idx" in table else np.nan,
        "motifs": grouped["motif_id"].agg(lambda s: ";".join(sorted(set(s)))),
        "names": grouped["motif_alt_id"].agg(lambda s: ";".join(sorted(set(map(str, s)))))
        if "motif_alt_id" in table else "",
    })
    if has_attr:
        out["mean_attribution"] = grouped["attribution"].mean()
    out = out.reset_index().rename(columns={"index": label})
    out = out.sort_values(["n_seqlets", label], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)[columns]


def _group_mapping(groups, by: str) -> dict:
    if groups is None:
        raise InputError(f"count_annotations(by='{by}') needs groups: a motif id -> {by} "
                         "mapping, or the database table with columns id and " + by)
    if isinstance(groups, pd.DataFrame):
        id_column = "id" if "id" in groups.columns else "motif_id"
        if id_column not in groups.columns or by not in groups.columns:
            raise InputError(f"the groups table needs columns id and {by}; it has "
                             f"{list(groups.columns)}")
        values = groups[by].where(groups[by].notna() & (groups[by].astype(str) != ""))
        return dict(zip(groups[id_column].astype(str), values))
    return dict(groups)
