"""motifscope: what did my sequence model learn?

peaks -> one-hot windows -> predictions -> attributions -> seqlets -> TOMTOM / FIMO
      -> first-layer filters -> marginalization -> report
"""

from snakemake.utils import min_version

min_version("9.0")


# A config given with --configfile replaces the demo's rather than being merged into it.
# Snakemake's --replace-workflow-config does the same for the main process but is not passed
# on to the jobs it submits (Slurm), which would then see the demo's keys as well.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# The stage table (rules/common.smk STAGES) lists the rules files below, in this order.
include: "rules/common.smk"


wildcard_constraints:
    target="|".join(TARGETS),
    shard=r"\d+",


include: "rules/motif_db.smk"
include: "rules/simulate.smk"
include: "rules/peaks.smk"
include: "rules/predict.smk"
include: "rules/attribution.smk"
include: "rules/seqlets.smk"
include: "rules/annotate.smk"
include: "rules/fimo.smk"
include: "rules/filters.smk"
include: "rules/marginalize.smk"
include: "rules/modisco.smk"
include: "rules/hits.smk"
include: "rules/tracks.smk"
include: "rules/summary.smk"
include: "rules/report.smk"
include: "rules/paper.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
    localrule: True
