"""Validation, paths, resources and the stage table shared by every rule; each stage's
input functions are in rules/inputs/ (the only Python in rules/)."""

from snakemake.utils import validate

from motifscope.io.loci import loci_folder, target_peak_files
from motifscope.validation import (
    check_config_choices,
    check_config_keys,
    check_target_peaks,
)

# unknown keys first (with "did you mean"), then the schema, then combinations of values
check_config_keys(
    config,
    Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
    source=" + ".join(str(f) for f in workflow.configfiles) or "config",
)
validate(config, schema="../workflow/schemas/config.schema.yaml")
check_config_choices(config)

RUN = config["run"]
SIMULATED = config["simulate"]["enabled"]


def result(path):
    """Path of an output of this run: results/<run>/<path>."""
    return f"results/{RUN}/{path}"


def log_path(name):
    """Path of the log file of a step: logs/<run>/<name>.log."""
    return f"logs/{RUN}/{name}.log"


def benchmark_path(name):
    """Path of a step's Snakemake benchmark table (wall time, peak memory, I/O):
    benchmarks/<run>/<name>.tsv, one file per job."""
    return f"benchmarks/{RUN}/{name}.tsv"


def window():
    return config["window"]


def gpu_env():
    """Conda environment of the GPU rules (resources gpu=1): the CUDA build of PyTorch
    (envs/motifscope-cuda.yaml) when config conda_cuda is true, else the CPU one."""
    name = "motifscope-cuda" if config["conda_cuda"] else "motifscope"
    return f"../envs/{name}.yaml"


def attempt_scaled(base):
    """Resource value that grows with the attempt: `base` on the first try, then
    `base * attempt` when a profile's `retries:` resubmits a failed job, so a job killed
    for memory or time (OUT_OF_MEMORY, TIMEOUT on Slurm) gets more the next time."""

    def scaled(wildcards, attempt):
        return base * attempt

    return scaled


# --- inputs that come from the user, or from the simulation for the demo --------------


def _user_file(key):
    value = config[key]
    if not value:
        raise ValueError(
            f"config key {key} is required unless simulate.enabled is true; "
            f"give the path to your {key} file"
        )
    return value


def genome_fasta():
    """The genome FASTA: the simulated one for the demo, else config `genome`."""
    return result("sim/genome.fa") if SIMULATED else _user_file("genome")


def peak_files():
    """Every peak file: the simulated peaks for the demo, else config `peaks` (one file, or
    the files of a mapping target -> file, in its order)."""
    if SIMULATED:
        return [result("sim/peaks.narrowPeak")]
    peaks = _user_file("peaks")
    return list(dict.fromkeys(peaks.values())) if isinstance(peaks, dict) else [peaks]


def target_peak_file(wildcards):
    """The peak file config `peaks` gives the `target` wildcard."""
    return TARGET_PEAKS[wildcards.target]


def target_loci(name):
    """Input function: `name` (loci.tsv or onehot.h5) of the windows of the `target`
    wildcard: loci/targets/<target>/ when it has its own peak file, else loci/."""

    def path(wildcards):
        return result(f"{loci_folder(config, wildcards.target)}/{name}")

    return path


def model_file():
    """The trained model: the demo model (from the train step), else config model.path."""
    if SIMULATED:
        return result("model/model.pt")
    path = config["model"]["path"]
    if not path:
        raise ValueError(
            "config key model.path is required unless simulate.enabled is true; "
            "give the trained model file"
        )
    return path


def model_spec():
    """The `model` config section as `motifscope.models.load_model` takes it."""
    spec = dict(config["model"])
    spec["path"] = model_file()
    spec["input_length"] = spec.get("input_length") or config["window"]
    spec["groups"] = globals().get("TARGET_GROUPS", [])
    if SIMULATED:
        train = config["train"]
        spec.update(
            format="state_dict",
            output=None,
            extra_inputs=[],
            **{"class": "motifscope.architectures.DemoCNN"},
            kwargs={
                "n_targets": len(TARGETS),
                "input_length": spec["input_length"],
                "n_filters": train["n_filters"],
                "filter_width": train["filter_width"],
                "pool": train["pool"],
            },
        )
    return spec


def _resolve_targets():
    """config `targets` as {name: output column} (summed groups: negative columns) and the
    groups; `all` without target_labels loads the model once to count its outputs."""
    from motifscope import targets as targets_lib

    spec = config["targets"]
    if SIMULATED:
        if not isinstance(spec, dict) or not all(
            isinstance(v, int) for v in spec.values()
        ):
            raise ValueError(
                "config key targets: the demo (simulate.enabled) takes a mapping "
                "name -> output column"
            )
        return dict(spec), []
    labels = config["target_labels"]
    labels = targets_lib.read_labels(labels) if labels else None
    needs_count = labels is None and (
        spec == "all" or (isinstance(spec, list) and "all" in spec)
    )
    count = targets_lib.count_outputs(model_spec()) if needs_count else None
    resolved = targets_lib.resolve_targets(spec, n_outputs=count, labels=labels)
    return resolved.columns, resolved.groups


config["targets"], TARGET_GROUPS = _resolve_targets()
TARGETS = list(config["targets"])
TARGET_PEAKS = target_peak_files(config)
check_target_peaks(TARGET_PEAKS, TARGETS)


# --- the stage table -----------------------------------------------------------------------
# A stage is declared here once, in pipeline order: its rules file(s) (included by the
# Snakefile in this order), its rules, its switch (key under `stages:`, or None when it always
# runs), the extra condition it runs under (`when`), the final outputs asked for by `all`
# (per rule, patterns under results/<run>/ with {target} expanded over the targets), the file
# whose presence the report's summary calls done (`done`, for stages without a switch), the
# files the report reads (`report_reads`, or "final": its final outputs) and the report sections
# that show them (motifscope.report.sections). A stage's input functions live
# in rules/inputs/<its rules file> (included at the end of this file).

PAPER = config["paper"]["enabled"]

STAGES = {
    "motif database": dict(
        smk=["motif_db.smk"],
        rules=["motif_db", "motif_clusters"],
        switch=None,
        when=True,
        final={"motif_db": ["motifs/database.meme"]},
        done="motifs/database.meme",
        report_reads=["motifs/database.meme", "motifs/database.tsv"],
        sections=["summary"],
    ),
    "simulation and training": dict(
        smk=["simulate.smk"],
        rules=["simulate", "train"],
        switch=None,
        when=SIMULATED,
        final={"simulate": ["sim/truth.tsv"], "train": ["model/model.json"]},
        done="model/model.json",
        report_reads=["sim/truth.tsv", "sim/training.tsv", "model/model.json"],
        sections=["model", "recovery"],
    ),
    "peaks": dict(
        smk=["peaks.smk"],
        rules=["extract_loci", "target_loci"],
        switch=None,
        when=True,
        final={"extract_loci": ["loci/loci.tsv"]},
        done="loci/loci.tsv",
        report_reads=["loci/loci.tsv", "loci/onehot.h5"],
        sections=["summary"],
    ),
    "predict": dict(
        smk=["predict.smk"],
        rules=["predict"],
        switch=None,
        when=True,
        final={"predict": ["predictions/predictions.tsv"]},
        done="predictions/predictions.tsv",
        report_reads=["predictions/predictions.tsv"],
        sections=["model"],
    ),
    "attribution": dict(
        smk=["attribution.smk"],
        rules=["attribute", "merge_attributions"],
        switch="attribution",
        when=True,
        final={"merge_attributions": ["attributions/{target}.h5"]},
        done=None,
        report_reads=["attributions/{target}.h5", "attributions/{target}.png"],
        sections=["attribution", "deltas"],
    ),
    "seqlets": dict(
        smk=["seqlets.smk", "annotate.smk"],
        rules=["call_seqlets", "annotate_seqlets"],
        switch="seqlets",
        when=True,
        final={
            "call_seqlets": ["seqlets/{target}.tsv"],
            "annotate_seqlets": ["seqlets/{target}.counts.tsv"],
        },
        done=None,
        report_reads=[
            "seqlets/{target}.tsv",
            "seqlets/{target}.png",
            "seqlets/{target}.annotated.tsv",
            "seqlets/{target}.counts.tsv",
            "motifs/clusters.tsv",
        ],
        sections=["seqlets"],
    ),
    "fimo": dict(
        smk=["fimo.smk"],
        rules=["fimo", "fimo_attribution"],
        switch="fimo",
        when=True,
        final={"fimo_attribution": ["fimo/{target}.counts.tsv"]},
        done=None,
        report_reads=["fimo/{target}.counts.tsv", "fimo/{target}.hits.tsv.gz"],
        sections=["fimo"],
    ),
    "filters": dict(
        smk=["filters.smk"],
        rules=["filter_pwms", "filter_tomtom", "filter_influence", "filter_table"],
        switch="filters",
        when=True,
        final={"filter_table": ["filters/table.tsv"]},
        done=None,
        report_reads=[
            "filters/table.tsv",
            "filters/tomtom.tsv",
            "filters/matches.tsv",
            "filters/weights.png",
            "filters/influence.png",
            "filters/logos",
        ],
        sections=["filters"],
    ),
    "marginalize": dict(
        smk=["marginalize.smk"],
        rules=["marginalize"],
        switch="marginalize",
        when=True,
        final={"marginalize": ["marginalize/{target}.tsv"]},
        done=None,
        report_reads=["marginalize/{target}.tsv", "marginalize/{target}.png"],
        sections=["marginalize"],
    ),
    "modisco": dict(
        smk=["modisco.smk"],
        rules=["modisco", "modisco_shared"],
        switch="modisco",
        when=config["stages"]["attribution"],
        final={
            "modisco": ["modisco/{target}.patterns.tsv"],
            "modisco_shared": ["modisco/shared.tsv"],
        },
        done=None,
        report_reads=[
            "modisco/{target}.h5",
            "modisco/{target}.patterns.tsv",
            "modisco/{target}.seqlets.bed",
            "modisco/shared.tsv",
        ],
        sections=["modisco"],
    ),
    "hits": dict(
        smk=["hits.smk"],
        rules=["call_hits", "motif_syntax"],
        switch="hits",
        # CWMs come from hits.motifs or this run's modisco patterns
        when=config["stages"]["attribution"]
        and bool(config["hits"]["motifs"] or config["stages"]["modisco"]),
        final={
            "call_hits": ["hits/{target}.tsv"],
            "motif_syntax": ["syntax/{target}.cooccurrence.tsv"],
        },
        done=None,
        report_reads=[
            "hits/{target}.tsv",
            "hits/{target}.counts.tsv",
            "syntax/{target}.cooccurrence.tsv",
        ],
        sections=["hits"],
    ),
    "tracks": dict(
        smk=["tracks.smk"],
        rules=["tracks", "track_hub"],
        switch="tracks",
        when=config["stages"]["attribution"],
        final={"tracks": ["tracks/{target}.bw"], "track_hub": ["tracks/trackDb.txt"]},
        done=None,
        report_reads=[],
        sections=["hits"],
    ),
    "summary": dict(
        smk=["summary.smk"],
        rules=["summary"],
        switch="summary",
        when=True,
        final={"summary": ["summary.tsv"]},
        done=None,
        report_reads="final",
        sections=["learned"],
    ),
    "report": dict(
        smk=["report.smk"],
        rules=["report"],
        switch="report",
        when=True,
        final={"report": ["report.html"]},
        done=None,
        report_reads=[],
        sections=[],
    ),
    "paper": dict(
        smk=["paper.smk"],
        rules=["benchmark", "paper_figures"],
        switch=None,
        when=PAPER,
        final={
            "benchmark": [
                "benchmark/positional_prc.tsv",
                "figures/positional_prc.png",
                "figures/benchmark_tracks.png",
                "figures/paper_marginalization.png",
                "figures/paper_seqlet_annotation.png",
            ]
        },
        done=None,
        report_reads="final",
        sections=["benchmark"],
    ),
}


def stage_on(name):
    return config["stages"].get(name, True)


def stage_runs(name):
    """Whether a stage of the table runs: its condition holds and its switch is on."""
    stage = STAGES[name]
    return bool(stage["when"]) and (
        stage["switch"] is None or stage_on(stage["switch"])
    )


def stage_outputs(name, rule_name=None):
    """The final outputs of a stage (of one of its rules), targets expanded."""
    final = STAGES[name]["final"]
    patterns = [p for r in ([rule_name] if rule_name else final) for p in final[r]]
    return [f for p in patterns for f in expand(result(p), target=TARGETS)]


def stage_report_inputs(name):
    """The files of a stage that the report reads, targets expanded."""
    patterns = STAGES[name]["report_reads"]
    if patterns == "final":
        return stage_outputs(name)
    return [f for p in patterns for f in expand(result(p), target=TARGETS)]


def rule_defined(name):
    return any(r.name == name for r in workflow.rules)


def final_outputs():
    """Everything the all target asks for: the final outputs of every stage that runs, for
    the rules that are defined."""
    outputs = []
    for name, stage in STAGES.items():
        if stage_runs(name):
            for rule_name in stage["final"]:
                if rule_defined(rule_name):
                    outputs += stage_outputs(name, rule_name)
    return outputs


def report_stage_table():
    """The stage table as the report's summary lists it (motifscope.report.sections
    ReportContext.stages): the stages with a switch or a done file (the report and the paper
    figures aside), those that run only for a simulation only then."""
    rows = []
    for name, stage in STAGES.items():
        listed = stage["switch"] is not None or stage["done"] is not None
        if name == "report" or not stage["when"] or not listed:
            continue
        rows.append(
            {
                "name": name,
                "rules": ", ".join(stage["rules"]),
                "switch": stage["switch"],
                "output": stage["done"],
            }
        )
    return rows


# Each stage's input functions, in rules/inputs/<rules file>.
include: "inputs/motif_db.smk"
include: "inputs/attribution.smk"
include: "inputs/filters.smk"
include: "inputs/modisco.smk"
include: "inputs/hits.smk"
include: "inputs/tracks.smk"
include: "inputs/summary.smk"
include: "inputs/report.smk"
include: "inputs/paper.smk"
