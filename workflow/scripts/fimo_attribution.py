"""Rule fimo_attribution: the FIMO hits of one target with their attribution, and per-motif counts.

Reads ``fimo/scan.tsv.gz`` and adds ``attribution``: the sum of projected attributions
(``attributions/<target>.h5`` ``attr`` times the one-hot sequence) over each hit's span,
read locus block by locus block. Writes ``fimo/<target>.hits.tsv.gz`` and
``fimo/<target>.counts.tsv`` (motif_id, motif_alt_id, n_hits, n_sequences, n_above = hits with
attribution >= ``fimo.attribution_threshold``, mean_attribution).

Every hit is also compared with the same-width spans of its own locus
(:mod:`motifscope.motifs.enrichment`): the hits table gains ``null_mean`` and ``null_p``
(the hit's empirical p-value), the counts gain the per-motif enrichment columns (z, p-value,
q-value, and the same after explaining away stronger motifs), ranked by ``q_conditional``.
With ``fimo.attribution_threshold: null`` (the default) ``n_above`` counts hits with
``null_p <= fimo.null_alpha``.
"""

import logging

import numpy as np
import pandas as pd

from _common import run
from motifscope.io import read_loci, read_meme, read_onehot, select_motifs
from motifscope.io.attributions import hypothetical_blocks
from motifscope.io.loci import on_target_windows
from motifscope.motifs import fimo_counts, span_attributions
from motifscope.motifs.enrichment import add_enrichment, attribution_enrichment, \
    hit_null_pvalues
from motifscope.utils import atomic_path, write_tsv_gz

log = logging.getLogger("motifscope.fimo_attribution")
BLOCK = 1000  # loci read at a time


def threshold_label(settings: dict) -> str:
    fixed = settings["attribution_threshold"]
    return f"null_p <= {settings['null_alpha']}" if fixed is None else f">= {fixed}"


def threshold_counts(hits: pd.DataFrame, motifs, settings: dict):
    """Per-motif counts with n_above from the fixed threshold, or from the null by default;
    and the per-hit mask of hits above it."""
    fixed = settings["attribution_threshold"]
    if fixed is not None:
        return fimo_counts(hits, fixed, motifs=motifs), hits["attribution"] >= fixed
    counts = fimo_counts(hits, -np.inf, motifs=motifs)
    above = hits["null_p"] <= settings["null_alpha"]
    counts["n_above"] = counts["motif_id"].map(
        above.groupby(hits["motif_id"]).sum()).fillna(0).astype(np.int64)
    return counts, above


def main(scan: str, onehot: str, attribution_file: str, motif_file: str, settings: dict,
         hits_out: str, counts_out: str, loci_file: str | None = None) -> None:
    hits = pd.read_csv(scan, sep="\t", dtype={"chrom": str, "motif_id": str,
                                              "motif_alt_id": str}, keep_default_na=False,
                       na_values={"q-value": ["nan", "NaN"]})
    hits = on_target_windows(hits, read_loci(loci_file) if loci_file else None,
                             column="sequence_name")
    locus = hits["sequence_name"].to_numpy().astype(np.int64)
    attribution = np.zeros(len(hits))
    null_mean, null_p, null_n = (np.full(len(hits), np.nan) for _ in range(3))
    for lo, hi, block in hypothetical_blocks(attribution_file, BLOCK):
        rows = np.flatnonzero((locus >= lo) & (locus < hi))
        if rows.size:
            X = read_onehot(onehot, lo, hi)
            attribution[rows] = span_attributions(hits.iloc[rows], block, X, lo)
            null = hit_null_pvalues(hits.iloc[rows], (block.astype(np.float64) * X).sum(1), lo)
            null_mean[rows], null_p[rows] = null["null_mean"], null["null_p"]
            null_n[rows] = null["null_n"]
    hits["attribution"] = attribution
    hits["null_mean"], hits["null_p"] = null_mean, null_p
    motifs = select_motifs(read_meme(motif_file), settings["motifs"], "fimo.motifs")
    counts, above = threshold_counts(hits, motifs, settings)
    enrichment = attribution_enrichment(hits.assign(null_n=null_n),
                                        alpha=settings["null_alpha"],
                                        attribution_threshold=settings["attribution_threshold"])
    counts = add_enrichment(counts, enrichment)
    log.info("%d hits, %d above the attribution threshold (%s); %d motifs enriched at "
             "q_conditional <= %g", len(hits), int(above.sum()), threshold_label(settings),
             int((counts["q_conditional"] <= settings["null_alpha"]).sum()),
             settings["null_alpha"])
    write_tsv_gz(hits, hits_out, sep="\t", index=False)  # mtime 0, fixed inner name
    with atomic_path(counts_out) as tmp:
        counts.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, scan=snakemake.input.scan, onehot=snakemake.input.onehot,
        attribution_file=snakemake.input.attributions, motif_file=snakemake.input.motifs,
        settings=snakemake.params.settings, hits_out=snakemake.output.hits,
        counts_out=snakemake.output.counts, loci_file=snakemake.input.loci)
