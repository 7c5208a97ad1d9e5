rule call_seqlets:
    """Seqlets of one target from its attributions, in genome coordinates (TSV, BED, figure)."""
    input:
        attributions=result("attributions/{target}.h5"),
        onehot=target_loci("onehot.h5"),
        loci=target_loci("loci.tsv"),
    output:
        tsv=report(
            result("seqlets/{target}.tsv"),
            caption="../workflow/report/seqlets_table.rst",
            category="Seqlets",
            subcategory="{target}",
        ),
        bed=result("seqlets/{target}.bed"),
        plot=report(
            result("seqlets/{target}.png"),
            caption="../workflow/report/seqlets.rst",
            category="Seqlets",
            subcategory="{target}",
        ),
        pdf=result("seqlets/{target}.pdf"),
    log:
        log_path("call_seqlets/{target}"),
    benchmark:
        benchmark_path("call_seqlets/{target}")
    conda:
        "../envs/motifscope.yaml"
    threads: 1
    resources:
        mem_mb=attempt_scaled(config["seqlets"]["mem_mb"]),
        runtime=attempt_scaled(config["seqlets"]["runtime"]),
    params:
        settings=config["seqlets"],
        device=config["device"],
    script:
        "../workflow/scripts/call_seqlets.py"
