"""Rule fimo_attribution: the FIMO hits of one target with their attribution, and per-motif counts.

Reads ``fimo/scan.tsv.gz`` and adds ``attribution``: the sum of projected attributions
(``attributions/<target>.h5`` ``attr`` times the one-hot sequence) over each hit's span,
read locus block by locus block. Writes ``fimo/<target>.hits.tsv.gz`` and
``fimo/<target>.counts.tsv`` (motif_id, motif_alt_id, n_hits, n_sequences, n_above = hits with
attribution >= ``fimo.attribution_threshold``, mean_attribution).
"""

import logging

import numpy as np
import pandas as pd

from _common import run
from motifscope.io import read_meme, read_onehot, select_motifs
from motifscope.io.attributions import hypothetical_blocks
from motifscope.motifs import fimo_counts, span_attributions
from motifscope.utils import atomic_path, write_tsv_gz

log = logging.getLogger("motifscope.fimo_attribution")
BLOCK = 1000  # loci read at a time


def main(scan: str, onehot: str, attribution_file: str, motif_file: str, settings: dict,
         hits_out: str, counts_out: str) -> None:
    hits = pd.read_csv(scan, sep="\t", dtype={"chrom": str, "motif_id": str,
                                              "motif_alt_id": str}, keep_default_na=False,
                       na_values={"q-value": ["nan", "NaN"]})
    locus = hits["sequence_name"].to_numpy().astype(np.int64)
    attribution = np.zeros(len(hits))
    for lo, hi, block in hypothetical_blocks(attribution_file, BLOCK):
        rows = np.flatnonzero((locus >= lo) & (locus < hi))
        if rows.size:
            attribution[rows] = span_attributions(hits.iloc[rows], block,
                                                  read_onehot(onehot, lo, hi), lo)
    hits["attribution"] = attribution
    motifs = select_motifs(read_meme(motif_file), settings["motifs"], "fimo.motifs")
    counts = fimo_counts(hits, settings["attribution_threshold"], motifs=motifs)
    log.info("%d hits, %d with attribution >= %g", len(hits),
             int((attribution >= settings["attribution_threshold"]).sum()),
             settings["attribution_threshold"])
    write_tsv_gz(hits, hits_out, sep="\t", index=False)  # mtime 0, fixed inner name
    with atomic_path(counts_out) as tmp:
        counts.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, scan=snakemake.input.scan, onehot=snakemake.input.onehot,
        attribution_file=snakemake.input.attributions, motif_file=snakemake.input.motifs,
        settings=snakemake.params.settings, hits_out=snakemake.output.hits,
        counts_out=snakemake.output.counts)
