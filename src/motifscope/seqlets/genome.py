"""Seqlets placed on the genome (window offsets from ``loci/loci.tsv``) and as BED rows.
Coordinates are 0-based half-open.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.io.loci import window_offsets


GENOME_COLUMNS = ["chrom", "start", "end", "example_idx", "attribution", "p-value",
                  "window_start", "window_end"]


def to_genome_coordinates(seqlets: pd.DataFrame, loci: pd.DataFrame) -> pd.DataFrame:
    """Place seqlets on the genome.

    Parameters
    ----------
    seqlets : pandas.DataFrame
        Columns example_idx, start, end (within the window), attribution and p-value (NaN
        is fine), as returned by the callers.
    loci : pandas.DataFrame
        ``loci/loci.tsv``: one row per example with its window's chrom and start (0-based);
        example ``i`` is the row whose ``idx`` is i (or row i when there is no idx column).

    Returns
    -------
    pandas.DataFrame
        Columns chrom, start, end (genome, 0-based half-open), example_idx, attribution,
        p-value, window_start, window_end (the coordinates within the window), in the order
        of ``seqlets``. Windows padded past a contig's start can give negative starts.
    """
    example = seqlets["example_idx"].to_numpy()
    chrom, offset = window_offsets(loci, example)
    return pd.DataFrame({
        "chrom": chrom,
        "start": offset + seqlets["start"].to_numpy(),
        "end": offset + seqlets["end"].to_numpy(),
        "example_idx": example,
        "attribution": seqlets["attribution"].to_numpy(),
        "p-value": seqlets["p-value"].to_numpy() if "p-value" in seqlets else np.nan,
        "window_start": seqlets["start"].to_numpy(),
        "window_end": seqlets["end"].to_numpy(),
    })


def seqlets_to_bed(table: pd.DataFrame) -> pd.DataFrame:
    """BED6 rows (chrom, start, end, name, score, strand) for a genome seqlet table.

    Starts below 0 (windows padded past a contig's start) are clipped to 0 and seqlets left
    empty are dropped. name is ``<example_idx>:<window_start>-<window_end>``; score is the
    Phred-scaled p-value ``min(1000, round(-10 log10 p))`` (0 without a p-value); strand
    is "." (attributions have a sign, not a strand). Rows are sorted by position.
    """
    start = table["start"].clip(lower=0)
    keep = table["end"] > start
    t = table[keep]
    p = t["p-value"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(np.isfinite(p) & (p > 0), np.round(-10 * np.log10(p)), 0)
    score = np.where(np.isfinite(p) & (p <= 0), 1000, score)
    bed = pd.DataFrame({
        "chrom": t["chrom"].to_numpy(),
        "start": start[keep].to_numpy(),
        "end": t["end"].to_numpy(),
        "name": [f"{e}:{s}-{x}" for e, s, x in zip(t["example_idx"], t["window_start"],
                                                   t["window_end"])],
        "score": np.clip(score, 0, 1000).astype(np.int64),
        "strand": ".",
    })
    return bed.sort_values(["chrom", "start", "end"], kind="stable").reset_index(drop=True)
