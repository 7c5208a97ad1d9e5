"""Rule paper_figures: tangermeme-style figures of the marginalization and seqlet-annotation
tables (top motifs per target); a stage that is off gets a figure saying so."""

import pandas as pd

from _common import run
from motifscope.plot import save_figure
from motifscope.report.figures import (
    marginalization_figure,
    message_figure,
    seqlet_annotation_figure,
)


def main(marginalize: list, counts: list, targets: list, top: int, out: dict) -> None:
    if marginalize:
        tables = {t: pd.read_csv(p, sep="\t", keep_default_na=False, na_values=[""],
                                 dtype={"motif": str, "motif_alt_id": str})
                  for t, p in zip(targets, marginalize)}
        figure = marginalization_figure(tables, top=top)
    else:
        figure = message_figure("marginalization is off (stages.marginalize: false)")
    save_figure(figure, out["marginalization"].removesuffix(".png"))
    if counts:
        tables = {t: pd.read_csv(p, sep="\t", keep_default_na=False, na_values=[""])
                  for t, p in zip(targets, counts)}
        figure = seqlet_annotation_figure(tables, top=top)
    else:
        figure = message_figure("seqlets are off (stages.seqlets: false)")
    save_figure(figure, out["annotation"].removesuffix(".png"))


if "snakemake" in globals():
    run(main, snakemake, marginalize=list(snakemake.input.get("marginalize", [])),
        counts=list(snakemake.input.get("counts", [])), targets=list(snakemake.params.targets),
        top=snakemake.params.top, out=dict(snakemake.output.items()))
