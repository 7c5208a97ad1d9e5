"""Section: DragoNN's interpretation benchmark (paper configuration)."""

from __future__ import annotations

from motifscope.report.html import figure, note, paragraph, Section, table
from motifscope.report.sections.context import _missing, ReportContext


# --- DragoNN benchmark (paper configuration) -----------------------------------------------------


def benchmark_section(ctx: ReportContext) -> Section:
    """Positional auPRC of ISM, DeepLIFT/SHAP and the motif scan (paper configuration)."""
    section = Section("benchmark", "Interpretation benchmark (positional auPRC)")
    relative = "benchmark/positional_prc.tsv"
    if not ctx.setting("paper", "enabled", default=False):
        section.status = "skipped"
        return section.add(note("The paper benchmark is off (paper.enabled is false)."))
    if not ctx.exists(relative):
        return _missing(section, ctx, relative)
    frame = ctx.tsv(relative, dtype={"motif": str, "method": str})
    section.add(paragraph(
        "DragoNN's positional precision-recall on held-out simulated sequences: every window "
        "of a planted motif's width is scored by the sum of a method's per-position scores "
        "(max |ISM| over bases, the largest projected DeepLIFT/SHAP contribution, or the PWM "
        "log-odds of the motif scan); windows covering at least 80% of a planted instance are "
        "positives, partial ones are dropped. baseline is the positive fraction (a random "
        "ranking)."), table(frame))
    for name, caption in (("positional_prc", "Positional precision-recall per method."),
                          ("benchmark_tracks", "Per-position scores on one held-out positive "
                                               "sequence."),
                          ("paper_marginalization", "Marginalization: top motifs per target."),
                          ("paper_seqlet_annotation", "Seqlet annotation counts per target.")):
        png = ctx.path(f"figures/{name}.png")
        if png.exists():
            section.add(figure(png, caption))
    return section
