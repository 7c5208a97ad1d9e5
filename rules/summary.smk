rule summary:
    """One answer per target: every motif the stages found, its evidence and the call
    (learned / weak / not evidenced; motifscope.evaluation.summary)."""
    input:
        unpack(summary_inputs),
    output:
        table=report(
            result("summary.tsv"),
            caption="../workflow/report/summary.rst",
            category=SUMMARY_CATEGORY,
        ),
    log:
        log_path("summary"),
    benchmark:
        benchmark_path("summary")
    localrule: True
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=4000,
    params:
        targets=TARGETS,
        settings=summary_settings(),
    script:
        "../workflow/scripts/summary.py"
