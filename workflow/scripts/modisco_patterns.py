"""Rule modisco: TF-MoDISco patterns of one target (modisco-lite 3.0), TOMTOM-labelled.

Writes ``modisco/<target>.h5`` (modisco-lite's layout), ``.patterns.tsv`` (pattern,
metacluster, n_seqlets, width, consensus, match/q/p/family of the top 3 TOMTOM matches),
``.patterns.meme`` (trimmed PWMs), ``.patterns.cwm.meme`` (trimmed CWMs),
``.seqlets.bed`` (BED6, pattern in the name column) and ``.patterns.png``.
"""

import logging

import pandas as pd

from _common import run
from motifscope.denovo import (ModiscoSettings, discover_patterns, pattern_table,
                               seqlets_on_genome, write_pattern_memes)
from motifscope.denovo.plots import plot_patterns
from motifscope.io import read_loci, read_meme
from motifscope.io.attributions import check_attribution_files, open_h5
from motifscope.io.modisco import read_modisco, write_modisco
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.modisco")


def main(attributions: str, onehot: str, loci: str, database: str, families: str,
         target: str, settings: dict, out: dict) -> None:
    config = ModiscoSettings.from_config(settings)
    n, length = check_attribution_files(attributions, onehot)
    log.info("%s: TF-MoDISco on %d windows (%d bp around the centre of %d bp)", target, n,
             config.window, length)
    with open_h5(attributions, "attr", "") as fa, open_h5(onehot, "X", "") as fx:
        result = discover_patterns(fx["X"], fa["attr"], config)
    write_modisco(out["h5"], result["pos_patterns"], result["neg_patterns"], result["window"],
                  result["window_offset"])
    # read back what was written, so every output describes the file users get
    patterns, attrs = read_modisco(out["h5"])
    if not patterns:
        log.warning("%s: no pattern (too few seqlets passed the FDR %g, or none formed a "
                    "pattern of %d seqlets): the outputs are empty", target, config.target_fdr,
                    config.min_seqlets)
    motifs = read_meme(database)
    table = pattern_table(patterns, motifs, pd.read_csv(families, sep="\t", dtype=str,
                                                        keep_default_na=False),
                          trim_threshold=config.trim_threshold)
    for row in table.itertuples(index=False):
        log.info("%s %s: %d seqlets, %s, best match %s %s (q = %.3g)", target, row.pattern,
                 row.n_seqlets, row.consensus, row.match_1 or "-", row.match_1_alt,
                 row.q_1)
    with atomic_path(out["table"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    write_pattern_memes(patterns, out["meme"], out["cwm_meme"], config.trim_threshold)
    bed = seqlets_on_genome(patterns, read_loci(loci), attrs["window_offset"])
    with atomic_path(out["bed"]) as tmp:
        bed.to_csv(tmp, sep="\t", index=False, header=False)
    plot_patterns(patterns, table, motifs, config.window, out["png"], config.trim_threshold)


if "snakemake" in globals():
    run(main, snakemake, attributions=snakemake.input.attributions,
        onehot=snakemake.input.onehot, loci=snakemake.input.loci,
        database=snakemake.input.database, families=snakemake.input.families,
        target=snakemake.wildcards.target, settings=snakemake.params.settings,
        out=dict(snakemake.output))
