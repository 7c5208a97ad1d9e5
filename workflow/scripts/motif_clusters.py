"""Rule motif_clusters: groups of near-identical database motifs (TOMTOM, complete linkage).

Writes ``motifs/clusters.tsv`` with columns id, alt_id, cluster, cluster_size, cluster_name.
"""

import logging

from _common import run
from motifscope.io import read_meme
from motifscope.motifs import cluster_motifs
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.motif_clusters")


def main(motif_file: str, threshold: float, min_overlap: int, device: str, out: str) -> None:
    motifs = read_meme(motif_file)
    clusters = cluster_motifs(motifs, threshold=threshold, min_overlap=min_overlap,
                              device=device)
    log.info("%d motifs in %d clusters (complete linkage, p <= %g)", len(clusters),
             clusters["cluster"].nunique(), threshold)
    with atomic_path(out) as tmp:
        clusters.to_csv(tmp, sep="\t", index=False)


if "snakemake" in globals():
    run(main, snakemake, motif_file=snakemake.input[0],
        threshold=snakemake.params.threshold, min_overlap=snakemake.params.min_overlap,
        device=snakemake.params.device, out=snakemake.output[0])
