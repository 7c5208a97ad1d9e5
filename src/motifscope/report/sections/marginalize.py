"""Section: marginalization of database motifs."""

from __future__ import annotations

from motifscope.report.html import figure, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, ReportContext


# --- marginalization ---------------------------------------------------------------------------


def marginalize_section(ctx: ReportContext) -> Section:
    """Marginalization: the effect of planting each database motif in backgrounds."""
    section = Section("marginalize", "Marginalization")
    if not ctx.stage_on("marginalize"):
        return _skipped(section, "marginalize")
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    section.add(paragraph(
        f"Each motif was planted ({ctx.setting('marginalize', 'instance')}) in "
        f"{ctx.setting('marginalize', 'n_backgrounds')} "
        f"{ctx.setting('marginalize', 'background')} backgrounds; delta_mean is the mean change "
        "of the output (motif minus background), z its mean over its standard error."))
    empty = 0
    for target in ctx.targets:
        section.add(tag("h3", target))
        relative = f"marginalize/{target}.tsv"
        if not ctx.exists(relative):
            _missing(section, ctx, relative)
            continue
        frame = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                        dtype={"motif": str, "motif_alt_id": str})
        if frame.empty:
            empty += 1
            section.add(note(f"No motif was marginalized for {target}."))
            continue
        section.add(table(frame, max_rows=max_rows, source=ctx.show(relative)))
        if ctx.exists(f"marginalize/{target}.png"):
            section.add(figure(ctx.path(f"marginalize/{target}.png"),
                               f"Strongest motifs for {target}."))
    if empty == len(ctx.targets):
        section.status = "empty"
    return section
