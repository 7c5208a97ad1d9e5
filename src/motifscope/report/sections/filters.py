"""Section: first-layer filters (PWMs, TOMTOM matches, influence)."""

from __future__ import annotations

import pandas as pd

from motifscope.report.html import figure, image, Markup, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, ReportContext


# --- filters -------------------------------------------------------------------------------------


def filters_section(ctx: ReportContext) -> Section:
    """First-layer filters: PWM logos, TOMTOM matches, influence heat map."""
    section = Section("filters", "First-layer filters")
    if not ctx.stage_on("filters"):
        return _skipped(section, "filters")
    relative = "filters/table.tsv"
    if not ctx.exists(relative):
        return _missing(section, ctx, relative)
    frame = ctx.tsv(relative, keep_default_na=False, na_values=[""],
                    dtype={"filter": str, "annotation": str, "best_match": str,
                           "best_match_name": str})
    if frame.empty:
        section.status = "empty"
        return section.add(note("The model's first layer has no filters."))
    logos = []
    for name in frame["filter"]:
        png = ctx.path(f"filters/logos/{name}.png")
        logos.append(image(png, f"logo of {name}", css_class="logo") if png.exists()
                     else Markup(""))
    shown = frame.copy()
    shown.insert(1, "logo", logos)
    with_motif = int((frame.get("status", pd.Series(["ok"] * len(frame))) == "ok").sum())
    thresh = ctx.setting("filters", "tomtom", "thresh", default=0.1)
    annotated = int((frame.get("annotation", pd.Series(["."] * len(frame))) != ".").sum())
    section.add(paragraph(f"{len(frame)} filters ({ctx.setting('filters', 'method')} rule), "
                          f"{with_motif} with enough sites for a motif, {annotated} matching a "
                          f"database motif at TOMTOM q <= {thresh}."),
                table(shown, source=ctx.show(relative)))
    if ctx.exists("filters/tomtom.tsv"):
        matches = ctx.tsv("filters/tomtom.tsv", dtype={"query_id": str, "target_id": str})
        section.add(tag("h3", "TOMTOM matches of the filters"))
        section.add(table(matches, max_rows=int(ctx.setting("report", "max_rows", default=50)),
                          source=ctx.show("filters/tomtom.tsv")) if len(matches) else
                    note(f"No filter matches a database motif at q <= {thresh}."))
    if ctx.setting("filters", "influence", "enabled", default=True) and ctx.exists(
            "filters/influence.png"):
        section.add(figure(ctx.path("filters/influence.png"),
                           "Influence of each filter on each target (clustered)."))
    if ctx.exists("filters/weights.png"):
        section.add(figure(ctx.path("filters/weights.png"), "First-layer filter weights."))
    return section
