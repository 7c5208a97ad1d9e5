rule annotate_seqlets:
    """Best TOMTOM matches of every seqlet of a target; counts per motif group."""
    input:
        seqlets=result("seqlets/{target}.tsv"),
        onehot=target_loci("onehot.h5"),
        motifs=result("motifs/database.meme"),
        table=result("motifs/database.tsv"),
        clusters=result("motifs/clusters.tsv"),
    output:
        annotated=result("seqlets/{target}.annotated.tsv"),
        counts=report(
            result("seqlets/{target}.counts.tsv"),
            caption="../workflow/report/annotate_seqlets.rst",
            category="Seqlets",
            labels={"target": "{target}", "table": "seqlet annotation counts"},
        ),
    log:
        log_path("annotate_seqlets/{target}"),
    benchmark:
        benchmark_path("annotate_seqlets/{target}")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(8000),
    params:
        settings=config["annotation"],
        device=config["device"],
        random_state=config["random_state"],
    script:
        "../workflow/scripts/annotate_seqlets.py"
