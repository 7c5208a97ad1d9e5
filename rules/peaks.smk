rule extract_loci:
    """Windows centred on peak summits, read from the genome into one-hot arrays."""
    input:
        genome=genome_fasta(),
        peaks=peak_file(),
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
