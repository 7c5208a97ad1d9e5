"""TOMTOM matches of the filters against a motif database and the filter summary table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.filters.influence import influence_matrix
from motifscope.filters.pwms import FilterPWMs
from motifscope.motifs import tomtom
from motifscope.motifs.tomtom import TOMTOM_COLUMNS


# --------------------------------------------------------------------------------------
# TOMTOM matches and the summary table
# --------------------------------------------------------------------------------------

MATCH_COLUMNS = ["filter", "best_match", "best_match_name", "p-value", "E-value", "q-value",
                 "orientation", "annotation"]


def filter_tomtom(pwms, database, distance: str = "pearson", trim_ic: float = 0.0,
                  **kwargs) -> pd.DataFrame:
    """Compare the filters' PFMs with a motif database by TOMTOM.

    Parameters
    ----------
    pwms : FilterPWMs or dict[str, (4, w) array]
        Only kept filters are compared (a FilterPWMs' ``motifs(trim_ic)``).
    database : dict[str, (4, w) array] or MotifSet
        Target motifs (e.g. ``motifscope.io.read_meme("motifs/database.meme")``).
    distance : str, default "pearson"
        Column similarity, as Basset and DanQ ran MEME Tomtom (``-dist pearson``).
    trim_ic : float, default 0.0
        See :meth:`FilterPWMs.motifs`.
    **kwargs
        Passed to :func:`motifscope.motifs.tomtom`.

    Returns
    -------
    pandas.DataFrame
        :func:`motifscope.motifs.tomtom`'s table (query_id, target_id, optimal_offset,
        p-value, E-value, q-value, overlap, query_consensus, target_consensus, orientation,
        score); empty with these columns when no filter has a motif.
    """
    queries = pwms.motifs(trim_ic) if isinstance(pwms, FilterPWMs) else dict(pwms)
    if not queries or not len(database):
        return pd.DataFrame(columns=TOMTOM_COLUMNS)
    return tomtom(queries, database, distance=distance, **kwargs)


def best_matches(tomtom_table: pd.DataFrame, database=None, filters=None,
                 q_threshold: float = 0.1) -> pd.DataFrame:
    """The best database match of every filter: the smallest q-value (then p-value).

    Parameters
    ----------
    tomtom_table : pandas.DataFrame
        From :func:`filter_tomtom`.
    database : MotifSet, optional
        Gives each match's alternate name (the TF) in ``best_match_name``.
    filters : sequence of str, optional
        All filter names, so filters without a match get a row (with NaN values).
    q_threshold : float, default 0.1
        ``annotation`` is the match's name when its q-value is <= this (Basset's
        ``tomtom -thresh 0.1``), else ``"."``.

    Returns
    -------
    pandas.DataFrame
        Columns filter, best_match, best_match_name, p-value, E-value, q-value,
        orientation, annotation; one row per filter.
    """
    if len(tomtom_table):
        ranked = tomtom_table.sort_values(["query_id", "q-value", "p-value", "target_id"],
                                          kind="mergesort")
        best = ranked.groupby("query_id", sort=False).head(1)
    else:
        best = pd.DataFrame(columns=TOMTOM_COLUMNS)
    best = best.rename(columns={"query_id": "filter", "target_id": "best_match"})
    alt = getattr(database, "alt_id", None)
    best["best_match_name"] = [(alt(t) if alt else "") or t for t in best["best_match"]]
    best = best.reset_index(drop=True)
    if filters is not None:
        best = pd.DataFrame({"filter": list(filters)}).merge(best, on="filter", how="left")
    significant = best["q-value"].astype(float) <= q_threshold
    best["annotation"] = np.where(significant, best["best_match_name"], ".")
    return best[MATCH_COLUMNS].reset_index(drop=True)


def filter_table(pwms: FilterPWMs | pd.DataFrame, matches: pd.DataFrame | None = None,
                 influence: pd.DataFrame | None = None,
                 influence_value: str = "score") -> pd.DataFrame:
    """One row per filter: motif, match, activation statistics and influence per target.

    Parameters
    ----------
    pwms : FilterPWMs or pandas.DataFrame
        The filters, or their :meth:`FilterPWMs.table` (e.g. read back from a TSV).
    matches : pandas.DataFrame, optional
        From :func:`best_matches`.
    influence : pandas.DataFrame, optional
        From :func:`filter_influence`; adds ``influence:<target>`` columns (the
        ``influence_value`` column, Basset's score by default) and ``delta_loss`` (mean over
        targets) when labels were given.

    Returns
    -------
    pandas.DataFrame
        Columns filter, consensus, weight_consensus, best_match, best_match_name, q-value,
        annotation, ic, activation_mean, activation_sd, nsites, status, then influence.
        Filters without sites are kept (status says why they have no motif).
    """
    table = pwms.table() if isinstance(pwms, FilterPWMs) else pwms.copy()
    if matches is None:
        matches = best_matches(pd.DataFrame(columns=TOMTOM_COLUMNS), filters=table["filter"])
    table = table.merge(matches[["filter", "best_match", "best_match_name", "q-value",
                                 "annotation"]].astype({"filter": str}), on="filter",
                        how="left")
    table["annotation"] = table["annotation"].fillna(".")
    columns = ["filter", "consensus", "weight_consensus", "best_match", "best_match_name",
               "q-value", "annotation", "ic", "activation_mean", "activation_sd", "nsites",
               "status"]
    table = table[columns]
    if influence is not None:
        wide = influence_matrix(influence, influence_value)
        wide.columns = [f"influence:{t}" for t in wide.columns]
        table = table.merge(wide, left_on="filter", right_index=True, how="left")
        loss = influence.groupby("filter", sort=False)["delta_loss"].mean()
        if loss.notna().any():
            table["delta_loss"] = table["filter"].map(loss)
    return table
