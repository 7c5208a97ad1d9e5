rule report:
    """The self-contained report.html (every stage that ran, provenance, planted-motif
    recovery for simulations) and its figures as PDF and PNG."""
    input:
        unpack(report_inputs),
    output:
        **report_figures(),
        html=report(
            result("report.html"),
            caption="../workflow/report/report.rst",
            category="Report",
        ),
    log:
        log_path("report"),
    benchmark:
        benchmark_path("report")
    localrule: True
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=4000,
    params:
        config=config,
        checksums=checksum_inputs(),
        figures=report_figure_stems(),
        stages=report_stage_table(),
    script:
        "../workflow/scripts/report.py"
