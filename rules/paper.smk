# The paper configuration (config/examples/paper.yaml): DragoNN's benchmark and the paper
# figures.


rule benchmark:
    """DragoNN's benchmark on held-out simulated sequences: ISM, DeepLIFT/SHAP and a motif
    scan scored by positional auPRC against the planted instances."""
    input:
        model=model_file(),
        genome=genome_fasta(),
        truth=result("sim/truth.tsv"),
        regions=result("sim/training.tsv"),
        motifs=result("motifs/database.meme"),
    output:
        table=report(
            result("benchmark/positional_prc.tsv"),
            caption="../workflow/report/benchmark_table.rst",
            category="Paper figures",
        ),
        curves=result("benchmark/pr_curves.tsv"),
        scores=result("benchmark/scores.h5"),
        prc=report(
            result("figures/positional_prc.png"),
            caption="../workflow/report/benchmark_prc.rst",
            category="Paper figures",
        ),
        prc_pdf=result("figures/positional_prc.pdf"),
        tracks=report(
            result("figures/benchmark_tracks.png"),
            caption="../workflow/report/benchmark_tracks.rst",
            category="Paper figures",
        ),
        tracks_pdf=result("figures/benchmark_tracks.pdf"),
    log:
        log_path("benchmark"),
    conda:
        gpu_env()
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=120,
    params:
        model=model_spec(),
        targets=config["targets"],
        held_out=config["simulate"]["held_out"],
        gc=config["simulate"]["gc"],
        settings=config["paper"],
        device=config["device"],
        random_state=config["random_state"],
    script:
        "../workflow/scripts/benchmark.py"


rule paper_figures:
    """tangermeme-style figures of the marginalization and seqlet-annotation tables."""
    input:
        unpack(paper_table_inputs),
    output:
        marginalization=report(
            result("figures/paper_marginalization.png"),
            caption="../workflow/report/paper_marginalization.rst",
            category="Paper figures",
        ),
        marginalization_pdf=result("figures/paper_marginalization.pdf"),
        annotation=report(
            result("figures/paper_seqlet_annotation.png"),
            caption="../workflow/report/paper_seqlet_annotation.rst",
            category="Paper figures",
        ),
        annotation_pdf=result("figures/paper_seqlet_annotation.pdf"),
    log:
        log_path("paper_figures"),
    benchmark:
        benchmark_path("paper_figures")
    localrule: True
    conda:
        "../envs/motifscope.yaml"
    params:
        targets=config["targets"],
        top=config["paper"]["top"],
    script:
        "../workflow/scripts/paper_figures.py"
