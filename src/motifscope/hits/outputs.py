"""Hits in genome coordinates: the hits table, BED9, bigBed and per-peak counts.

Coordinates are 0-based half-open (BED). A hit spans the *trimmed* CWM: ``start`` =
window start + offset of the CWM + start of its trimmed span (Fi-NeMo's ``start``).
"""

from __future__ import annotations

import colorsys
import os

import numpy as np
import pandas as pd

from ..errors import InputError
from ..tracks import write_bbi
from .motifs import CWMSet

HITS_COLUMNS = ["chrom", "start", "end", "strand", "pattern", "label", "family",
                "coefficient", "similarity", "attribution", "peak", "window_offset"]

BED9_AUTOSQL = """table hits
"Motif instances called by motifscope (sparse non-negative CWM fit)"
(
    string chrom;      "Reference sequence chromosome or scaffold"
    uint   chromStart; "Start position in chromosome"
    uint   chromEnd;   "End position in chromosome"
    string name;       "Motif label (TOMTOM match) or pattern"
    uint   score;      "1000 x similarity to the CWM"
    char[1] strand;    "+ or -"
    uint   thickStart; "Start of the hit"
    uint   thickEnd;   "End of the hit"
    uint   reserved;   "Colour of the pattern (R,G,B)"
)
"""


def pattern_labels(patterns: pd.DataFrame | None, names: list) -> pd.DataFrame:
    """Label and family per pattern from modisco's ``patterns.tsv`` (columns ``pattern``,
    ``match_1``, ``match_1_alt``, ``family_1``); without a match the label is the pattern.

    Returns a DataFrame indexed by pattern with columns ``label`` and ``family``.
    """
    out = pd.DataFrame({"label": list(names), "family": [""] * len(names)}, index=list(names))
    if patterns is None or "pattern" not in patterns:
        return out
    table = patterns.set_index("pattern")
    for name in names:
        if name not in table.index:
            continue
        row = table.loc[name]
        for col in ("match_1_alt", "match_1"):
            value = row.get(col, "")
            if isinstance(value, str) and value.strip():
                out.loc[name, "label"] = value.strip()
                break
        family = row.get("family_1", "")
        if isinstance(family, str):
            out.loc[name, "family"] = family.strip()
    return out


def hits_to_genome(hits: pd.DataFrame, cwms: CWMSet, loci: pd.DataFrame,
                   labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Place hits from :func:`fit_hits` on the genome.

    Parameters
    ----------
    hits : DataFrame from ``fit_hits`` (example_idx, motif_idx, position, ...).
    cwms : the CWMSet the hits were fitted with.
    loci : ``loci/loci.tsv`` (row ``i`` is window ``i``: chrom, start, name).
    labels : from :func:`pattern_labels` (default: label = pattern, no family).

    Returns
    -------
    DataFrame with :data:`HITS_COLUMNS`, one row per hit per window (a site in two
    overlapping windows appears once per window), sorted by chrom, start, end, pattern.
    """
    bounds = cwms.trim_bounds()
    rows = hits["motif_idx"].to_numpy()
    ex = hits["example_idx"].to_numpy()
    if len(ex) and ex.max() >= len(loci):
        raise InputError(f"hits refer to window {ex.max()} but loci.tsv has {len(loci)} rows; "
                         "rerun extract_loci and the attribution stage together")
    names = np.asarray(cwms.names, dtype=object)
    pattern = names[cwms.pattern_of_row[rows]] if len(rows) else np.array([], dtype=object)
    labels = labels if labels is not None else pattern_labels(None, cwms.names)
    offset = hits["position"].to_numpy() + bounds[rows, 0]
    start = loci["start"].to_numpy()[ex] + offset
    table = pd.DataFrame({
        "chrom": loci["chrom"].to_numpy()[ex],
        "start": start.astype(np.int64),
        "end": (start + bounds[rows, 1] - bounds[rows, 0]).astype(np.int64),
        "strand": cwms.strands[rows],
        "pattern": pattern,
        "label": labels["label"].reindex(pattern).to_numpy(),
        "family": labels["family"].reindex(pattern).to_numpy(),
        "coefficient": hits["coefficient"].to_numpy(),
        "similarity": hits["similarity"].to_numpy(),
        "attribution": hits["attribution"].to_numpy(),
        "peak": loci["name"].to_numpy()[ex],
        "window_offset": offset.astype(np.int64),
    }, columns=HITS_COLUMNS)
    table["example_idx"] = ex
    table = table.sort_values(["chrom", "start", "end", "pattern", "strand", "example_idx"],
                              kind="stable", ignore_index=True)
    return table.drop(columns="example_idx")


def pattern_colours(names: list) -> dict:
    """An ``R,G,B`` string per pattern: evenly spaced hues, fixed order (stable colours)."""
    n = max(1, len(names))
    out = {}
    for i, name in enumerate(names):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.75, 0.85)
        out[name] = f"{int(r * 255)},{int(g * 255)},{int(b * 255)}"
    return out if n else {}


def hits_to_bed9(table: pd.DataFrame, patterns: list) -> pd.DataFrame:
    """BED9 of a hits table: one line per site (a site found in overlapping windows is kept
    once, with its highest coefficient); name = label, score = 1000 x similarity (0..1000),
    itemRgb = the pattern's colour (:func:`pattern_colours`). Sorted by chrom and start."""
    colours = pattern_colours(patterns)
    sites = (table.sort_values("coefficient", ascending=False, kind="stable")
             .drop_duplicates(["chrom", "start", "end", "strand", "pattern"])
             .sort_values(["chrom", "start", "end", "pattern", "strand"], kind="stable"))
    score = np.clip(np.round(1000 * sites["similarity"].to_numpy()), 0, 1000).astype(int)
    return pd.DataFrame({
        "chrom": sites["chrom"], "start": sites["start"], "end": sites["end"],
        "name": sites["label"].str.replace(r"\s+", "_", regex=True), "score": score,
        "strand": sites["strand"], "thickStart": sites["start"], "thickEnd": sites["end"],
        "itemRgb": sites["pattern"].map(colours),
    }).reset_index(drop=True)


def write_bigbed(bed: pd.DataFrame, chrom_sizes: dict, path: str | os.PathLike) -> None:
    """Write a BED9 table as bigBed with pybigtools (autoSql :data:`BED9_AUTOSQL`),
    atomically; ``path`` ends in ``.bb``.

    ``chrom_sizes`` maps every chrom of ``bed`` to its length. Records go in the order of
    ``chrom_sizes`` then start (bigBed needs them sorted).
    """
    missing = sorted(set(bed["chrom"]) - set(chrom_sizes))
    if missing:
        raise InputError(f"hits on {missing[0]}, which the genome FASTA does not have; "
                         "use the FASTA the loci were extracted from")
    order = {c: i for i, c in enumerate(chrom_sizes)}
    bed = bed.assign(_o=bed["chrom"].map(order)).sort_values(["_o", "start", "end"],
                                                             kind="stable")
    rest = bed[["name", "score", "strand", "thickStart", "thickEnd", "itemRgb"]].astype(str)
    rest = rest.agg("\t".join, axis=1) if len(bed) else pd.Series([], dtype=str)
    records = list(zip(bed["chrom"], bed["start"].astype(int), bed["end"].astype(int), rest))
    write_bbi(path, chrom_sizes, iter(records), autosql=BED9_AUTOSQL)


def hit_counts(hits: pd.DataFrame, cwms: CWMSet, loci: pd.DataFrame) -> pd.DataFrame:
    """Peak x pattern matrix of hit counts (both strands) from :func:`fit_hits` output: one
    row per locus (column ``peak``, the locus name, in loci order), one column per pattern."""
    counts = np.zeros((len(loci), len(cwms.names)), dtype=np.int64)
    np.add.at(counts, (hits["example_idx"].to_numpy(),
                       cwms.pattern_of_row[hits["motif_idx"].to_numpy()]), 1)
    out = pd.DataFrame(counts, columns=list(cwms.names))
    out.insert(0, "peak", loci["name"].to_numpy())
    return out
