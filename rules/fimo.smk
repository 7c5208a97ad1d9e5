rule fimo:
    """FIMO scan of every locus with every database motif (MEME scores and p-values)."""
    input:
        onehot=result("loci/onehot.h5"),
        loci=result("loci/loci.tsv"),
        motifs=result("motifs/database.meme"),
    output:
        result("fimo/scan.tsv.gz"),
    log:
        log_path("fimo"),
    benchmark:
        benchmark_path("fimo")
    conda:
        gpu_env()
    threads: 2
    resources:
        gpu=1,
        mem_mb=attempt_scaled(8000),
        runtime=attempt_scaled(120),
    params:
        settings=config["fimo"],
        device=config["device"],
    script:
        "../workflow/scripts/fimo.py"


rule fimo_attribution:
    """FIMO hits of one target with their summed attribution; per-motif counts above the
    attribution threshold."""
    input:
        scan=result("fimo/scan.tsv.gz"),
        onehot=target_loci("onehot.h5"),
        loci=target_loci("loci.tsv"),
        attributions=result("attributions/{target}.h5"),
        motifs=result("motifs/database.meme"),
    output:
        hits=result("fimo/{target}.hits.tsv.gz"),
        counts=report(
            result("fimo/{target}.counts.tsv"),
            caption="../workflow/report/fimo.rst",
            category="FIMO",
            labels={"target": "{target}", "table": "FIMO hit counts"},
        ),
    log:
        log_path("fimo_attribution/{target}"),
    benchmark:
        benchmark_path("fimo_attribution/{target}")
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=attempt_scaled(8000),
    params:
        settings=config["fimo"],
    script:
        "../workflow/scripts/fimo_attribution.py"
