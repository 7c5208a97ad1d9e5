rule predict:
    """Batched predictions of the model on every locus, one column per target."""
    input:
        onehot=result("loci/onehot.h5"),
        loci=result("loci/loci.tsv"),
        model=model_file(),
    output:
        tsv=result("predictions/predictions.tsv"),
        h5=result("predictions/predictions.h5"),
    log:
        log_path("predict"),
    benchmark:
        benchmark_path("predict")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(8000),
    params:
        model=model_spec(),
        targets=config["targets"],
        batch_size=config["predict"]["batch_size"] or config["batch_size"],
        device=config["device"],
    script:
        "../workflow/scripts/predict.py"
