# Input functions of the report.


def report_inputs(wildcards):
    """Every stage output the report reads (the stage table's `report_reads`), for the
    stages that run; keyed by the stage's switch, or by its first rule."""
    inputs = {}
    for name, stage in STAGES.items():
        if stage_runs(name) and stage["report_reads"]:
            inputs[stage["switch"] or stage["rules"][0]] = stage_report_inputs(name)
    if TARGET_PEAKS:
        inputs["target_loci"] = [
            result(f"loci/targets/{t}/{name}")
            for t in TARGET_PEAKS
            for name in ("loci.tsv", "onehot.h5")
        ]
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
    peaks = {f"peaks ({t})": path for t, path in TARGET_PEAKS.items()}
    return {
        "genome": genome_fasta(),
        **(peaks or {"peaks": peak_files()[0]}),
        "model": model_file(),
        "motif database": database[0] if database else result("motifs/database.meme"),
    }
