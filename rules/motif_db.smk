rule motif_db:
    """Export the motif database (a MEME file, or JASPAR offline) as MEME v4 plus a table."""
    input:
        motif_db_source(),
    output:
        meme=result("motifs/database.meme"),
        table=result("motifs/database.tsv"),
    log:
        log_path("motif_db"),
    conda:
        "../envs/motifscope.yaml"
    params:
        spec=config["motif_db"],
    script:
        "../workflow/scripts/motif_db.py"
