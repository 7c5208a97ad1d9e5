"""Rule modisco_shared: the TF-MoDISco patterns of all targets clustered into motifs.

Writes ``modisco/shared.tsv`` (cluster, target, pattern, metacluster, n_seqlets, share,
label, similarity_to_lead) and ``modisco/shared.png`` (motifs x targets heat map).
"""

import logging

import pandas as pd

from _common import run
from motifscope.denovo import shared_matrix, shared_patterns
from motifscope.denovo.plots import plot_shared
from motifscope.io.modisco import read_modisco
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.modisco_shared")


def main(h5: list, tables: list, targets: list, settings: dict, tsv: str, png: str) -> None:
    patterns, labels = {}, {}
    for target, path, table_path in zip(targets, h5, tables):
        patterns[target] = read_modisco(path)[0]
        table = pd.read_csv(table_path, sep="\t", dtype=str, keep_default_na=False)
        for row in table.itertuples(index=False):
            labels[(target, row.pattern)] = row.match_1_alt or row.match_1
    shared = shared_patterns(patterns, labels, settings["shared_similarity"],
                             settings["trim_threshold"])
    in_many = shared.groupby("cluster")["target"].nunique()
    log.info("%d patterns in %d motifs; %d motifs in more than one target", len(shared),
             len(in_many), int((in_many > 1).sum()))
    with atomic_path(tsv) as tmp:
        shared.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    plot_shared(shared_matrix(shared, targets), png)


if "snakemake" in globals():
    run(main, snakemake, h5=list(snakemake.input.h5), tables=list(snakemake.input.tables),
        targets=snakemake.params.targets, settings=snakemake.params.settings,
        tsv=snakemake.output.tsv, png=snakemake.output.png)
