"""What the TF-MoDISco patterns of one target are: TOMTOM labels, MEME files and the
seqlets on the genome.

A pattern is trimmed, for TOMTOM and the MEME files, to the positions from the first to the
last whose total |CWM| is at least ``trim_threshold`` times the largest (modisco report's
trim), so the long flanks modisco adds do not dilute the match.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from motifscope.io.loci import window_offsets
from motifscope.io.meme import MotifInfo, write_meme
from motifscope.io.modisco import Pattern
from motifscope.motifs import tomtom
from motifscope.motifs._motif_list import consensus

TOP_MATCHES = 3
SEQLET_BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand"]


def trim_span(cwm: np.ndarray, threshold: float = 0.3) -> tuple[int, int]:
    """[start, end) from the first to the last position of a (4, w) CWM whose total
    |value| is >= ``threshold`` times the largest."""
    score = np.abs(cwm).sum(axis=0)
    on = np.flatnonzero(score >= score.max() * threshold) if score.max() > 0 else [0, -1]
    return int(on[0]), int(on[-1]) + 1


def trimmed(pattern: Pattern, threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """(PPM, CWM) of a pattern cut to its :func:`trim_span`, each (4, w')."""
    start, end = trim_span(pattern.cwm, threshold)
    return pattern.ppm[:, start:end], pattern.cwm[:, start:end]


def pattern_table(patterns: list[Pattern], database, families: pd.DataFrame | None = None,
                  trim_threshold: float = 0.3, device: str = "cpu",
                  min_overlap: int = 5) -> pd.DataFrame:
    """One row per pattern with its top TOMTOM matches in the database.

    Parameters
    ----------
    patterns : list of Pattern
        From :func:`motifscope.io.modisco.read_modisco`.
    database : MotifSet
        The run's motif database (``motifs/database.meme``).
    families : pandas.DataFrame, optional
        ``motifs/database.tsv`` (id, tf_family): the family column of each match.
    trim_threshold : float, default 0.3
    device : str, default "cpu"
    min_overlap : int, default 5
        As modisco report runs MEME Tomtom (``-dist pearson -min-overlap 5``).

    Returns
    -------
    pandas.DataFrame
        pattern, metacluster ("pos"/"neg"), n_seqlets, width (trimmed), consensus (of the
        trimmed PPM), then for k = 1..3: match_k (database id), match_k_alt (its name),
        q_k, p_k, family_k; empty match columns when nothing matched.
    """
    match_cols = [c for k in range(1, TOP_MATCHES + 1) for c in
                  (f"match_{k}", f"match_{k}_alt", f"q_{k}", f"p_{k}", f"family_{k}")]
    columns = ["pattern", "metacluster", "n_seqlets", "width", "consensus"] + match_cols
    if not patterns:
        return pd.DataFrame(columns=columns)
    queries = {p.name: trimmed(p, trim_threshold)[0] for p in patterns}
    hits = tomtom(queries, database, distance="pearson", min_overlap=min_overlap,
                  device=device) if len(database) else pd.DataFrame(
        columns=["query_id", "target_id", "p-value", "q-value"])
    family = {}
    if families is not None and "tf_family" in families:
        family = dict(zip(families["id"].astype(str), families["tf_family"].astype(str)))
    ranked = hits.sort_values(["query_id", "p-value", "target_id"], kind="mergesort")
    top = {q: g.head(TOP_MATCHES) for q, g in ranked.groupby("query_id", sort=False)}
    rows = []
    for p in patterns:
        row = {"pattern": p.name, "metacluster": p.group.split("_")[0],
               "n_seqlets": p.n_seqlets, "width": queries[p.name].shape[1],
               "consensus": consensus(queries[p.name])}
        best = top.get(p.name, pd.DataFrame())
        for k in range(1, TOP_MATCHES + 1):
            if k <= len(best):
                m = best.iloc[k - 1]
                target = str(m["target_id"])
                row |= {f"match_{k}": target, f"match_{k}_alt": database.alt_id(target),
                        f"q_{k}": float(m["q-value"]), f"p_{k}": float(m["p-value"]),
                        f"family_{k}": family.get(target, "")}
            else:
                row |= {f"match_{k}": "", f"match_{k}_alt": "", f"q_{k}": np.nan,
                        f"p_{k}": np.nan, f"family_{k}": ""}
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def write_pattern_memes(patterns: list[Pattern], pwm_path: str | os.PathLike,
                        cwm_path: str | os.PathLike, trim_threshold: float = 0.3) -> None:
    """Write the trimmed PPMs (``<target>.patterns.meme``, for MEME tools) and, separately,
    the trimmed CWMs (``<target>.patterns.cwm.meme``, signed weights as ``modisco meme -t
    CWM`` writes them, for Fi-NeMo); nsites is the seqlet count."""
    ppms, cwms, info = {}, {}, {}
    for p in patterns:
        ppm, cwm = trimmed(p, trim_threshold)
        ppms[p.name], cwms[p.name] = ppm, cwm
        info[p.name] = MotifInfo(id=p.name, alt_id=consensus(ppm), nsites=p.n_seqlets)
    write_meme(ppms, pwm_path, info=info)
    write_meme(cwms, cwm_path, info=info, weights=True)


def seqlets_on_genome(patterns: list[Pattern], loci: pd.DataFrame, window_offset: int
                      ) -> pd.DataFrame:
    """Every pattern's seqlets as BED6 rows (0-based, half-open), sorted by position.

    ``name`` is the pattern, ``score`` its rank by seqlet count within the target's
    patterns (0 = largest, capped at 1000), ``strand`` "-" for a reverse-complemented
    seqlet. ``window_offset`` is where the cropped window starts within each locus.
    """
    frames = []
    for rank, p in enumerate(sorted(patterns, key=lambda q: -q.n_seqlets)):
        if not p.n_seqlets:
            continue
        chrom, start = window_offsets(loci, p.seqlets["example_idx"].to_numpy())
        base = start + window_offset
        frames.append(pd.DataFrame({
            "chrom": chrom, "start": base + p.seqlets["start"].to_numpy(),
            "end": base + p.seqlets["end"].to_numpy(), "name": p.name,
            "score": min(rank, 1000),
            "strand": np.where(p.seqlets["is_revcomp"].to_numpy(), "-", "+")}))
    if not frames:
        return pd.DataFrame(columns=SEQLET_BED_COLUMNS)
    bed = pd.concat(frames, ignore_index=True)
    bed["start"] = bed["start"].clip(lower=0)
    return bed.sort_values(["chrom", "start", "end", "name"], kind="mergesort"
                           ).reset_index(drop=True)[SEQLET_BED_COLUMNS]
