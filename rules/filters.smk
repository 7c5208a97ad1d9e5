rule filter_pwms:
    """First-layer filters -> PFMs by the Basset or DanQ rule: MEME file, per-filter table,
    logos and weight heat maps."""
    input:
        onehot=result("loci/onehot.h5"),
        loci=result("loci/loci.tsv"),
        labels=filter_pwm_labels(),
        peak_sets=filter_peak_sets(),
        model=model_file(),
    output:
        meme=result("filters/filters.meme"),
        pwms=result("filters/pwms.tsv"),
        logos=report(
            directory(result("filters/logos")),
            patterns=["{name}.png"],
            caption="../workflow/report/filters_logos.rst",
            category="First-layer filters",
            subcategory="Logos",
        ),
        weights=report(
            result("filters/weights.png"),
            caption="../workflow/report/filters_weights.rst",
            category="First-layer filters",
        ),
        weights_pdf=result("filters/weights.pdf"),
    log:
        log_path("filter_pwms"),
    benchmark:
        benchmark_path("filter_pwms")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(8000),
        runtime=attempt_scaled(60),
    params:
        model=model_spec(),
        filters=config["filters"],
        batch_size=config["filters"]["batch_size"] or config["batch_size"],
        device=config["device"],
    script:
        "../workflow/scripts/filter_pwms.py"


rule filter_tomtom:
    """TOMTOM of the filter PFMs against the motif database (Pearson, as Basset); best
    match of every filter by q-value."""
    input:
        meme=result("filters/filters.meme"),
        pwms=result("filters/pwms.tsv"),
        database=result("motifs/database.meme"),
    output:
        tomtom=result("filters/tomtom.tsv"),
        matches=result("filters/matches.tsv"),
    log:
        log_path("filter_tomtom"),
    benchmark:
        benchmark_path("filter_tomtom")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(4000),
    params:
        tomtom=config["filters"]["tomtom"],
        device=config["device"],
    script:
        "../workflow/scripts/filter_tomtom.py"


rule filter_influence:
    """Influence of every filter on every target: its activation replaced by its mean."""
    input:
        unpack(filter_influence_inputs),
    output:
        tsv=result("filters/influence.tsv"),
    log:
        log_path("filter_influence"),
    benchmark:
        benchmark_path("filter_influence")
    conda:
        gpu_env()
    threads: 2
    resources:
        gpu=1,
        mem_mb=attempt_scaled(8000),
        runtime=attempt_scaled(120),
    params:
        model=model_spec(),
        targets=config["targets"],
        filters=config["filters"],
        batch_size=config["filters"]["batch_size"] or config["batch_size"],
        device=config["device"],
    script:
        "../workflow/scripts/filter_influence.py"


rule filter_table:
    """One row per filter (consensus, best match, IC, activation, sites, influence per
    target) and the clustered influence heat map."""
    input:
        unpack(filter_table_inputs),
    output:
        table=report(
            result("filters/table.tsv"),
            caption="../workflow/report/filters_table.rst",
            category="First-layer filters",
        ),
        heatmap=report(
            result("filters/influence.png"),
            caption="../workflow/report/filters_influence.rst",
            category="First-layer filters",
        ),
        heatmap_pdf=result("filters/influence.pdf"),
    log:
        log_path("filter_table"),
    benchmark:
        benchmark_path("filter_table")
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=attempt_scaled(2000),
    params:
        filters=config["filters"],
    script:
        "../workflow/scripts/filter_table.py"
