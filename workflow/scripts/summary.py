"""Rule summary: one answer per target, from the evidence of every stage that ran.

Reads, per target, whichever of these the run made (``snakemake.input`` names):
``patterns`` (modisco/<target>.patterns.tsv), ``annotated`` and ``seqlet_counts``
(seqlets/<target>.annotated.tsv, .counts.tsv), ``fimo_counts`` (fimo/<target>.counts.tsv),
``marginalize`` (marginalize/<target>.tsv), ``hits`` (hits/<target>.tsv), plus the motif
clusters and database tables, the filters' TOMTOM matches and influence, and the simulation's
truth when the run is the demo. Writes ``summary.tsv`` (columns and rule:
:mod:`motifscope.evaluation.summary`).
"""

import logging

import pandas as pd

from _common import run
from motifscope.evaluation.summary import MotifGroups, best_filters, denovo_evidence, \
    fimo_evidence, hit_counts, marginal_evidence, seqlet_evidence, summarize_target
from motifscope.utils import atomic_path

log = logging.getLogger("motifscope.summary")

PER_TARGET = ["patterns", "annotated", "seqlet_counts", "fimo_counts", "marginalize", "hits"]
LINE_OF = {"patterns": "denovo", "annotated": "seqlets", "fimo_counts": "fimo",
           "marginalize": "marginalize"}


def read_table(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["", "nan", "NaN"],
                       dtype={"motif_id": str, "motif": str, "match_1": str})


def per_target(inputs: dict, targets: list) -> dict:
    """name -> {target: path} for the per-target inputs the rule was given."""
    found = {}
    for name in PER_TARGET:
        paths = inputs.get(name, [])
        paths = [paths] if isinstance(paths, str) else list(paths)
        if paths:
            found[name] = dict(zip(targets, paths))
    return found


def example_loci(annotated: pd.DataFrame | None, groups: MotifGroups,
                 max_qvalue: float) -> dict:
    """group -> the genome coordinates of its highest-attribution annotated seqlet."""
    if annotated is None or annotated.empty:
        return {}
    best = annotated[(annotated["rank"] == 1) & (annotated["q-value"] <= max_qvalue)]
    best = best.assign(group=best["motif_id"].astype(str).map(groups.group)).dropna(
        subset=["group"]).sort_values("attribution", ascending=False, kind="mergesort")
    best = best.drop_duplicates("group")
    return {g: f"{c}:{s}-{e}" for g, c, s, e in
            zip(best["group"], best["chrom"], best["start"], best["end"])}


def main(inputs: dict, targets: list, settings: dict, out: str) -> None:
    groups = MotifGroups(read_table(inputs["clusters"]), read_table(inputs["database"]))
    planted = {}
    if inputs.get("truth"):
        truth = read_table(inputs["truth"])
        planted = dict(zip(truth["motif_id"].astype(str), truth["target"].fillna("")))
    files = per_target(inputs, targets)
    lines_run = [LINE_OF[name] for name in LINE_OF if name in files]
    filter_matches = read_table(inputs["filter_matches"]) if inputs.get("filter_matches") \
        else None
    influence = read_table(inputs["filter_influence"]) if inputs.get("filter_influence") \
        else None
    q, share = settings["max_qvalue"], settings["min_share"]
    tables = []
    for target in targets:
        table = {name: read_table(paths[target]) for name, paths in files.items()}
        evidence = {
            "denovo": denovo_evidence(table.get("patterns"), groups, q, share),
            "seqlets": seqlet_evidence(table.get("annotated"), table.get("seqlet_counts"),
                                       groups, q, share),
            "fimo": fimo_evidence(table.get("fimo_counts"), groups, q, settings["min_effect"]),
            "marginalize": marginal_evidence(table.get("marginalize"), groups,
                                             settings["min_z"], settings["min_effect"]),
        }
        rows = summarize_target(
            target, evidence, groups, lines_run, planted,
            hits=hit_counts(table.get("hits"), table.get("patterns"), groups, q)
            if "hits" in table else None,
            filters=best_filters(filter_matches, influence, target, groups, q),
            examples=example_loci(table.get("annotated"), groups, q),
            min_lines=settings["min_lines"])
        learned = rows.loc[rows["call"] == "learned", "motif"].tolist()
        log.info("%s: learned %s; %d weak; lines %s", target, ", ".join(learned) or "nothing",
                 int((rows["call"] == "weak").sum()), ",".join(lines_run))
        tables.append(rows)
    summary = pd.concat(tables, ignore_index=True)
    with atomic_path(out) as tmp:
        summary.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


if "snakemake" in globals():
    run(main, snakemake, inputs={k: v for k, v in snakemake.input.items()},
        targets=list(snakemake.params.targets), settings=snakemake.params.settings,
        out=snakemake.output.table)
