"""Rule motif_syntax: co-occurrence of patterns in peaks and spacing of frequent pairs.

Writes ``syntax/<target>.cooccurrence.tsv`` (pairs, observed vs expected peaks,
hypergeometric p-value, BH q-value), ``syntax/<target>.spacing.tsv`` (pair, orientation,
distance between hit centres in bp, count) and their figures.
"""

import logging

import pandas as pd

from _common import run
from motifscope.plot import save_figure
from motifscope.syntax import cooccurrence, plot_cooccurrence, plot_spacing, spacing
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.motif_syntax")


def main(hits: str, counts: str, target: str, top: int, cooc_tsv: str, spacing_tsv: str,
         cooc_png: str, spacing_png: str) -> None:
    table = pd.read_csv(hits, sep="\t", keep_default_na=False, dtype={"chrom": str, "peak": str})
    count_table = pd.read_csv(counts, sep="\t", keep_default_na=False, dtype={"peak": str})
    cooc = cooccurrence(count_table)
    space = spacing(table, top=top)
    log.info("%s: %d pattern pairs, spacing of %d pairs", target, len(cooc),
             space[["pattern_a", "pattern_b"]].drop_duplicates().shape[0])
    with atomic_path(cooc_tsv) as tmp:
        cooc.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(spacing_tsv) as tmp:
        space.to_csv(tmp, sep="\t", index=False)
    patterns = [c for c in count_table.columns if c != "peak"]
    save_figure(plot_cooccurrence(cooc, patterns, f"{target}: co-occurrence in peaks"),
                cooc_png.removesuffix(".png"))
    save_figure(plot_spacing(space, f"{target}: spacing of frequent pairs"),
                spacing_png.removesuffix(".png"))


if "snakemake" in globals():
    run(main, snakemake, hits=snakemake.input.hits, counts=snakemake.input.counts,
        target=snakemake.wildcards.target, top=snakemake.params.top,
        cooc_tsv=snakemake.output.cooccurrence, spacing_tsv=snakemake.output.spacing,
        cooc_png=snakemake.output.cooccurrence_png, spacing_png=snakemake.output.spacing_png)
