"""Planted-motif recovery: which simulated motifs each interpretation method found.

For simulated data the truth table (``sim/truth.tsv``) lists every planted site. Four
methods name motifs:

- ``seqlets``: seqlets whose best TOMTOM match has q <= ``max_qvalue`` (rule annotate_seqlets);
- ``fimo``: FIMO hits whose summed attribution is >= ``attribution_threshold`` (rule fimo);
- ``filters``: first-layer filters whose best TOMTOM match passed the filter q-value
  (``annotation`` column of filters/matches.tsv); one call per filter, no position;
- ``marginalize``: motifs whose insertion raises the target with z >= ``min_z`` and by at
  least ``min_effect`` times the strongest motif's effect.

A call names a planted motif when it belongs to one of the planted motif's accepted groups
(:meth:`MotifGroups.accepted`: the same id, TOMTOM cluster or name, or for a dimer such as
``GATA1::TAL1`` a motif named after one of its parts), so that near-identical database
motifs count as the planted one. Positional calls (seqlets, FIMO) are also matched to planted sites:
a call and a site of the same group overlap when they share at least ``min_fraction`` of the
shorter of the two. Coordinates are genome coordinates, 0-based half-open.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from motifscope.errors import InputError

MOTIF_COLUMNS = ["method", "target", "motif_id", "motif_alt_id", "found", "n_planted",
                 "n_recovered", "recall", "n_calls", "n_true_calls", "precision", "evidence",
                 "role"]
SUMMARY_COLUMNS = ["method", "target", "planted_motifs", "found", "motif_recall", "called",
                   "called_planted", "motif_precision", "site_recall", "site_precision",
                   "any_call_site_recall"]
METHOD_ORDER = ["de novo patterns", "hits", "seqlets", "fimo", "filters", "marginalize",
                "summary"]


class MotifGroups:
    """Motif ids that count as the same motif: same id, TOMTOM cluster or name.

    Parameters
    ----------
    database : pandas.DataFrame, optional
        ``motifs/database.tsv`` (columns id, alt_id, optionally tf_family): motifs with the
        same name (case-insensitive) are grouped; names and families also define the parts
        of dimers (:meth:`accepted`).
    clusters : pandas.DataFrame, optional
        ``motifs/clusters.tsv`` (columns id, cluster): motifs in one cluster are grouped.
    """

    def __init__(self, database: pd.DataFrame | None = None,
                 clusters: pd.DataFrame | None = None):
        self._parent: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self._ids_by_name: dict[str, list] = {}
        self.families: dict[str, frozenset] = {}
        self._ids_by_family: dict[str, list] = {}
        if database is not None and {"id", "tf_family"} <= set(database.columns):
            for motif_id, family in zip(database["id"].astype(str),
                                        database["tf_family"].fillna("").astype(str)):
                parts = frozenset(f.strip() for f in family.split(";") if f.strip())
                self.families[motif_id] = parts
                if len(parts) == 1:
                    self._ids_by_family.setdefault(next(iter(parts)), []).append(motif_id)
        for table, key in ((database, "alt_id"), (clusters, "cluster")):
            if table is None or key not in table or "id" not in table:
                continue
            first: dict[str, str] = {}
            for motif_id, label in zip(table["id"].astype(str), table[key].astype(str)):
                label = label.strip()
                if key == "alt_id":
                    self.names.setdefault(motif_id, label)
                    self._ids_by_name.setdefault(label.upper(), []).append(motif_id)
                label = label.upper()
                if not label or label == "NAN":
                    continue
                self._union(first.setdefault(label, motif_id), motif_id)

    def _find(self, motif_id: str) -> str:
        parent = self._parent.setdefault(motif_id, motif_id)
        if parent != motif_id:
            parent = self._parent[motif_id] = self._find(parent)
        return parent

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def group(self, motif_id) -> str:
        """The group key of a motif id (the id itself for motifs never seen)."""
        return self._find(str(motif_id))

    def groups(self, motif_ids) -> np.ndarray:
        """Group keys of many ids (object array)."""
        return np.array([self.group(m) for m in motif_ids], dtype=object)

    def accepted(self, motif_id, name: str | None = None) -> frozenset:
        """Group keys of the calls that name ``motif_id``: its own group and, when its name
        is a dimer ``A::B``, the groups of the motifs named ``A`` or ``B`` and of the
        single-family motifs of one of its TF families (a seqlet matching GATA2 on a planted
        GATA1::TAL1 site found the motif's GATA half).

        Parameters
        ----------
        motif_id : str
        name : str, optional
            The motif's name (default: its alt_id in the database table).
        """
        name = name if name else self.names.get(str(motif_id), "")
        keys = {self.group(motif_id)}
        parts = [p.strip().upper() for p in str(name).split("::")]
        if len(parts) > 1:
            keys |= {self.group(i) for p in parts for i in self._ids_by_name.get(p, [])}
            keys |= {self.group(i) for f in self.families.get(str(motif_id), ())
                     for i in self._ids_by_family.get(f, [])}
        return frozenset(keys)


def sites_in_loci(truth: pd.DataFrame, loci: pd.DataFrame) -> pd.DataFrame:
    """Planted sites lying entirely inside an analysed window.

    Parameters
    ----------
    truth : pandas.DataFrame
        ``sim/truth.tsv``: chrom, start, end, motif_id, motif_alt_id, target, ...
    loci : pandas.DataFrame
        ``loci/loci.tsv``: idx, chrom, start, end, ...

    Returns
    -------
    pandas.DataFrame
        The truth rows inside a window, plus example_idx (the locus) and window_start,
        window_end (the site within the window).
    """
    parts = []
    for chrom, sites in truth.groupby("chrom", sort=False):
        windows = loci[loci["chrom"] == chrom].sort_values("start")
        if windows.empty:
            continue
        starts = windows["start"].to_numpy()
        k = np.searchsorted(starts, sites["start"].to_numpy(), side="right") - 1
        valid = k >= 0
        k = np.clip(k, 0, None)
        inside = valid & (sites["end"].to_numpy() <= windows["end"].to_numpy()[k])
        picked = sites[inside].copy()
        picked["example_idx"] = windows["idx"].to_numpy()[k[inside]]
        picked["window_start"] = picked["start"] - starts[k[inside]]
        picked["window_end"] = picked["end"] - starts[k[inside]]
        parts.append(picked)
    if not parts:
        return truth.iloc[0:0].assign(example_idx=[], window_start=[], window_end=[])
    return pd.concat(parts).sort_values(["example_idx", "start"]).reset_index(drop=True)


def overlap_pairs(calls: pd.DataFrame, sites: pd.DataFrame,
                  min_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (call row, site row) on the same chromosome that overlap enough.

    Two intervals match when their overlap is at least ``min_fraction`` of the shorter one.

    Parameters
    ----------
    calls, sites : pandas.DataFrame
        Columns chrom, start, end (0-based, half-open).
    min_fraction : float, default 0.5

    Returns
    -------
    call_rows, site_rows : numpy.ndarray of int
        Positional indices into ``calls`` and ``sites``.
    """
    call_rows, site_rows = [], []
    site_chrom = sites["chrom"].astype(str).to_numpy()
    call_chrom = calls["chrom"].astype(str).to_numpy()
    for chrom in np.intersect1d(np.unique(site_chrom), np.unique(call_chrom)):
        s_idx = np.flatnonzero(site_chrom == chrom)
        c_idx = np.flatnonzero(call_chrom == chrom)
        s_start = sites["start"].to_numpy()[s_idx].astype(np.int64)
        order = np.argsort(s_start, kind="stable")
        s_idx, s_start = s_idx[order], s_start[order]
        s_end = sites["end"].to_numpy()[s_idx].astype(np.int64)
        c_start = calls["start"].to_numpy()[c_idx].astype(np.int64)
        c_end = calls["end"].to_numpy()[c_idx].astype(np.int64)
        # candidate sites start before the call ends and after (call start - widest site)
        widest = int((s_end - s_start).max())
        lo = np.searchsorted(s_start, c_start - widest, side="left")
        hi = np.searchsorted(s_start, c_end, side="left")
        counts = hi - lo
        if counts.sum() == 0:
            continue
        which_call = np.repeat(np.arange(len(c_idx)), counts)
        which_site = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
        overlap = (np.minimum(c_end[which_call], s_end[which_site])
                   - np.maximum(c_start[which_call], s_start[which_site]))
        shorter = np.minimum(c_end[which_call] - c_start[which_call],
                             s_end[which_site] - s_start[which_site])
        ok = (overlap > 0) & (overlap >= min_fraction * shorter)
        call_rows.append(c_idx[which_call[ok]])
        site_rows.append(s_idx[which_site[ok]])
    if not call_rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(call_rows), np.concatenate(site_rows)


def _accepted_by_motif(sites: pd.DataFrame, groups: MotifGroups) -> dict:
    pairs = sites[["motif_id", "motif_alt_id"]].drop_duplicates("motif_id")
    return {m: groups.accepted(m, a) for m, a in zip(pairs["motif_id"],
                                                      pairs["motif_alt_id"].fillna(""))}


def _naming(call_group: np.ndarray, accepted: frozenset) -> np.ndarray:
    """Which calls name a motif with these accepted groups."""
    return np.fromiter((g in accepted for g in call_group), dtype=bool, count=len(call_group))


def _planted_motifs(sites: pd.DataFrame, target: str | None) -> pd.DataFrame:
    rows = sites if target is None else sites[sites["target"] == target]
    return (rows.groupby("motif_id", sort=True)
            .agg(motif_alt_id=("motif_alt_id", "first"), n_planted=("start", "size"))
            .reset_index())


def _positional(method: str, target: str, calls: pd.DataFrame, sites: pd.DataFrame,
                groups: MotifGroups, planted_groups: set, min_fraction: float,
                any_calls: pd.DataFrame | None = None):
    """Per-motif rows and the summary row of a positional method for one target."""
    motifs = _planted_motifs(sites, target)
    call_group = groups.groups(calls["motif_id"])
    accepted = _accepted_by_motif(sites, groups)
    site_motif = sites["motif_id"].to_numpy()
    c_rows, s_rows = overlap_pairs(calls, sites, min_fraction)
    same = np.fromiter((call_group[c] in accepted[site_motif[s]] for c, s in zip(c_rows, s_rows)),
                       dtype=bool, count=len(c_rows))
    c_rows, s_rows = c_rows[same], s_rows[same]
    true_call = np.zeros(len(calls), dtype=bool)
    true_call[c_rows] = True
    recovered_site = np.zeros(len(sites), dtype=bool)
    recovered_site[s_rows] = True
    of_target = (sites["target"] == target).to_numpy()
    rows = []
    for motif in motifs.itertuples(index=False):
        mine = of_target & (site_motif == motif.motif_id)
        n_recovered = int(recovered_site[mine].sum())
        labelled = _naming(call_group, accepted[motif.motif_id])
        n_calls, n_true = int(labelled.sum()), int((labelled & true_call).sum())
        rows.append((method, target, motif.motif_id, motif.motif_alt_id, n_recovered > 0,
                     int(mine.sum()), n_recovered, n_recovered / max(int(mine.sum()), 1),
                     n_calls, n_true, n_true / n_calls if n_calls else np.nan,
                     f"{n_true} of {n_calls} calls on planted sites"))
    called = set(call_group)
    n_sites = int(of_target.sum())
    any_recall = np.nan
    if any_calls is not None and n_sites:
        _, any_sites = overlap_pairs(any_calls, sites[of_target], min_fraction)
        any_recall = len(np.unique(any_sites)) / n_sites
    summary = _summary_row(method, target, rows, called, planted_groups,
                           recovered_site[of_target].sum() / n_sites if n_sites else np.nan,
                           true_call.mean() if len(calls) else np.nan, any_recall)
    return rows, summary


def _summary_row(method, target, rows, called, planted_groups, site_recall, site_precision,
                 any_recall=np.nan):
    found = sum(r[4] for r in rows)
    hits = len(called & planted_groups)
    return (method, target, len(rows), found, found / len(rows) if rows else np.nan,
            len(called), hits, hits / len(called) if called else np.nan, site_recall,
            site_precision, any_recall)


def _seqlet_calls(annotated: pd.DataFrame, max_qvalue: float) -> pd.DataFrame:
    table = annotated
    if "rank" in table:
        table = table[table["rank"] == 1]
    return table[table["q-value"] <= max_qvalue][["chrom", "start", "end", "motif_id"]]


def _named_calls(calls: pd.DataFrame) -> pd.DataFrame:
    needed = {"chrom", "start", "end", "motif_id"}
    if not needed <= set(calls.columns):
        raise InputError(f"calls need columns {sorted(needed)}; got {list(calls.columns)}")
    return pd.DataFrame({"chrom": calls["chrom"].astype(str), "start": calls["start"],
                         "end": calls["end"], "motif_id": calls["motif_id"].astype(str)})


def _fimo_calls(hits: pd.DataFrame, threshold: float) -> pd.DataFrame:
    needed = {"chrom", "genome_start", "genome_end", "motif_id", "attribution"}
    if not needed <= set(hits.columns):
        raise InputError(f"FIMO hits need columns {sorted(needed)}; got {list(hits.columns)}")
    kept = hits[hits["attribution"] >= threshold]
    return pd.DataFrame({"chrom": kept["chrom"].astype(str), "start": kept["genome_start"],
                         "end": kept["genome_end"], "motif_id": kept["motif_id"].astype(str)})


def _filter_rows(matches: pd.DataFrame, sites: pd.DataFrame, groups: MotifGroups,
                 planted_groups: set):
    motifs = _planted_motifs(sites, None)
    accepted = _accepted_by_motif(sites, groups)
    annotated = matches[matches["annotation"].astype(str) != "."]
    call_group = groups.groups(annotated["best_match"])
    rows = []
    for motif in motifs.itertuples(index=False):
        names = annotated["filter"][_naming(call_group, accepted[motif.motif_id])].astype(str)
        evidence = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        rows.append(("filters", "all", motif.motif_id, motif.motif_alt_id, len(names) > 0,
                     motif.n_planted, np.nan, np.nan, len(names), np.nan, np.nan,
                     f"filters {evidence}" if len(names) else "no filter matches it"))
    summary = _summary_row("filters", "all", rows, set(call_group), planted_groups, np.nan,
                           np.nan)
    return rows, summary


def _marginalize_rows(table: pd.DataFrame, target: str, sites: pd.DataFrame,
                      groups: MotifGroups, planted_groups: set, min_z: float,
                      min_effect: float):
    motifs = _planted_motifs(sites, target)
    accepted = _accepted_by_motif(sites, groups)
    ranked = table.sort_values("delta_mean", ascending=False, kind="mergesort")
    ranked = ranked.reset_index(drop=True)
    motif_group = groups.groups(ranked["motif"])
    strongest = float(ranked["delta_mean"].max()) if len(ranked) else 0.0
    called_mask = ((ranked["z"] >= min_z) & (ranked["delta_mean"] > 0)
                   & (ranked["delta_mean"] >= min_effect * strongest)).to_numpy()
    rows = []
    for motif in motifs.itertuples(index=False):
        where = np.flatnonzero(_naming(motif_group, accepted[motif.motif_id]))
        if len(where) == 0:
            rows.append(("marginalize", target, motif.motif_id, motif.motif_alt_id, False,
                         motif.n_planted, np.nan, np.nan, 0, np.nan, np.nan,
                         "not marginalized"))
            continue
        best = where[0]
        found = bool(called_mask[where].any())
        rows.append(("marginalize", target, motif.motif_id, motif.motif_alt_id, found,
                     motif.n_planted, np.nan, np.nan, int(called_mask[where].sum()), np.nan,
                     np.nan, f"rank {best + 1} of {len(ranked)}, delta "
                             f"{ranked['delta_mean'].iloc[best]:.3g}, "
                             f"z {ranked['z'].iloc[best]:.3g}"))
    summary = _summary_row("marginalize", target, rows, set(motif_group[called_mask]),
                           planted_groups, np.nan, np.nan)
    return rows, summary


def _summary_calls(summary: pd.DataFrame, targets, sites: pd.DataFrame, groups: MotifGroups,
                   planted_groups: set):
    """Rows of the summary's calls (``summary.tsv``): for each target its drivers and every
    distractor; found = called learned. A driver learned for other targets too says so."""
    accepted = _accepted_by_motif(sites, groups)
    learned = summary[summary["call"] == "learned"]
    learned_group = groups.groups(learned["motif_id"].fillna("").astype(str))
    distractors = _planted_motifs(sites[sites["target"] == ""], None)
    rows, summaries = [], []
    for target in targets:
        mine = []
        for motif in pd.concat([_planted_motifs(sites, target), distractors]).itertuples():
            naming = _naming(learned_group, accepted[motif.motif_id])
            where = learned.loc[naming, "target"].astype(str)
            found = bool((where == target).any())
            others = sorted(set(where) - {target})
            evidence = "learned" if found else "not learned"
            if others:
                evidence += "; also learned for " + ", ".join(others)
            mine.append(("summary", target, motif.motif_id, motif.motif_alt_id, found,
                         motif.n_planted, np.nan, np.nan, int(naming.sum()), np.nan, np.nan,
                         evidence))
        called = set(learned_group[(learned["target"] == target).to_numpy()])
        drivers = [r for r in mine if r[2] not in set(distractors["motif_id"])]
        rows += mine
        summaries.append(_summary_row("summary", target, drivers, called, planted_groups,
                                      np.nan, np.nan))
    return rows, summaries


def planted_motif_recovery(truth: pd.DataFrame, loci: pd.DataFrame, targets,
                           seqlets: Mapping | None = None, fimo: Mapping | None = None,
                           filters: pd.DataFrame | None = None,
                           marginalization: Mapping | None = None,
                           groups: MotifGroups | None = None, raw_seqlets: Mapping | None = None,
                           max_qvalue: float = 0.05, attribution_threshold: float = 0.0,
                           min_z: float = 3.0, min_effect: float = 0.5,
                           min_fraction: float = 0.5, summary_calls: pd.DataFrame | None = None,
                           denovo: Mapping | None = None, hits: Mapping | None = None):
    """Recall and precision of every method against the planted motifs.

    Parameters
    ----------
    truth : pandas.DataFrame
        ``sim/truth.tsv`` (chrom, start, end, motif_id, motif_alt_id, target, ...).
    loci : pandas.DataFrame
        ``loci/loci.tsv``; only sites inside an analysed window count.
    targets : list of str
    seqlets : mapping target -> DataFrame, optional
        ``seqlets/<target>.annotated.tsv`` (genome chrom, start, end; rank, motif_id,
        q-value).
    fimo : mapping target -> DataFrame, optional
        ``fimo/<target>.hits.tsv.gz`` (chrom, genome_start, genome_end, motif_id,
        attribution).
    filters : pandas.DataFrame, optional
        ``filters/matches.tsv`` (filter, best_match, annotation).
    marginalization : mapping target -> DataFrame, optional
        ``marginalize/<target>.tsv`` (motif, delta_mean, z).
    groups : MotifGroups, optional
        Default: motifs match by id only.
    raw_seqlets : mapping target -> DataFrame, optional
        ``seqlets/<target>.tsv``: gives ``any_call_site_recall`` (sites under any seqlet,
        annotated or not).
    max_qvalue : float, default 0.05
    attribution_threshold : float, default 0.0
    min_z : float, default 3.0
    min_effect : float, default 0.5
        A marginalized motif is called only when its effect is at least this fraction of the
        strongest motif's (z alone grows with the number of backgrounds).
    min_fraction : float, default 0.5
    summary_calls : pandas.DataFrame, optional
        ``summary.tsv`` (target, motif_id, call): the "summary" method, found = called
        learned; its rows cover each target's drivers and every distractor.
    denovo : mapping target -> DataFrame, optional
        The TF-MoDISco pattern seqlets in genome coordinates (chrom, start, end) with
        ``motif_id`` the best TOMTOM match of their pattern (row "de novo patterns").
    hits : mapping target -> DataFrame, optional
        The motif instances of the hits stage, same columns (row "hits").

    Returns
    -------
    per_motif : pandas.DataFrame
        One row per method, target and planted motif: found, n_planted (sites in the
        windows), n_recovered (sites matched by a call of the same motif), recall,
        n_calls (calls naming the motif), n_true_calls (of those, on one of its sites),
        precision, evidence, role ("driver", or "distractor" for a motif planted for no
        target: found there is a false call). Site columns are empty for the non-positional
        methods.
    summary : pandas.DataFrame
        One row per method and target: planted_motifs, found, motif_recall, called
        (distinct motif groups named), called_planted (of those, planted ones),
        motif_precision, site_recall, site_precision, any_call_site_recall.
    """
    groups = groups or MotifGroups()
    sites = sites_in_loci(truth, loci)
    sites = sites.assign(chrom=sites["chrom"].astype(str), motif_id=sites["motif_id"].astype(str),
                         target=sites["target"].fillna("").astype(str))
    # distractors (planted for no target) are controls, not motifs to find
    drivers = truth[truth["target"].fillna("").astype(str) != ""]
    planted = drivers[["motif_id", "motif_alt_id"]].astype(str).drop_duplicates("motif_id")
    planted_groups = set().union(*(groups.accepted(m, a) for m, a in
                                   zip(planted["motif_id"], planted["motif_alt_id"])))
    rows, summaries = [], []
    for target in targets:
        for method, calls in (("de novo patterns", denovo), ("hits", hits)):
            if calls is not None and target in calls:
                r, s = _positional(method, target, _named_calls(calls[target]), sites, groups,
                                   planted_groups, min_fraction)
                rows += r
                summaries.append(s)
        if seqlets is not None and target in seqlets:
            raw = (raw_seqlets or {}).get(target)
            r, s = _positional("seqlets", target, _seqlet_calls(seqlets[target], max_qvalue),
                               sites, groups, planted_groups, min_fraction, raw)
            rows += r
            summaries.append(s)
        if fimo is not None and target in fimo:
            r, s = _positional("fimo", target, _fimo_calls(fimo[target], attribution_threshold),
                               sites, groups, planted_groups, min_fraction)
            rows += r
            summaries.append(s)
        if marginalization is not None and target in marginalization:
            r, s = _marginalize_rows(marginalization[target], target, sites, groups,
                                     planted_groups, min_z, min_effect)
            rows += r
            summaries.append(s)
    if filters is not None:
        r, s = _filter_rows(filters, sites, groups, planted_groups)
        rows += r
        summaries.append(s)
    if summary_calls is not None:
        r, s = _summary_calls(summary_calls, targets, sites, groups, planted_groups)
        rows += r
        summaries += s
    per_motif = pd.DataFrame(rows, columns=MOTIF_COLUMNS[:-1])
    distractor_ids = set(sites.loc[sites["target"] == "", "motif_id"])
    per_motif["role"] = np.where(per_motif["motif_id"].isin(distractor_ids), "distractor",
                                 "driver")
    summary = pd.DataFrame(summaries, columns=SUMMARY_COLUMNS)
    order = {m: k for k, m in enumerate(METHOD_ORDER)}
    per_motif, summary = (
        table.assign(_order=table["method"].map(order))
        .sort_values(["_order", "target"], kind="mergesort")
        .drop(columns="_order").reset_index(drop=True)
        for table in (per_motif, summary))
    return per_motif, summary
