"""One answer per target: which motifs the model learned, with every stage's evidence.

Each stage that ran contributes one *line of evidence* per motif group (a TOMTOM cluster of
near-identical database motifs, ``motifs/clusters.tsv``; a de novo pattern that matches no
database motif is a group of its own). A line counts for a group only when it passes that
stage's own null or control:

============  ===============================================================================
line          counts when
============  ===============================================================================
de novo       a positive TF-MoDISco pattern matches the group (TOMTOM q <= ``max_qvalue``) and
              holds at least ``min_share`` of the target's positive-pattern seqlets
seqlets       the group's share of annotated seqlets is at least ``min_share`` and exceeds the
              shuffled-seqlet null (annotation q-value <= ``max_qvalue``)
fimo          the group's FIMO hits carry more attribution than the same-width spans of their
              own loci, after stronger motifs explained away overlapping hits
              (``q_conditional`` <= ``max_qvalue``), by at least ``min_effect`` times the
              excess of the target's strongest enriched motif
marginalize   inserting the motif raises the prediction: z >= ``min_z`` and an effect of at
              least ``min_effect`` times the target's strongest motif
============  ===============================================================================

Motif hits (instances of the de novo patterns) and first-layer filters are shown beside the
lines but do not vote: hits restate the de novo patterns, and filter influence has no null.

The call: **learned** when at least ``min_lines`` lines count (or every line that ran, when
fewer ran), **weak** when one does, **not evidenced** when none does. Groups with no line at
all are left out, except the motifs a simulation planted (drivers and distractors), which are
always reported so that the controls can be read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LINES = ["denovo", "seqlets", "fimo", "marginalize"]

SUMMARY_COLUMNS = [
    "target", "motif", "motif_id", "tf_family", "call", "n_lines", "lines_run", "evidence",
    "denovo_pattern", "denovo_share", "denovo_q", "seqlet_share", "seqlet_q",
    "fimo_enrichment", "fimo_q", "hits", "filter", "filter_influence_rank",
    "marginal_z", "marginal_effect", "example_locus", "planted",
]

CALLS = ["learned", "weak", "not evidenced"]


class MotifGroups:
    """Database motif id -> group (cluster id), group name and TF family.

    Parameters
    ----------
    clusters : pandas.DataFrame
        ``motifs/clusters.tsv`` (id, alt_id, cluster, cluster_name).
    database : pandas.DataFrame, optional
        ``motifs/database.tsv`` (id, tf_family).
    """

    def __init__(self, clusters: pd.DataFrame, database: pd.DataFrame | None = None):
        ids = clusters["id"].astype(str)
        self.group = dict(zip(ids, clusters["cluster"].astype(str)))
        self.name = dict(zip(clusters["cluster"].astype(str),
                             clusters["cluster_name"].astype(str)))
        self.alt = dict(zip(ids, clusters["alt_id"].astype(str)))
        family = {}
        if database is not None and "tf_family" in database:
            family = dict(zip(database["id"].astype(str), database["tf_family"].astype(str)))
        self.family = family

    def of(self, motif_id) -> str | None:
        """Group of a database motif id (None when the id is unknown)."""
        return self.group.get(str(motif_id))


def _best(frame: pd.DataFrame, column: str, largest: bool = True) -> pd.DataFrame:
    """One row per group: the row with the best value of ``column``."""
    if frame.empty:
        return frame.set_index("group")
    order = frame.sort_values(column, ascending=not largest, kind="mergesort")
    return order.drop_duplicates("group").set_index("group")


def denovo_evidence(patterns: pd.DataFrame | None, groups: MotifGroups,
                    max_qvalue: float, min_share: float) -> pd.DataFrame:
    """Per group, the largest positive TF-MoDISco pattern matching it.

    Parameters
    ----------
    patterns : pandas.DataFrame or None
        ``modisco/<target>.patterns.tsv`` (pattern, metacluster, n_seqlets, consensus,
        match_1, q_1, ...).
    groups : MotifGroups
    max_qvalue, min_share : float

    Returns
    -------
    pandas.DataFrame
        Indexed by group: denovo_pattern, denovo_share (of positive-pattern seqlets),
        denovo_q, denovo (bool, the line counts), motif_id (the match).
        Unmatched patterns are groups named ``de novo <pattern> (<consensus>)``.
    """
    columns = ["group", "denovo_pattern", "denovo_share", "denovo_q", "denovo", "motif_id"]
    if patterns is None or patterns.empty:
        return pd.DataFrame(columns=columns).set_index("group")
    positive = patterns[patterns["metacluster"].astype(str).str.startswith("pos")]
    total = max(int(positive["n_seqlets"].sum()), 1)
    rows = []
    for row in positive.itertuples(index=False):
        q = float(getattr(row, "q_1")) if pd.notna(getattr(row, "q_1", np.nan)) else 1.0
        share = int(row.n_seqlets) / total
        group = groups.of(getattr(row, "match_1", "")) if q <= max_qvalue else None
        motif_id = str(row.match_1) if group else ""
        if group is None:
            group = f"de novo {row.pattern} ({row.consensus})"
        rows.append((group, str(row.pattern), share, q,
                     bool(share >= min_share and (q <= max_qvalue or motif_id == "")),
                     motif_id))
    return _best(pd.DataFrame(rows, columns=columns), "denovo_share")


def seqlet_evidence(annotated: pd.DataFrame | None, counts: pd.DataFrame | None,
                    groups: MotifGroups, max_qvalue: float, min_share: float) -> pd.DataFrame:
    """Per group, the share of a target's seqlets annotated with it, against the null.

    Parameters
    ----------
    annotated : pandas.DataFrame or None
        ``seqlets/<target>.annotated.tsv`` (seqlet_idx, rank, motif_id, q-value).
    counts : pandas.DataFrame or None
        ``seqlets/<target>.counts.tsv`` with the shuffled-seqlet null (motifs, q-value); a
        table without the null column gives no seqlet line (nothing to calibrate against).
    groups : MotifGroups
    max_qvalue, min_share : float

    Returns
    -------
    pandas.DataFrame
        Indexed by group: seqlet_share, seqlet_q, seqlets (bool), motif_id.
    """
    columns = ["group", "seqlet_share", "seqlet_q", "seqlets", "motif_id"]
    if annotated is None or annotated.empty:
        return pd.DataFrame(columns=columns).set_index("group")
    best = annotated[annotated["rank"] == 1] if "rank" in annotated else annotated
    n_seqlets = best["seqlet_idx"].nunique() if "seqlet_idx" in best else len(best)
    kept = best[best["q-value"] <= max_qvalue]
    share = kept["motif_id"].astype(str).map(groups.group).value_counts() / max(n_seqlets, 1)
    top_motif = kept.assign(group=kept["motif_id"].astype(str).map(groups.group)) \
        .groupby("group")["motif_id"].agg(lambda m: m.value_counts().index[0])
    null_q: dict[str, float] = {}
    if counts is not None and "q-value" in counts and "motifs" in counts:
        for motifs, q in zip(counts["motifs"].astype(str), counts["q-value"].astype(float)):
            for group in {groups.of(m) for m in motifs.split(";")} - {None}:
                null_q[group] = min(null_q.get(group, 1.0), q)
    rows = [(g, float(s), null_q.get(g, np.nan),
             bool(s >= min_share and null_q.get(g, 1.0) <= max_qvalue), str(top_motif[g]))
            for g, s in share.items()]
    return pd.DataFrame(rows, columns=columns).set_index("group")


def fimo_evidence(counts: pd.DataFrame | None, groups: MotifGroups,
                  max_qvalue: float, min_effect: float) -> pd.DataFrame:
    """Per group, its best motif's FIMO attribution enrichment over the within-locus null.

    Parameters
    ----------
    counts : pandas.DataFrame or None
        ``fimo/<target>.counts.tsv`` with the enrichment columns of
        :func:`motifscope.motifs.enrichment.add_enrichment` (motif_id, enrichment,
        q_conditional). Without them there is no calibrated line.
    groups : MotifGroups
    max_qvalue : float
    min_effect : float
        Fraction of the strongest significant motif's enrichment (mean attribution excess per
        hit) a motif needs: a database motif that resembles part of a learned site is
        enriched, but by a fraction of the site's own motif.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: fimo_enrichment, fimo_q, fimo (bool), motif_id.
    """
    columns = ["group", "fimo_enrichment", "fimo_q", "fimo", "motif_id"]
    if counts is None or counts.empty or "q_conditional" not in counts:
        return pd.DataFrame(columns=columns).set_index("group")
    table = counts.assign(group=counts["motif_id"].astype(str).map(groups.group)).dropna(
        subset=["group"])
    table = table.assign(fimo_enrichment=table["enrichment"].astype(float),
                         fimo_q=table["q_conditional"].astype(float))
    significant = table["fimo_q"] <= max_qvalue
    strongest = table.loc[significant, "fimo_enrichment"].max() if significant.any() else 0.0
    floor = min_effect * strongest if strongest > 0 else np.inf
    table = table.assign(fimo=significant & (table["fimo_enrichment"] >= floor))
    table = table.sort_values(["fimo_q", "fimo_enrichment"], ascending=[True, False],
                              kind="mergesort").drop_duplicates("group")
    return table.set_index("group")[columns[1:]].assign(motif_id=lambda t: t["motif_id"]
                                                        .astype(str))


def marginal_evidence(table: pd.DataFrame | None, groups: MotifGroups, min_z: float,
                      min_effect: float) -> pd.DataFrame:
    """Per group, the motif whose insertion raises the prediction most.

    Parameters
    ----------
    table : pandas.DataFrame or None
        ``marginalize/<target>.tsv`` (motif, delta_mean, z).
    groups : MotifGroups
    min_z, min_effect : float
        The line counts when z >= min_z and delta_mean >= min_effect x the largest
        delta_mean of the target (z alone grows with the number of backgrounds).

    Returns
    -------
    pandas.DataFrame
        Indexed by group: marginal_z, marginal_effect (fraction of the strongest),
        marginalize (bool), motif_id.
    """
    columns = ["group", "marginal_z", "marginal_effect", "marginalize", "motif_id"]
    if table is None or table.empty:
        return pd.DataFrame(columns=columns).set_index("group")
    strongest = float(table["delta_mean"].max())
    scale = strongest if strongest > 0 else np.inf
    out = pd.DataFrame({"group": table["motif"].astype(str).map(groups.group),
                        "marginal_z": table["z"].astype(float),
                        "marginal_effect": table["delta_mean"].astype(float) / scale,
                        "motif_id": table["motif"].astype(str)}).dropna(subset=["group"])
    out["marginalize"] = (out["marginal_z"] >= min_z) & (out["marginal_effect"] >= min_effect)
    out = out.sort_values("marginal_effect", ascending=False, kind="mergesort")
    return out.drop_duplicates("group").set_index("group")[columns[1:]]


def hit_counts(hits: pd.DataFrame | None, patterns: pd.DataFrame | None,
               groups: MotifGroups, max_qvalue: float) -> pd.Series:
    """Per group, the number of called motif instances (``hits/<target>.tsv``) of the de novo
    patterns matching it."""
    if hits is None or hits.empty or patterns is None or patterns.empty:
        return pd.Series(dtype=np.int64)
    matched = patterns[patterns["q_1"].astype(float) <= max_qvalue]
    to_group = {str(p): groups.of(m) for p, m in zip(matched["pattern"], matched["match_1"])}
    return hits["pattern"].astype(str).map(to_group).dropna().value_counts()


def best_filters(matches: pd.DataFrame | None, influence: pd.DataFrame | None, target: str,
                 groups: MotifGroups, max_qvalue: float) -> pd.DataFrame:
    """Per group, its most influential matching first-layer filter for ``target``.

    Parameters
    ----------
    matches : pandas.DataFrame or None
        ``filters/tomtom.tsv`` (query_id = filter, target_id = motif, q-value).
    influence : pandas.DataFrame or None
        ``filters/influence.tsv`` (filter, target, score).

    Returns
    -------
    pandas.DataFrame
        Indexed by group: filter, filter_influence_rank ("3/32": rank of its influence
        score among the target's filters).
    """
    columns = ["group", "filter", "filter_influence_rank"]
    if matches is None or matches.empty or influence is None or influence.empty:
        return pd.DataFrame(columns=columns).set_index("group")
    mine = influence[influence["target"].astype(str) == target]
    rank = mine["score"].rank(ascending=False, method="min").astype(int)
    rank_of = dict(zip(mine["filter"].astype(str), rank))
    good = matches[matches["q-value"].astype(float) <= max_qvalue]
    rows = [(groups.of(m), str(f), rank_of[str(f)])
            for f, m in zip(good["query_id"], good["target_id"])
            if groups.of(m) is not None and str(f) in rank_of]
    table = pd.DataFrame(rows, columns=["group", "filter", "_rank"]).sort_values(
        "_rank", kind="mergesort").drop_duplicates("group")
    table["filter_influence_rank"] = [f"{r}/{len(mine)}" for r in table["_rank"]]
    return table.set_index("group")[columns[1:]]


def call(n_lines: int, lines_run: int, min_lines: int = 2) -> str:
    """The documented rule: learned / weak / not evidenced (see the module docstring)."""
    needed = max(1, min(min_lines, lines_run))
    if n_lines >= needed:
        return "learned"
    return "weak" if n_lines >= 1 else "not evidenced"


def summarize_target(target: str, evidence: dict, groups: MotifGroups,
                     lines_run: list, planted: dict | None = None, hits: pd.Series | None = None,
                     filters: pd.DataFrame | None = None, examples: dict | None = None,
                     min_lines: int = 2) -> pd.DataFrame:
    """Combine the per-line evidence tables of one target into its summary rows.

    Parameters
    ----------
    target : str
    evidence : dict line -> DataFrame
        Outputs of :func:`denovo_evidence`, :func:`seqlet_evidence`, :func:`fimo_evidence`,
        :func:`marginal_evidence`, keyed by the names in ``LINES``.
    groups : MotifGroups
    lines_run : list of str
        The lines whose stage ran for this target (the denominator of the rule).
    planted : dict motif id -> target it drives ("" for a distractor), optional
        The simulation's truth; planted groups always get a row.
    hits : pandas.Series, optional
        :func:`hit_counts`.
    filters : pandas.DataFrame, optional
        :func:`best_filters`.
    examples : dict group -> str, optional
        One example locus per group ("chrom:start-end").
    min_lines : int, default 2

    Returns
    -------
    pandas.DataFrame
        ``SUMMARY_COLUMNS``, learned first, then weak, then not evidenced; within a call by
        the number of lines, then the evidence strengths.
    """
    planted = planted or {}
    planted_groups = {}
    for motif, drives in planted.items():
        group = groups.of(motif)
        if group is not None:
            planted_groups.setdefault(group, set()).add(drives or "distractor")
    candidates = set(planted_groups)
    for line, table in evidence.items():
        if line in lines_run and not table.empty:
            candidates |= set(table.index[table[line].astype(bool)])
    rows = []
    for group in sorted(candidates):
        row = {"target": target, "motif": groups.name.get(group, group)}
        motif_ids = []
        passed = []
        for line in LINES:
            table = evidence.get(line)
            if table is None or table.empty or group not in table.index:
                continue
            found = table.loc[group]
            for column in table.columns:
                if column not in (line, "motif_id"):
                    row[column] = found[column]
            if bool(found[line]) and line in lines_run:
                passed.append(line)
            if found.get("motif_id"):
                motif_ids.append(str(found["motif_id"]))
        motif_id = motif_ids[0] if motif_ids else next(
            (m for m in planted if groups.of(m) == group), "")
        row["motif_id"] = motif_id
        row["tf_family"] = groups.family.get(motif_id, "")
        row["n_lines"] = len(passed)
        row["lines_run"] = len(lines_run)
        row["evidence"] = ",".join(passed)
        row["call"] = call(len(passed), len(lines_run), min_lines)
        row["hits"] = int(hits.get(group, 0)) if hits is not None else np.nan
        if filters is not None and group in filters.index:
            row["filter"] = filters.loc[group, "filter"]
            row["filter_influence_rank"] = filters.loc[group, "filter_influence_rank"]
        row["example_locus"] = (examples or {}).get(group, "")
        drives = planted_groups.get(group)
        row["planted"] = ";".join(sorted(drives)) if drives else ""
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)
    if table.empty:
        return table
    order = table.assign(_call=table["call"].map({c: k for k, c in enumerate(CALLS)}),
                         _share=table[["denovo_share", "seqlet_share"]].max(axis=1).fillna(0),
                         _z=table["marginal_z"].fillna(-np.inf))
    order = order.sort_values(["_call", "n_lines", "_share", "_z", "motif"],
                              ascending=[True, False, False, False, True], kind="mergesort")
    return order[SUMMARY_COLUMNS].reset_index(drop=True)
