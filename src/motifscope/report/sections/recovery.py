"""Section: planted-motif recovery of every stage (simulations), computed by
:mod:`motifscope.evaluation.recovery`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.evaluation.recovery import MotifGroups, planted_motif_recovery, sites_in_loci
from motifscope.report import figures
from motifscope.report.html import figure, note, paragraph, Section, table, tag
from motifscope.report.sections.attribution import read_hits
from motifscope.report.sections.context import _missing, fimo_above, fimo_columns, ReportContext
from motifscope.report.sections.hits import hits_calls
from motifscope.report.sections.modisco import denovo_calls


# --- planted-motif recovery ----------------------------------------------------------------------


def _optional_tables(ctx: ReportContext, pattern: str, stage_ok: bool, **kwargs) -> dict | None:
    if not stage_ok:
        return None
    found = {t: pd.read_csv(ctx.path(pattern.format(target=t)), sep="\t", **kwargs)
             for t in ctx.targets if ctx.exists(pattern.format(target=t))}
    return found or None


def _fimo_calls(ctx: ReportContext) -> dict | None:
    """Per target, the FIMO hits passing the attribution threshold (genome coordinates)."""
    columns = ["motif_id", "chrom", "genome_start", "genome_end", "attribution"]
    found = {t: read_hits(ctx.path(f"fimo/{t}.hits.tsv.gz"),
                          fimo_columns(ctx, ctx.path(f"fimo/{t}.hits.tsv.gz"), columns),
                          lambda c: fimo_above(ctx, c))
             for t in ctx.targets if ctx.exists(f"fimo/{t}.hits.tsv.gz")}
    return found or None


def recovery_section(ctx: ReportContext) -> Section:
    """For simulations: which planted motifs each method found (recall, precision)."""
    section = Section("recovery", "Planted-motif recovery")
    if not ctx.simulated:
        section.status = "skipped"
        return section.add(note("Not a simulation (simulate.enabled is false): there is no "
                                "ground truth to compare with."))
    if not ctx.exists("sim/truth.tsv") or not ctx.exists("loci/loci.tsv"):
        return _missing(section, ctx, "sim/truth.tsv")
    truth = ctx.tsv("sim/truth.tsv", dtype={"chrom": str, "motif_id": str, "target": str},
                    keep_default_na=False)
    loci = ctx.loci()
    if sites_in_loci(truth, loci).empty:
        section.status = "empty"
        return section.add(note("No planted site lies inside an analysed window."))
    text = {"dtype": {"chrom": str, "motif_id": str, "motif_alt_id": str},
            "keep_default_na": False, "na_values": {"q-value": ["", "nan", "NaN"]}}
    database = ctx.tsv("motifs/database.tsv", dtype=str, keep_default_na=False) if ctx.exists(
        "motifs/database.tsv") else None
    clusters = ctx.tsv("motifs/clusters.tsv", dtype=str, keep_default_na=False) if ctx.exists(
        "motifs/clusters.tsv") else None
    seqlets_on = ctx.stage_on("seqlets")
    per_motif, summary = planted_motif_recovery(
        truth, loci, ctx.targets,
        seqlets=_optional_tables(ctx, "seqlets/{target}.annotated.tsv", seqlets_on, **text),
        raw_seqlets=_optional_tables(ctx, "seqlets/{target}.tsv", seqlets_on,
                                     dtype={"chrom": str}),
        fimo=_fimo_calls(ctx) if ctx.stage_on("fimo") else None,
        filters=(ctx.tsv("filters/matches.tsv", dtype=str, keep_default_na=False)
                 if ctx.stage_on("filters") and ctx.exists("filters/matches.tsv") else None),
        marginalization=_optional_tables(ctx, "marginalize/{target}.tsv",
                                         ctx.stage_on("marginalize"),
                                         dtype={"motif": str, "motif_alt_id": str}),
        groups=MotifGroups(database, clusters),
        max_qvalue=ctx.setting("annotation", "max_qvalue", default=0.05),
        attribution_threshold=-np.inf,  # _fimo_calls kept only the hits above it
        min_z=ctx.setting("report", "min_z", default=3.0),
        min_effect=ctx.setting("report", "min_effect", default=0.5),
        summary_calls=(ctx.tsv("summary.tsv", keep_default_na=False, na_values=[""],
                               dtype={"motif_id": str})
                       if ctx.stage_on("summary") and ctx.exists("summary.tsv") else None),
        denovo=denovo_calls(ctx) if ctx.stage_on("modisco") else None,
        hits=hits_calls(ctx) if ctx.stage_on("hits") else None)
    section.add(paragraph(
        "Each method's calls were compared with the planted sites of sim/truth.tsv inside the "
        "analysed windows. A call names a planted motif when it is the same database motif, "
        "in the same TOMTOM cluster, or has the same name (for a dimer such as GATA1::TAL1, "
        "also a motif named after one of its parts). Site recall: planted sites "
        "overlapped (at least half of the shorter interval) by a call naming their motif; "
        "site precision: calls lying on a planted site of the motif they name; motif "
        "precision: named motifs that were planted. Calls: seqlets with best match q <= "
        "annotation.max_qvalue; FIMO hits with attribution >= fimo.attribution_threshold; "
        "filters with a TOMTOM match; marginalized motifs with z >= report.min_z and an "
        "effect of at least report.min_effect times the strongest motif's; summary: motifs "
        "summary.tsv calls learned. A distractor (planted for no target) is a control: "
        "any call of it is false, so it is green when not found."))
    if per_motif.empty:
        section.status = "empty"
        return section.add(note("No method that names motifs ran, so nothing can be compared "
                                "with the planted motifs."))
    section.add(tag("h3", "Per method"), table(summary))
    section.add(tag("h3", "Per planted motif"), table(per_motif))
    png = ctx.save(figures.recovery_figure(per_motif), "recovery")
    section.add(figure(png, "Planted motifs found by each method."))
    return section
