rule marginalize:
    """Plant every database motif in backgrounds; mean change of each target, sorted."""
    input:
        model=model_file(),
        motifs=result("motifs/database.meme"),
        genome=genome_fasta(),
        peaks=peak_files(),
        onehot=result("loci/onehot.h5"),
    output:
        tables=expand(result("marginalize/{target}.tsv"), target=TARGETS),
        plots=report(
            expand(result("marginalize/{target}.png"), target=TARGETS),
            caption="../workflow/report/marginalize.rst",
            category="Marginalization",
        ),
        pdfs=expand(result("marginalize/{target}.pdf"), target=TARGETS),
    log:
        log_path("marginalize"),
    benchmark:
        benchmark_path("marginalize")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(8000),
        runtime=attempt_scaled(60),
    params:
        model=model_spec(),
        targets=config["targets"],
        settings=config["marginalize"],
        batch_size=config["marginalize"]["batch_size"] or config["batch_size"],
        device=config["device"],
        random_state=config["random_state"],
        n_shuffles=config["attribution"]["n_shuffles"],
    script:
        "../workflow/scripts/marginalize.py"
