# Input functions of the report.


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
