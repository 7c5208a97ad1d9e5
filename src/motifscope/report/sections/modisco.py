"""The report's de novo section (TF-MoDISco patterns per target and across targets), and
the pattern seqlets as recovery calls.

Files read (under ``results/<run>/``): ``modisco/<target>.patterns.tsv``,
``modisco/<target>.patterns.png``, ``modisco/<target>.seqlets.bed``, ``modisco/shared.tsv``,
``modisco/shared.png``.
"""

from __future__ import annotations

import pandas as pd

from motifscope.denovo.patterns import SEQLET_BED_COLUMNS
from motifscope.report.html import Section, code, figure, note, paragraph, table, tag
from motifscope.report.sections.context import _missing, _skipped

PATTERNS_TSV = "modisco/{target}.patterns.tsv"
SEQLETS_BED = "modisco/{target}.seqlets.bed"


def _seqlets(ctx, target: str) -> pd.DataFrame | None:
    relative = SEQLETS_BED.format(target=target)
    if not ctx.exists(relative) or ctx.path(relative).stat().st_size == 0:
        return None
    return pd.read_csv(ctx.path(relative), sep="\t", header=None, names=SEQLET_BED_COLUMNS,
                       dtype={"chrom": str, "name": str})


def _patterns(ctx, target: str) -> pd.DataFrame | None:
    relative = PATTERNS_TSV.format(target=target)
    if not ctx.exists(relative):
        return None
    return ctx.tsv(relative, dtype={"match_1": str, "match_2": str, "match_3": str},
                   keep_default_na=False, na_values={f"q_{k}": [""] for k in (1, 2, 3)})


def denovo_calls(ctx) -> dict | None:
    """Per target, the pattern seqlets as recovery calls (chrom, start, end, motif_id = the
    pattern's best TOMTOM match at q <= annotation.max_qvalue, else the pattern name)."""
    max_q = ctx.setting("annotation", "max_qvalue", default=0.05)
    found = {}
    for target in ctx.targets:
        patterns, seqlets = _patterns(ctx, target), _seqlets(ctx, target)
        if patterns is None:
            continue
        named = {p: (m if m and pd.notna(q) and q <= max_q else p)
                 for p, m, q in zip(patterns["pattern"], patterns["match_1"], patterns["q_1"])}
        seqlets = seqlets if seqlets is not None else pd.DataFrame(columns=SEQLET_BED_COLUMNS)
        found[target] = pd.DataFrame({"chrom": seqlets["chrom"], "start": seqlets["start"],
                                      "end": seqlets["end"],
                                      "motif_id": seqlets["name"].map(named)})
    return found or None


def _readable(patterns: pd.DataFrame, seqlets: pd.DataFrame | None) -> pd.DataFrame:
    """One row per pattern: what it is (best match, family), how much (seqlets), the other
    matches and three example seqlets on the genome."""
    rows = []
    for p in patterns.itertuples(index=False):
        matches = []
        for k in (1, 2, 3):
            m, alt, q = getattr(p, f"match_{k}"), getattr(p, f"match_{k}_alt"), getattr(p, f"q_{k}")
            if m:
                matches.append(f"{alt or m} ({m}, q = {q:.2g})")
        examples = ""
        if seqlets is not None:
            mine = seqlets[seqlets["name"] == p.pattern].head(3)
            examples = ", ".join(f"{c}:{s + 1}-{e} ({st})" for c, s, e, st in
                                 zip(mine["chrom"], mine["start"], mine["end"], mine["strand"]))
        rows.append({"pattern": p.pattern,
                     "effect": "raises" if p.metacluster == "pos" else "lowers",
                     "seqlets": p.n_seqlets, "consensus": p.consensus,
                     "is like": matches[0] if matches else "no database match",
                     "family": p.family_1, "also like": "; ".join(matches[1:]),
                     "example seqlets": examples})
    return pd.DataFrame(rows)


def modisco_section(ctx) -> Section:
    """TF-MoDISco patterns per target (logos, matches, positions, examples) and the motifs
    the targets share."""
    section = Section("modisco", "De novo patterns (TF-MoDISco)")
    if not ctx.stage_on("modisco") or not ctx.stage_on("attribution"):
        return _skipped(section, "modisco")
    section.add(paragraph(
        "TF-MoDISco (modisco-lite 3.0) cut the attributions into seqlets, short stretches of "
        "high attribution, and clustered them into patterns: each pattern is a motif the model "
        "uses. Read a row as: this many places in the peaks look like this logo, and the "
        "database motif it is most like is this one. Patterns that raise the prediction come "
        "first (pos_patterns); those that lower it (neg_patterns) after. The CWM logo shows "
        "each base's contribution; the PWM shows the bases of the seqlets; the histogram where "
        "seqlets sit in the window. Example seqlets are 1-based genome coordinates."))
    any_pattern = False
    for target in ctx.targets:
        section.add(tag("h3", target))
        patterns = _patterns(ctx, target)
        if patterns is None:
            return _missing(section, ctx, PATTERNS_TSV.format(target=target))
        if patterns.empty:
            section.add(note(f"TF-MoDISco found no pattern for {target}: too few seqlets "
                             "passed its FDR (modisco.target_fdr) or formed a pattern of "
                             "modisco.min_seqlets seqlets."))
            continue
        any_pattern = True
        section.add(table(_readable(patterns, _seqlets(ctx, target)),
                          source=ctx.show(PATTERNS_TSV.format(target=target))))
        png = ctx.path(f"modisco/{target}.patterns.png")
        if png.exists():
            section.add(figure(png, f"{target}: every pattern's CWM (both strands), PWM, best "
                                    "database match and seqlet positions."))
    if ctx.exists("modisco/shared.tsv") and len(ctx.targets) > 1:
        shared = ctx.tsv("modisco/shared.tsv", dtype=str, keep_default_na=False)
        if len(shared):
            section.add(tag("h3", "Across targets"), paragraph(
                "Patterns of different targets with similar CWMs are one motif (cosine "
                f"similarity >= {ctx.setting('modisco', 'shared_similarity', default=0.8)} at "
                "the best alignment). A motif in one column only is specific to that target."))
            png = ctx.path("modisco/shared.png")
            if png.exists():
                section.add(figure(png, "Share of each target's seqlets in each motif."))
            section.add(table(shared, max_rows=30, source=ctx.show("modisco/shared.tsv")))
    section.add(paragraph("modisco-lite's own report: ",
                          code("modisco report -i " + ctx.show("modisco/<target>.h5")
                               + " -o <dir>"), "."))
    if not any_pattern:
        section.status = "empty"
    return section
