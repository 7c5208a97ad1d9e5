"""Rule fimo: scan every locus with the motif database (MEME FIMO scores, p-values).

Writes ``fimo/scan.tsv.gz``: the FIMO columns (motif_id, motif_alt_id, sequence_name = the
locus index, start, end within the window, strand, score, p-value, q-value,
matched_sequence) plus the hit on the genome (chrom, genome_start, genome_end). All
coordinates are 0-based, half-open.
"""

import logging

from _common import run
from motifscope.io import read_loci, read_meme, read_onehot, select_motifs, window_offsets
from motifscope.motifs import fimo
from motifscope.utils import write_tsv_gz

log = logging.getLogger("motifscope.fimo")


def main(onehot: str, loci_file: str, motif_file: str, settings: dict, device: str,
         out: str) -> None:
    X = read_onehot(onehot)
    loci = read_loci(loci_file)
    motifs = select_motifs(read_meme(motif_file), settings["motifs"], "fimo.motifs")
    background = None if settings["background"] == "uniform" else "file"
    log.info("FIMO: %d loci of %d bp x %d motifs, p < %g", len(X), X.shape[-1], len(motifs),
             settings["threshold"])
    hits = fimo(motifs, X, threshold=settings["threshold"], background=background,
                pseudocount=settings["pseudocount"], batch_size=settings["batch_size"],
                device=device)
    hits["chrom"], window_start = window_offsets(loci, hits["sequence_name"].to_numpy().astype(int))
    hits["genome_start"] = window_start + hits["start"].to_numpy()
    hits["genome_end"] = window_start + hits["end"].to_numpy()
    log.info("%d hits", len(hits))
    write_tsv_gz(hits, out, sep="\t", index=False)  # mtime 0, fixed inner name


if "snakemake" in globals():
    run(main, snakemake, onehot=snakemake.input.onehot, loci_file=snakemake.input.loci,
        motif_file=snakemake.input.motifs, settings=snakemake.params.settings,
        device=snakemake.params.device, out=snakemake.output[0])
