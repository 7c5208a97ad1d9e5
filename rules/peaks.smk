rule extract_loci:
    """Windows centred on peak summits, read from the genome into one-hot arrays (every
    peak file: with per-target peak files, their union)."""
    input:
        genome=genome_fasta(),
        peaks=peak_files(),
    output:
        loci=result("loci/loci.tsv"),
        onehot=result("loci/onehot.h5"),
    log:
        log_path("extract_loci"),
    benchmark:
        benchmark_path("extract_loci")
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=attempt_scaled(4000),
    params:
        window=config["window"],
        off_chrom=config["loci"]["off_chrom"],
        center=config["loci"]["center"],
        max_n_fraction=config["loci"]["max_n_fraction"],
    script:
        "../workflow/scripts/extract_loci.py"


rule target_loci:
    """The windows of one target's own peak file (config `peaks` as a mapping), with the row
    of each in loci/loci.tsv."""
    input:
        genome=genome_fasta(),
        peaks=target_peak_file,
        union_loci=result("loci/loci.tsv"),
    output:
        loci=result("loci/targets/{target}/loci.tsv"),
        onehot=result("loci/targets/{target}/onehot.h5"),
    log:
        log_path("target_loci/{target}"),
    benchmark:
        benchmark_path("target_loci/{target}")
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=attempt_scaled(4000),
    params:
        window=config["window"],
        off_chrom=config["loci"]["off_chrom"],
        center=config["loci"]["center"],
        max_n_fraction=config["loci"]["max_n_fraction"],
    script:
        "../workflow/scripts/extract_loci.py"
