"""Rule filter_table: one row per filter, and the clustered influence heat map."""

import logging
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from _common import run
from motifscope.filters import filter_table, plot_influence_heatmap
from motifscope.plot import save_figure, style
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.filter_table")


def main(pwms: str, matches: str, influence: str | None, settings: dict, table_out: str,
         heatmap_png: str) -> None:
    per_filter = pd.read_csv(pwms, sep="\t", keep_default_na=False, na_values=[""])
    best = pd.read_csv(matches, sep="\t", keep_default_na=False, na_values=[""])
    value = settings["influence"]["value"]
    effects = pd.read_csv(influence, sep="\t", dtype={"target": str}) if influence else None
    table = filter_table(per_filter, best, effects, influence_value=value)
    with atomic_path(table_out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    stem = Path(heatmap_png).with_suffix("")
    if effects is None:
        with style():
            fig, ax = plt.subplots(figsize=(3, 1))
            ax.axis("off")
            ax.text(0.5, 0.5, "filter influence is off\n(filters.influence.enabled: false)",
                    ha="center", va="center")
            save_figure(fig, stem)
        return
    labels = {f: f if a == "." else f"{f} {a}"
              for f, a in zip(table["filter"], table["annotation"])}
    plot_influence_heatmap(effects, stem, value=value, labels=labels)
    log.info("%d filters x %d targets", len(table), effects["target"].nunique())


if "snakemake" in globals():
    run(main, snakemake, pwms=snakemake.input.pwms, matches=snakemake.input.matches,
        influence=snakemake.input.get("influence"), settings=snakemake.params.filters,
        table_out=snakemake.output.table, heatmap_png=snakemake.output.heatmap)
