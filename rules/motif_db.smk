rule motif_db:
    """Export the motif database (a MEME file, or JASPAR offline) as MEME v4 plus a table."""
    input:
        motif_db_source(),
    output:
        meme=result("motifs/database.meme"),
        table=result("motifs/database.tsv"),
    log:
        log_path("motif_db"),
    benchmark:
        benchmark_path("motif_db")
    conda:
        "../envs/motifscope.yaml"
    params:
        spec=config["motif_db"],
    script:
        "../workflow/scripts/motif_db.py"


rule motif_clusters:
    """Group near-identical database motifs by TOMTOM (complete linkage on p-values)."""
    input:
        result("motifs/database.meme"),
    output:
        result("motifs/clusters.tsv"),
    log:
        log_path("motif_clusters"),
    benchmark:
        benchmark_path("motif_clusters")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(4000),
    params:
        threshold=config["annotation"]["cluster_threshold"],
        min_overlap=config["annotation"]["cluster_min_overlap"],
        device=config["device"],
    script:
        "../workflow/scripts/motif_clusters.py"
