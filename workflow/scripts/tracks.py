"""Rule tracks: genome tracks of one target.

Writes ``tracks/<target>.bw`` (projected attribution, base resolution; overlapping windows:
each base from the window whose centre is nearest, see ``motifscope.tracks``) and, when
``tracks.prediction`` is on, ``tracks/<target>.prediction.bw`` and ``.bedGraph``.
"""

import logging

import pandas as pd

from _common import run
from motifscope.io import read_loci
from motifscope.tracks import (chrom_sizes_of, write_attribution_bigwig,
                               write_prediction_tracks)

log = logging.getLogger("motifscope.tracks")


def main(attributions: str, onehot: str, loci: str, genome: str, predictions: str | None,
         target: str, bigwig: str, prediction_bw: str | None,
         prediction_bedgraph: str | None) -> None:
    loci_table = read_loci(loci)
    sizes = chrom_sizes_of(genome)
    cells = write_attribution_bigwig(attributions, onehot, loci_table, sizes, bigwig)
    log.info("%s: attribution of %d windows over %d bp", target, len(cells),
             int((cells["end"] - cells["start"]).sum()))
    if prediction_bw:
        values = pd.read_csv(predictions, sep="\t")[target].to_numpy()
        write_prediction_tracks(values, loci_table, sizes, prediction_bw, prediction_bedgraph,
                                f"{target} prediction")


if "snakemake" in globals():
    run(main, snakemake, attributions=snakemake.input.attributions,
        onehot=snakemake.input.onehot, loci=snakemake.input.loci,
        genome=snakemake.input.genome, predictions=snakemake.input.get("predictions"),
        target=snakemake.wildcards.target, bigwig=snakemake.output.bigwig,
        prediction_bw=snakemake.output.get("prediction_bw"),
        prediction_bedgraph=snakemake.output.get("prediction_bedgraph"))
