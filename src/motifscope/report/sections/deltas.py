"""Section: convergence-delta diagnostics, from the merged attribution files
(:func:`motifscope.io.attributions.read_deltas`), never the shards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.io.attributions import delta_statistics, read_deltas
from motifscope.report.html import escape, figure, Markup, note, paragraph, Section, table
from motifscope.report.sections.context import _missing, _skipped, ReportContext


# --- convergence deltas -------------------------------------------------------------------------


def deltas_section(ctx: ReportContext) -> Section:
    """Convergence deltas of DeepLIFT/SHAP: do attributions add up to the output change?"""
    section = Section("deltas", "Convergence-delta diagnostics")
    if not ctx.stage_on("attribution"):
        return _skipped(section, "attribution")
    rows, pictures, warnings = [], [], []
    predictions = (ctx.tsv("predictions/predictions.tsv", dtype={"name": str, "chrom": str})
                   if ctx.exists("predictions/predictions.tsv") else None)
    for target in ctx.targets:
        relative = f"attributions/{target}.h5"
        if not ctx.exists(relative):
            return _missing(section, ctx, relative)
        deltas, method, shard_warnings = read_deltas(ctx.path(relative))
        stats = delta_statistics(deltas)
        spread = (float(predictions[target].std()) if predictions is not None
                  and len(predictions) > 1 else np.nan)
        rows.append((target, method, deltas.shape[0], deltas.shape[1] if deltas.ndim == 2 else 0,
                     stats["max_abs"], stats["mean_abs"], stats["q999_abs"], spread,
                     stats["max_abs"] / spread if spread else np.nan))
        warnings += [f"{target}: {m}" for m in shard_warnings]
        if ctx.exists(f"attributions/{target}.png"):
            pictures.append(figure(ctx.path(f"attributions/{target}.png"),
                                   f"Attribution QC for {target}: mean attribution by position "
                                   "and convergence deltas."))
    table_rows = pd.DataFrame(rows, columns=["target", "method", "loci", "references",
                                             "max_abs_delta", "mean_abs_delta",
                                             "q99.9_abs_delta", "output_sd",
                                             "max_delta_over_sd"])
    section.add(paragraph(
        "A convergence delta is the sum of a locus's attributions against one reference minus "
        "the change of the output between the locus and that reference; DeepLIFT's rules make "
        "it zero up to float rounding. Deltas comparable to the spread of the outputs "
        "(last column) mean some layer lacks a correct rule, and the attributions do not "
        "explain the output."), table(table_rows))
    if (table_rows["references"] == 0).all():
        section.add(note("The attributions are saturation mutagenesis (ISM), which has no "
                         "convergence deltas."))
    elif warnings:  # accepted with attribution.allow_large_deltas: shown red
        section.status = "warning"
        section.add(note("Warnings from the attribution jobs:"),
                    Markup("<ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings)
                           + "</ul>"))
    else:
        section.add(paragraph("No attribution job warned about large deltas."))
    section.add(*pictures)
    return section
