"""Section: what the model learned (``summary.tsv``, motifscope.evaluation.summary), first on
the page: per target, one plain sentence, then the motifs with their logo and evidence."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pandas as pd

from motifscope.io import read_meme
from motifscope.plot import plot_logo
from motifscope.report.html import escape, image, Markup, note, paragraph, Section, table, tag
from motifscope.report.sections.context import _missing, _skipped, ReportContext

LINE_NAMES = {"denovo": "de novo pattern", "seqlets": "seqlet annotation",
              "fimo": "FIMO attribution", "marginalize": "marginalization"}
SHOWN = ["logo", "motif", "motif_id", "tf_family", "call", "evidence", "denovo_share",
         "seqlet_share", "fimo_q", "hits", "filter", "filter_influence_rank", "marginal_z",
         "marginal_effect", "example_locus", "planted"]


def _logo(matrix) -> Markup:
    """A small information-content logo as an inline PNG."""
    fig, ax = plt.subplots(figsize=(max(1.2, 0.16 * matrix.shape[1]), 0.55))
    plot_logo(matrix, ax=ax, ic_scale=True)
    ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return image(buffer.getvalue(), "logo", css_class="logo", max_width="160px")


def _names(rows: pd.DataFrame) -> str:
    return ", ".join(rows["motif"].astype(str)) if len(rows) else ""


def lead_sentence(target: str, rows: pd.DataFrame) -> str:
    """The one-line answer for a target, e.g. "ctcf: the model learned CTCF (FIMO
    attribution, marginalization); weak evidence for CTCFL"."""
    learned = rows[rows["call"] == "learned"]
    weak = rows[rows["call"] == "weak"]
    if learned.empty:
        text = f"{target}: no motif reaches the call learned"
    else:
        parts = [f"{m} ({', '.join(LINE_NAMES[e] for e in str(ev).split(',') if e)})"
                 for m, ev in zip(learned["motif"], learned["evidence"])]
        text = f"{target}: the model learned " + "; ".join(parts)
    if len(weak):
        more = f" and {len(weak) - 5} more" if len(weak) > 5 else ""
        text += f"; weak evidence for {_names(weak.head(5))}{more}"
    controls = rows[(rows["call"] == "not evidenced") & rows["planted"].astype(str).ne("")]
    if len(controls):
        text += "; not evidenced: " + ", ".join(
            f"{m} (planted: {p})" for m, p in zip(controls["motif"], controls["planted"]))
    return text + "."


def learned_section(ctx: ReportContext) -> Section:
    """The answer: per target the motifs the model learned, with evidence and controls."""
    section = Section("learned", "What the model learned")
    if not ctx.stage_on("summary"):
        return _skipped(section, "summary")
    if not ctx.exists("summary.tsv"):
        return _missing(section, ctx, "summary.tsv")
    summary = ctx.tsv("summary.tsv", keep_default_na=False, na_values=[""],
                      dtype={"motif_id": str, "planted": str, "evidence": str})
    summary[["planted", "evidence"]] = summary[["planted", "evidence"]].fillna("")
    if summary.empty:
        section.status = "empty"
        return section.add(note("No motif passed any stage's null, for any target."))
    lines_run = int(summary["lines_run"].max())
    min_lines = ctx.setting("summary", "min_lines", default=2)
    section.add(paragraph(
        f"Each motif is called learned when at least {min(min_lines, lines_run)} of the "
        f"{lines_run} lines of evidence that ran pass their own null or control, weak when "
        "one does, not evidenced when none does (rule and columns: CONTRIBUTING.md, "
        "summary.tsv). Motifs that pass no null are left out, except planted ones."))
    motifs = _database(ctx)
    max_rows = int(ctx.setting("report", "max_rows", default=50))
    for target in ctx.targets:
        rows = summary[summary["target"] == target]
        section.add(tag("h3", target), paragraph(tag("strong", escape(lead_sentence(target,
                                                                                    rows)))))
        if rows.empty:
            continue
        shown = rows.head(max_rows).copy()
        shown["logo"] = [_logo(motifs[m]) if m in motifs else "" for m in shown["motif_id"]]
        section.add(table(shown[[c for c in SHOWN if c in shown]], max_rows=max_rows,
                          source=ctx.show("summary.tsv")))
    return section


def _database(ctx: ReportContext) -> dict:
    """Database motifs by id (probability matrices), for the logos."""
    if not ctx.exists("motifs/database.meme"):
        return {}
    return dict(read_meme(ctx.path("motifs/database.meme")).items())


__all__ = ["learned_section", "lead_sentence"]
