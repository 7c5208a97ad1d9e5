rule simulate:
    """Simulate a genome with database motifs planted in peaks (demo and paper figures)."""
    input:
        motifs=result("motifs/database.meme"),
    output:
        genome=result("sim/genome.fa"),
        peaks=result("sim/peaks.narrowPeak"),
        truth=result("sim/truth.tsv"),
        regions=result("sim/training.tsv"),
    log:
        log_path("simulate"),
    benchmark:
        benchmark_path("simulate")
    conda:
        "../envs/motifscope.yaml"
    params:
        simulate=config["simulate"],
        window=config["window"],
        random_state=config["random_state"],
        targets=list(config["targets"]),
    script:
        "../workflow/scripts/simulate.py"


rule train:
    """Train the demo CNN on the simulated genome; write its weights and model card."""
    input:
        genome=result("sim/genome.fa"),
        regions=result("sim/training.tsv"),
    output:
        model=result("model/model.pt"),
        card=result("model/model.json"),
    log:
        log_path("train"),
    benchmark:
        benchmark_path("train")
    conda:
        "../envs/motifscope.yaml"
    threads: 2
    resources:
        mem_mb=attempt_scaled(4000),
        runtime=attempt_scaled(30),
    params:
        train=config["train"],
        targets=config["targets"],
        window=config["window"],
        held_out=config["simulate"]["held_out"],
        random_state=config["random_state"],
    script:
        "../workflow/scripts/train.py"
