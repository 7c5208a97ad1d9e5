"""Validation, paths and input functions shared by every rule (the only Python in rules/)."""

import gzip
import math
from pathlib import Path

from snakemake.utils import validate

validate(config, schema="../workflow/schemas/config.schema.yaml")

RUN = config["run"]
TARGETS = list(config["targets"])
SIMULATED = config["simulate"]["enabled"]


def result(path):
    """Path of an output of this run: results/<run>/<path>."""
    return f"results/{RUN}/{path}"


def log_path(name):
    """Path of the log file of a step: logs/<run>/<name>.log."""
    return f"logs/{RUN}/{name}.log"


def bench_path(name):
    """Path of the benchmark file of a step: benchmarks/<run>/<name>.tsv."""
    return f"benchmarks/{RUN}/{name}.tsv"


def window():
    return config["window"]


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


def peak_file():
    """The peak file: the simulated peaks for the demo, else config `peaks`."""
    return result("sim/peaks.narrowPeak") if SIMULATED else _user_file("peaks")


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


def motif_db_source():
    """Input files of the motif_db step (the MEME file), or nothing for a jaspar spec."""
    spec = config["motif_db"]
    return [] if spec.lower().startswith("jaspar:") else [spec]


# --- attribution shards ------------------------------------------------------------------


def _count_peak_lines(path):
    opener = gzip.open if Path(path).read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as fh:
        return sum(
            1
            for line in fh
            if line.strip() and not line.startswith(("#", "track", "browser"))
        )


def n_candidate_loci():
    """Upper bound on the number of loci, known when the workflow is parsed.

    Shards are fixed before `extract_loci` runs so that a dry run lists every job; peaks
    later dropped (duplicates, off-contig windows) only leave trailing shards emptier.
    """
    if SIMULATED and config["simulate"]["kind"] == "dragonn":
        return config["simulate"]["dragonn"]["num_pos"]
    if SIMULATED:
        return sum(m["peaks"] for m in config["simulate"]["motifs"])
    path = peak_file()
    return _count_peak_lines(path) if Path(path).exists() else 1


def shard_ids():
    """Zero-padded shard ids 0000, 0001, ...: shard k holds loci [k*size, (k+1)*size)."""
    size = config["attribution"]["shard_size"]
    n = max(1, math.ceil(n_candidate_loci() / size))
    return [f"{k:04d}" for k in range(n)]


def shard_bounds(wildcards):
    """[start, end) loci of a shard, from the `shard` wildcard."""
    size = config["attribution"]["shard_size"]
    k = int(wildcards.shard)
    return {"start": k * size, "end": (k + 1) * size}


def attribution_shards(wildcards):
    return expand(
        result("attributions/shards/{target}/{shard}.h5"),
        target=wildcards.target,
        shard=shard_ids(),
    )


def modisco_npz_outputs():
    """Extra outputs of merge_attributions when attribution.modisco_npz is on."""
    if not config["attribution"]["modisco_npz"]:
        return {}
    return {
        "ohe": result("attributions/{target}.ohe.npz"),
        "shap": result("attributions/{target}.shap.npz"),
    }


def target_index(wildcards):
    """Model output column of the `target` wildcard (config `targets`)."""
    return config["targets"][wildcards.target]


def attribution_params():
    """The attribution settings that change the values of a shard (not its resources)."""
    keys = (
        "method",
        "n_shuffles",
        "batch_size",
        "warning_threshold",
        "ism_start",
        "ism_end",
    )
    return {key: config["attribution"][key] for key in keys}


# --- first-layer filters -----------------------------------------------------------------


def filter_labels():
    """Labels for filter influence: config filters.influence.labels, else the demo's
    training table (one 0/1 column per target), else none."""
    labels = config["filters"]["influence"]["labels"]
    if labels:
        return [labels]
    return [result("sim/training.tsv")] if SIMULATED else []


def filter_influence_inputs(wildcards):
    return {
        "onehot": result("loci/onehot.h5"),
        "loci": result("loci/loci.tsv"),
        "model": model_file(),
        "labels": filter_labels(),
    }


def filter_table_inputs(wildcards):
    inputs = {
        "pwms": result("filters/pwms.tsv"),
        "matches": result("filters/matches.tsv"),
    }
    if config["filters"]["influence"]["enabled"]:
        inputs["influence"] = result("filters/influence.tsv")
    return inputs


# --- hits and tracks -----------------------------------------------------------------------


def hits_inputs(wildcards):
    """CWMs of call_hits: config hits.motifs ("{target}" filled in), else this run's modisco
    h5 and its TOMTOM-labelled patterns.tsv."""
    source = config["hits"]["motifs"]
    if source:
        return {"motifs": source.replace("{target}", wildcards.target)}
    return {
        "motifs": result(f"modisco/{wildcards.target}.h5"),
        "patterns": result(f"modisco/{wildcards.target}.patterns.tsv"),
    }


def hits_available():
    """call_hits can run: CWMs from hits.motifs, or the modisco stage is on and defined."""
    return bool(config["hits"]["motifs"]) or (
        rule_defined("modisco") and stage_on("modisco")
    )


def tracks_inputs(wildcards):
    if config["tracks"]["prediction"]:
        return {"predictions": result("predictions/predictions.tsv")}
    return {}


def tracks_outputs():
    outputs = {"bigwig": result("tracks/{target}.bw")}
    if config["tracks"]["prediction"]:
        outputs["prediction_bw"] = result("tracks/{target}.prediction.bw")
        outputs["prediction_bedgraph"] = result("tracks/{target}.prediction.bedGraph")
    return outputs


# --- report and paper figures ---------------------------------------------------------------

PAPER = config["paper"]["enabled"]
PAPER_FIGURES = ["positional_prc", "benchmark_tracks"]
PAPER_TABLE_FIGURES = ["paper_marginalization", "paper_seqlet_annotation"]


def report_inputs(wildcards):
    """Every stage output the report reads, for the stages that are switched on."""
    inputs = {
        "loci": [result("loci/loci.tsv"), result("loci/onehot.h5")],
        "predictions": result("predictions/predictions.tsv"),
        "database": [result("motifs/database.meme"), result("motifs/database.tsv")],
    }
    if SIMULATED:
        inputs["simulation"] = [
            result(p) for p in ("sim/truth.tsv", "sim/training.tsv", "model/model.json")
        ]
    per_target = {
        "attribution": ["attributions/{target}.h5", "attributions/{target}.png"],
        "seqlets": [
            "seqlets/{target}.tsv",
            "seqlets/{target}.png",
            "seqlets/{target}.annotated.tsv",
            "seqlets/{target}.counts.tsv",
        ],
        "fimo": ["fimo/{target}.counts.tsv", "fimo/{target}.hits.tsv.gz"],
        "marginalize": ["marginalize/{target}.tsv", "marginalize/{target}.png"],
    }
    for stage, patterns in per_target.items():
        if stage_on(stage):
            inputs[stage] = [
                f for p in patterns for f in expand(result(p), target=TARGETS)
            ]
    if stage_on("seqlets"):
        inputs["seqlets"].append(result("motifs/clusters.tsv"))
    if stage_on("filters"):
        names = (
            "table.tsv",
            "tomtom.tsv",
            "matches.tsv",
            "weights.png",
            "influence.png",
        )
        inputs["filters"] = [result(f"filters/{n}") for n in names]
        inputs["filters"].append(result("filters/logos"))
    if PAPER:
        inputs["paper"] = paper_outputs()
    return inputs


def report_figure_stems():
    """The report's own figures, by caption: figures/<stem>.{png,pdf}."""
    stems = {"performance": ["performance"]}
    if stage_on("attribution"):
        stems["attribution"] = [f"attribution_{t}" for t in TARGETS]
    if SIMULATED:
        stems["recovery"] = ["recovery"]
    return stems


def report_figures():
    """The report's outputs besides the page: every figure as PNG (in the Snakemake
    report, with a caption) and PDF."""
    outputs = {}
    for name, stems in report_figure_stems().items():
        outputs[f"{name}_png"] = report(
            [result(f"figures/{s}.png") for s in stems],
            caption=f"../workflow/report/report_{name}.rst",
            category="Report figures",
        )
        outputs[f"{name}_pdf"] = [result(f"figures/{s}.pdf") for s in stems]
    return outputs


def checksum_inputs():
    """Input files the report lists with their SHA-256 (label -> path)."""
    database = motif_db_source()
    return {
        "genome": genome_fasta(),
        "peaks": peak_file(),
        "model": model_file(),
        "motif database": database[0] if database else result("motifs/database.meme"),
    }


def paper_outputs():
    """What config/examples/paper.yaml adds: the benchmark table and the paper figures."""
    stems = PAPER_FIGURES + PAPER_TABLE_FIGURES
    return [result("benchmark/positional_prc.tsv")] + [
        result(f"figures/{s}.png") for s in stems
    ]


def paper_table_inputs(wildcards):
    """Marginalization and seqlet-annotation tables of the paper figures (stages on)."""
    inputs = {}
    if stage_on("marginalize"):
        inputs["marginalize"] = expand(
            result("marginalize/{target}.tsv"), target=TARGETS
        )
    if stage_on("seqlets"):
        inputs["counts"] = expand(result("seqlets/{target}.counts.tsv"), target=TARGETS)
    return inputs


# --- final targets -------------------------------------------------------------------------


def stage_on(name):
    return config["stages"].get(name, True)


def rule_defined(name):
    return any(r.name == name for r in workflow.rules)


def final_outputs():
    """Everything the all target asks for, for the stages that are switched on and exist."""
    outputs = [
        result("motifs/database.meme"),
        result("loci/loci.tsv"),
        result("predictions/predictions.tsv"),
    ]
    if SIMULATED:
        outputs += [result("sim/truth.tsv"), result("model/model.json")]
    per_target = {
        "merge_attributions": ("attribution", "attributions/{target}.h5"),
        "call_seqlets": ("seqlets", "seqlets/{target}.tsv"),
        "annotate_seqlets": ("seqlets", "seqlets/{target}.counts.tsv"),
        "fimo": ("fimo", "fimo/{target}.counts.tsv"),
        "marginalize": ("marginalize", "marginalize/{target}.tsv"),
    }
    for rule_name, (stage, pattern) in per_target.items():
        if rule_defined(rule_name) and stage_on(stage):
            outputs += expand(result(pattern), target=TARGETS)
    if rule_defined("call_hits") and stage_on("hits") and hits_available():
        for pattern in ("hits/{target}.tsv", "syntax/{target}.cooccurrence.tsv"):
            outputs += expand(result(pattern), target=TARGETS)
    if rule_defined("tracks") and stage_on("tracks") and stage_on("attribution"):
        outputs += expand(result("tracks/{target}.bw"), target=TARGETS)
        outputs.append(result("tracks/trackDb.txt"))
    if rule_defined("filter_table") and stage_on("filters"):
        outputs.append(result("filters/table.tsv"))
    if rule_defined("report") and stage_on("report"):
        outputs.append(result("report.html"))
    if rule_defined("benchmark") and PAPER:
        outputs += paper_outputs()
    return outputs
