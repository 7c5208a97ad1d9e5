rule modisco:
    """De novo patterns of one target: TF-MoDISco on its attributions (modisco-lite 3.0,
    called as `modisco motifs` calls it), TOMTOM-labelled, with MEME files, a figure and
    the pattern seqlets on the genome."""
    input:
        attributions=result("attributions/{target}.h5"),
        onehot=target_loci("onehot.h5"),
        loci=target_loci("loci.tsv"),
        database=result("motifs/database.meme"),
        families=result("motifs/database.tsv"),
    output:
        h5=result("modisco/{target}.h5"),
        table=report(
            result("modisco/{target}.patterns.tsv"),
            caption="../workflow/report/modisco.rst",
            category="De novo patterns",
            subcategory="{target}",
        ),
        meme=result("modisco/{target}.patterns.meme"),
        cwm_meme=result("modisco/{target}.patterns.cwm.meme"),
        bed=result("modisco/{target}.seqlets.bed"),
        png=result("modisco/{target}.patterns.png"),
    log:
        log_path("modisco/{target}"),
    benchmark:
        benchmark_path("modisco/{target}")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(config["modisco"]["mem_mb"]),
        runtime=attempt_scaled(config["modisco"]["runtime"]),
    params:
        settings=modisco_settings(),
    script:
        "../workflow/scripts/modisco_patterns.py"


rule modisco_shared:
    """The patterns of all targets clustered into motifs: which targets share which."""
    input:
        h5=expand(result("modisco/{target}.h5"), target=TARGETS),
        tables=expand(result("modisco/{target}.patterns.tsv"), target=TARGETS),
    output:
        tsv=result("modisco/shared.tsv"),
        png=report(
            result("modisco/shared.png"),
            caption="../workflow/report/modisco.rst",
            category="De novo patterns",
        ),
    log:
        log_path("modisco_shared"),
    benchmark:
        benchmark_path("modisco_shared")
    conda:
        "../envs/motifscope.yaml"
    threads: 1
    resources:
        mem_mb=attempt_scaled(2000),
        runtime=attempt_scaled(20),
    params:
        targets=TARGETS,
        settings=config["modisco"],
    script:
        "../workflow/scripts/modisco_shared.py"
