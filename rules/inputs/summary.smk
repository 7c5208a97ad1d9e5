# Input functions of the summary stage.

# Snakemake's report lists result categories alphabetically: the leading "1." puts the
# answer first.
SUMMARY_CATEGORY = "1. What the model learned"


def stage_known_and_runs(name):
    """Whether a stage is in the table (stages arrive over time) and runs."""
    return name in STAGES and stage_runs(name)


def summary_inputs(wildcards):
    """The evidence files of every stage that runs, per target, plus the motif groups, the
    filters' matches and influence, and the demo's truth."""
    per_target = {
        "patterns": ("modisco", "modisco/{target}.patterns.tsv"),
        "annotated": ("seqlets", "seqlets/{target}.annotated.tsv"),
        "seqlet_counts": ("seqlets", "seqlets/{target}.counts.tsv"),
        "fimo_counts": ("fimo", "fimo/{target}.counts.tsv"),
        "marginalize": ("marginalize", "marginalize/{target}.tsv"),
        "hits": ("hits", "hits/{target}.tsv"),
    }
    inputs = {
        "clusters": result("motifs/clusters.tsv"),
        "database": result("motifs/database.tsv"),
    }
    for name, (stage, pattern) in per_target.items():
        if stage_known_and_runs(stage):
            inputs[name] = expand(result(pattern), target=TARGETS)
    if stage_known_and_runs("filters"):
        inputs["filter_matches"] = result("filters/tomtom.tsv")
        if config["filters"]["influence"]["enabled"]:
            inputs["filter_influence"] = result("filters/influence.tsv")
    if SIMULATED:
        inputs["truth"] = result("sim/truth.tsv")
    return inputs


def summary_settings():
    """The call rule's thresholds: config summary plus the keys it shares with other stages
    (one default per parameter)."""
    return {
        **config["summary"],
        "max_qvalue": config["annotation"]["max_qvalue"],
        "min_z": config["report"]["min_z"],
        "min_effect": config["report"]["min_effect"],
    }
