rule call_hits:
    """Motif instances of one target: Fi-NeMo's sparse non-negative fit of the pattern
    CWMs to every window's attributions (GPU when present), in genome coordinates."""
    input:
        unpack(hits_inputs),
        attributions=result("attributions/{target}.h5"),
        onehot=target_loci("onehot.h5"),
        loci=target_loci("loci.tsv"),
        genome=genome_fasta(),
    output:
        tsv=report(
            result("hits/{target}.tsv"),
            caption="../workflow/report/hits.rst",
            category="Hits",
            subcategory="{target}",
        ),
        bed=result("hits/{target}.bed"),
        bb=result("hits/{target}.bb"),
        counts=result("hits/{target}.counts.tsv"),
    log:
        log_path("call_hits/{target}"),
    benchmark:
        benchmark_path("call_hits/{target}")
    conda:
        gpu_env()
    threads: 2
    resources:
        gpu=1,
        mem_mb=attempt_scaled(config["hits"]["mem_mb"]),
        runtime=attempt_scaled(config["hits"]["runtime"]),
    params:
        settings=config["hits"],
        device=config["device"],
    script:
        "../workflow/scripts/call_hits.py"


rule motif_syntax:
    """Co-occurrence of patterns within peaks and spacing/orientation of frequent pairs."""
    input:
        hits=result("hits/{target}.tsv"),
        counts=result("hits/{target}.counts.tsv"),
    output:
        cooccurrence=result("syntax/{target}.cooccurrence.tsv"),
        spacing=result("syntax/{target}.spacing.tsv"),
        cooccurrence_png=result("syntax/{target}.cooccurrence.png"),
        cooccurrence_pdf=result("syntax/{target}.cooccurrence.pdf"),
        spacing_png=result("syntax/{target}.spacing.png"),
        spacing_pdf=result("syntax/{target}.spacing.pdf"),
    log:
        log_path("motif_syntax/{target}"),
    benchmark:
        benchmark_path("motif_syntax/{target}")
    conda:
        "../envs/motifscope.yaml"
    threads: 1
    resources:
        mem_mb=attempt_scaled(2000),
        runtime=attempt_scaled(30),
    params:
        top=config["hits"]["spacing_pairs"],
    script:
        "../workflow/scripts/motif_syntax.py"
