"""Rule fimo: the FIMO hits of one target with their attribution, and per-motif counts.

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

import h5py
import numpy as np
import pandas as pd

from _common import run
from motifscope.io import read_meme, read_onehot
from motifscope.motifs import fimo_counts, span_attributions
from motifscope.motifs.enrichment import add_enrichment, attribution_enrichment, \
    hit_null_pvalues
from motifscope.utils import atomic_path

from fimo_scan import select_motifs

log = logging.getLogger("motifscope.fimo")
BLOCK = 1000  # loci read at a time


def main(scan: str, onehot: str, attribution_file: str, motif_file: str, settings: dict,
         hits_out: str, counts_out: str) -> None:
    hits = pd.read_csv(scan, sep="\t", dtype={"chrom": str, "motif_id": str,
                                              "motif_alt_id": str}, keep_default_na=False,
                       na_values={"q-value": ["nan", "NaN"]})
    locus = hits["sequence_name"].to_numpy().astype(np.int64)
    attribution = np.zeros(len(hits))
    null_mean, null_p, null_n = (np.full(len(hits), np.nan) for _ in range(3))
    with h5py.File(attribution_file, "r") as h5:
        n_loci = h5["attr"].shape[0]
        for lo in range(0, n_loci, BLOCK):
            hi = min(n_loci, lo + BLOCK)
            rows = np.flatnonzero((locus >= lo) & (locus < hi))
            if rows.size:
                attr, X = h5["attr"][lo:hi], read_onehot(onehot, lo, hi)
                attribution[rows] = span_attributions(hits.iloc[rows], attr, X, lo)
                track = (attr.astype(np.float64) * X).sum(1)
                null = hit_null_pvalues(hits.iloc[rows], track, lo)
                null_mean[rows], null_p[rows] = null["null_mean"], null["null_p"]
                null_n[rows] = null["null_n"]
    hits["attribution"] = attribution
    hits["null_mean"], hits["null_p"] = null_mean, null_p
    motifs = select_motifs(read_meme(motif_file), settings["motifs"])
    fixed, alpha = settings["attribution_threshold"], settings["null_alpha"]
    if fixed is None:
        counts = fimo_counts(hits, -np.inf, motifs=motifs)
        above = hits["null_p"] <= alpha
        counts["n_above"] = counts["motif_id"].map(
            above.groupby(hits["motif_id"]).sum()).fillna(0).astype(np.int64)
    else:
        counts = fimo_counts(hits, fixed, motifs=motifs)
        above = hits["attribution"] >= fixed
    enrichment = attribution_enrichment(hits.assign(null_n=null_n), alpha=alpha,
                                        attribution_threshold=fixed)
    counts = add_enrichment(counts, enrichment)
    log.info("%d hits, %d above the attribution threshold (%s); %d motifs enriched at "
             "q_conditional <= %g", len(hits), int(above.sum()),
             f"null_p <= {alpha}" if fixed is None else f">= {fixed}",
             int((counts["q_conditional"] <= alpha).sum()), alpha)
    with atomic_path(hits_out) as tmp:
        hits.to_csv(tmp, sep="\t", index=False, compression="gzip")
    with atomic_path(counts_out) as tmp:
        counts.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, scan=snakemake.input.scan, onehot=snakemake.input.onehot,
        attribution_file=snakemake.input.attributions, motif_file=snakemake.input.motifs,
        settings=snakemake.params.settings, hits_out=snakemake.output.hits,
        counts_out=snakemake.output.counts)
