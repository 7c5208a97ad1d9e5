"""Section: FIMO hits and the attribution over them."""

from __future__ import annotations

from motifscope.report.html import note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, ReportContext


# --- FIMO ----------------------------------------------------------------------------------------


def fimo_section(ctx: ReportContext) -> Section:
    """FIMO hits per motif and target, thresholded by attribution."""
    section = Section("fimo", "FIMO hits thresholded by attribution")
    if not ctx.stage_on("fimo"):
        return _skipped(section, "fimo")
    threshold = ctx.setting("fimo", "attribution_threshold", default=None)
    if threshold is None:
        threshold = (f"the null (null_p <= {ctx.setting('fimo', 'null_alpha', default=0.05)}:"
                     " above the same-width spans of its locus)")
    p_threshold = ctx.setting("fimo", "threshold", default=1e-4)
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    section.add(paragraph(f"FIMO hits (p < {p_threshold}) of every database motif in the "
                          "loci; n_above counts hits whose summed projected attribution is at "
                          f"least {threshold} (fimo.attribution_threshold), the instances the "
                          "model uses."))
    empty = 0
    for target in ctx.targets:
        section.add(tag("h3", target))
        relative = f"fimo/{target}.counts.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        counts = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                         dtype={"motif_id": str, "motif_alt_id": str})
        hit = counts[counts["n_hits"] > 0]
        if hit.empty:
            empty += 1
            section.add(note(f"No FIMO hit at p < {p_threshold} in any locus for {target}."))
            continue
        above = int(hit["n_above"].sum()) if "n_above" in hit else 0
        section.add(paragraph(f"{int(hit['n_hits'].sum())} hits of {len(hit)} motifs; "
                              f"{above} above {threshold}."))
        if above == 0:
            section.add(note(f"No hit of {target} reaches the attribution threshold."))
        section.add(table(hit, max_rows=max_rows, source=ctx.show(relative)))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section
