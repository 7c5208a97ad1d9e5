"""The report's hits section (motif instances, syntax, genome tracks) and the hits pieces
other sections use: hit marks under the attribution logos and hit calls for the
planted-motif recovery table.

Files read (under ``results/<run>/``): ``hits/<target>.tsv``, ``hits/<target>.counts.tsv``,
``syntax/<target>.cooccurrence.tsv``, ``syntax/<target>.{cooccurrence,spacing}.png``,
``tracks/<target>.bw``, ``tracks/trackDb.txt``, ``modisco/<target>.patterns.tsv``.
"""

from __future__ import annotations

import pandas as pd

from motifscope.report.html import Section, code, figure, note, paragraph, table, tag

HITS_TSV = "hits/{target}.tsv"


def read_hits_table(ctx, target: str) -> pd.DataFrame | None:
    """``hits/<target>.tsv`` (text columns kept as text), or None when absent."""
    relative = HITS_TSV.format(target=target)
    if not ctx.exists(relative):
        return None
    return ctx.tsv(relative, dtype={"chrom": str, "peak": str, "label": str, "family": str,
                                    "pattern": str}, keep_default_na=False)


def hits_marks(ctx, target: str) -> pd.DataFrame | None:
    """Hits in window coordinates for the attribution logos: ``example_idx``, ``start``,
    ``end``, ``label`` (TOMTOM label, else the short pattern name), ``coefficient``."""
    hits = read_hits_table(ctx, target)
    if hits is None:
        return None
    loci = ctx.loci(target)
    first = {}
    for idx, name in zip(loci["idx"], loci["name"]):
        first.setdefault(str(name), int(idx))
    example = hits["peak"].map(first)
    short = hits["pattern"].str.replace("_patterns.pattern_", "_", regex=False)
    label = hits["label"].where(hits["label"] != hits["pattern"], short)
    return pd.DataFrame({"example_idx": example.to_numpy(),
                         "start": hits["window_offset"].to_numpy(),
                         "end": (hits["window_offset"] + hits["end"] - hits["start"]).to_numpy(),
                         "label": label.to_numpy(), "attribution": hits["coefficient"].to_numpy()
                         }).dropna(subset=["example_idx"])


def hits_calls(ctx) -> dict | None:
    """Per target, the hits as recovery calls: ``chrom``, ``start``, ``end``, ``motif_id``
    (the pattern's best TOMTOM match ``match_1`` from modisco's patterns.tsv; the pattern
    name when it has none, which names no planted motif)."""
    found = {}
    for target in ctx.targets:
        hits = read_hits_table(ctx, target)
        if hits is None:
            continue
        ids = {}
        relative = f"modisco/{target}.patterns.tsv"
        if ctx.exists(relative):
            patterns = ctx.tsv(relative, dtype=str, keep_default_na=False)
            if "match_1" in patterns:
                ids = {p: m for p, m in zip(patterns["pattern"], patterns["match_1"]) if m}
        found[target] = pd.DataFrame({"chrom": hits["chrom"], "start": hits["start"],
                                      "end": hits["end"],
                                      "motif_id": hits["pattern"].map(lambda p: ids.get(p, p))})
    return found or None


def _pattern_summary(hits: pd.DataFrame, counts: pd.DataFrame | None) -> pd.DataFrame:
    grouped = hits.groupby("pattern", sort=True)
    out = grouped.agg(label=("label", "first"), family=("family", "first"),
                      hits=("start", "size"), peaks=("peak", "nunique"),
                      mean_similarity=("similarity", "mean"),
                      mean_attribution=("attribution", "mean")).reset_index()
    if counts is not None:
        out["peaks_with_hit_%"] = [100 * (counts[p] > 0).mean() if p in counts else 0.0
                                   for p in out["pattern"]]
    return out.sort_values("hits", ascending=False, kind="mergesort")


def hits_section(ctx) -> Section:
    """Motif instances per target (Fi-NeMo's sparse CWM fit), motif syntax (co-occurrence,
    spacing) and the genome tracks."""
    section = Section("hits", "Motif instances, syntax and genome tracks")
    has_cwms = bool(ctx.setting("hits", "motifs")) or ctx.stage_on("modisco")
    if not ctx.stage_on("hits") or not has_cwms:
        section.status = "skipped"
        section.add(note("Skipped: stages.hits is false in the config." if not
                         ctx.stage_on("hits") else "Skipped: there are no CWMs to call hits "
                         "with (stages.modisco is false and hits.motifs is not set)."))
    else:
        penalty = ctx.setting("hits", "penalty", default=0.7)
        section.add(paragraph(
            "Each window's projected attribution was fitted as a sparse non-negative sum of "
            "the pattern CWMs at every position and on both strands (Fi-NeMo's method; L1 "
            f"penalty {penalty}); hits are the non-zero coefficients whose cosine similarity "
            "with the attribution under the CWM is at least the penalty. Labels and families "
            "come from the patterns' best TOMTOM match. Co-occurrence compares the peaks "
            "holding both patterns of a pair with the number expected if they were "
            "independent (hypergeometric p-value, BH q-value); spacing counts pairs of hits "
            "in one peak by distance between centres and orientation."))
        any_hits = False
        for target in ctx.targets:
            section.add(tag("h3", target))
            hits = read_hits_table(ctx, target)
            if hits is None:
                section.status = "missing"
                section.add(note("No ", code(ctx.show(HITS_TSV.format(target=target))),
                                 "; run the workflow to completion first."))
                continue
            if hits.empty:
                section.add(note(f"No hits for {target}."))
                continue
            any_hits = True
            counts_rel = f"hits/{target}.counts.tsv"
            counts = ctx.tsv(counts_rel, dtype={"peak": str}) if ctx.exists(counts_rel) else None
            section.add(table(_pattern_summary(hits, counts),
                              source=ctx.show(HITS_TSV.format(target=target))))
            cooc_rel = f"syntax/{target}.cooccurrence.tsv"
            if ctx.exists(cooc_rel):
                section.add(tag("h4", "Co-occurrence in peaks"),
                            table(ctx.tsv(cooc_rel, dtype={"pattern_a": str, "pattern_b": str}),
                                  max_rows=10, source=ctx.show(cooc_rel)))
            for stem, caption in (("cooccurrence", "log2 observed / expected peaks per pair"),
                                  ("spacing", "distance and orientation of the most frequent "
                                              "pairs")):
                png = ctx.path(f"syntax/{target}.{stem}.png")
                if png.exists():
                    section.add(figure(png, f"{target}: {caption}."))
        if not any_hits and section.status == "ok":
            section.status = "empty"
    if ctx.stage_on("tracks"):
        section.add(tag("h3", "Genome tracks"), paragraph(
            "Projected attribution at base resolution: ", code(ctx.show("tracks/<target>.bw")),
            " (where windows overlap, a base takes the value of the window whose centre is "
            "nearest); predictions per peak: ", code(ctx.show("tracks/<target>.prediction.bw")),
            "; hits: ", code(ctx.show("hits/<target>.bb")), ". In IGV: File > Load from File "
            "(with the run's genome); for UCSC, ", code(ctx.show("tracks/trackDb.txt")),
            " holds track-hub stanzas and ", code(ctx.show("tracks/README")), " the steps."))
    return section
