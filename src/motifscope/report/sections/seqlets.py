"""Section: seqlets and their TOMTOM annotation."""

from __future__ import annotations

import numpy as np

from motifscope.report.html import figure, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, ReportContext


# --- seqlets ---------------------------------------------------------------------------------


def seqlets_section(ctx: ReportContext) -> Section:
    """Seqlets per target and their TOMTOM annotation counts."""
    section = Section("seqlets", "Seqlets and their annotation")
    if not ctx.stage_on("seqlets"):
        return _skipped(section, "seqlets")
    max_q = ctx.setting("annotation", "max_qvalue", default=0.05)
    group_by = ctx.setting("annotation", "group_by", default="cluster")
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    empty = 0
    for target in ctx.targets:
        n_loci = len(ctx.loci(target)) if ctx.exists(ctx.loci_file("loci.tsv", target)) else 0
        section.add(tag("h3", target))
        relative = f"seqlets/{target}.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        seqlets = ctx.tsv(relative, dtype={"chrom": str})
        if seqlets.empty:
            empty += 1
            section.add(note(f"No seqlets were called for {target}: no span of the "
                             f"attributions of the {n_loci} loci was significant at "
                             f"seqlets.threshold = {ctx.setting('seqlets', 'threshold')} "
                             f"({ctx.setting('seqlets', 'method')} method)."))
            continue
        n_with = seqlets["example_idx"].nunique()
        section.add(paragraph(f"{len(seqlets)} seqlets in {n_with} of {n_loci} loci; median "
                              f"length {int(np.median(seqlets['end'] - seqlets['start']))} bp."))
        counts_file = f"seqlets/{target}.counts.tsv"
        if not ctx.exists(counts_file):
            _missing(section, ctx, counts_file)
        else:
            counts = ctx.tsv(counts_file, keep_default_na=False, na_values=[""])
            if counts.empty:
                section.add(note(f"None of the {len(seqlets)} seqlets of {target} has a "
                                 f"database match with q-value <= {max_q} "
                                 "(annotation.max_qvalue)."))
            else:
                section.add(table(counts, max_rows=max_rows, source=ctx.show(counts_file),
                                  caption=f"Seqlets per {group_by} (best match q <= {max_q})"))
        if ctx.exists(f"seqlets/{target}.png"):
            section.add(figure(ctx.path(f"seqlets/{target}.png"),
                               f"Seqlets of {target}: positions, lengths, seqlets per locus."))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section
