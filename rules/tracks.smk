rule tracks:
    """Genome tracks of one target: projected attribution at base resolution (bigWig) and
    the prediction of each peak (bigWig + bedGraph)."""
    input:
        unpack(tracks_inputs),
        attributions=result("attributions/{target}.h5"),
        onehot=target_loci("onehot.h5"),
        loci=target_loci("loci.tsv"),
        genome=genome_fasta(),
    output:
        **tracks_outputs(),
    log:
        log_path("tracks/{target}"),
    benchmark:
        benchmark_path("tracks/{target}")
    conda:
        "../envs/motifscope.yaml"
    threads: 1
    resources:
        mem_mb=attempt_scaled(config["tracks"]["mem_mb"]),
        runtime=attempt_scaled(config["tracks"]["runtime"]),
    script:
        "../workflow/scripts/tracks.py"


rule track_hub:
    """tracks/trackDb.txt (UCSC track-hub stanzas) and tracks/README (IGV/UCSC how-to)."""
    output:
        trackdb=result("tracks/trackDb.txt"),
        readme=result("tracks/README"),
    log:
        log_path("track_hub"),
    benchmark:
        benchmark_path("track_hub")
    localrule: True
    conda:
        "../envs/motifscope.yaml"
    params:
        targets=TARGETS,
        hits=stage_on("hits"),
        prediction=config["tracks"]["prediction"],
    script:
        "../workflow/scripts/track_hub.py"
