rule attribute:
    """DeepLIFT/SHAP (or ISM) attributions of one shard of loci for one target."""
    input:
        onehot=target_loci("onehot.h5"),
        model=model_file(),
    output:
        result("attributions/shards/{target}/{shard}.h5"),
    log:
        log_path("attribute/{target}.{shard}"),
    benchmark:
        benchmark_path("attribute/{target}.{shard}")
    conda:
        gpu_env()
    threads: 2
    resources:
        gpu=1,
        mem_mb=attempt_scaled(config["attribution"]["mem_mb"]),
        runtime=attempt_scaled(config["attribution"]["runtime"]),
    params:
        model=model_spec(),
        target_index=target_index,
        bounds=shard_bounds,
        attribution=attribution_params(),
        device=config["device"],
        random_state=config["random_state"],
    script:
        "../workflow/scripts/attribute.py"


rule merge_attributions:
    """Concatenate the shards of one target into attributions/<target>.h5 (+ modisco npz)."""
    input:
        shards=attribution_shards,
        onehot=target_loci("onehot.h5"),
    output:
        **modisco_npz_outputs(),
        h5=result("attributions/{target}.h5"),
        png=report(
            result("attributions/{target}.png"),
            caption="../workflow/report/attribution.rst",
            category="Attribution",
            subcategory="{target}",
        ),
        pdf=result("attributions/{target}.pdf"),
    log:
        log_path("merge_attributions/{target}"),
    benchmark:
        benchmark_path("merge_attributions/{target}")
    conda:
        "../envs/motifscope.yaml"
    resources:
        mem_mb=attempt_scaled(4000),
    params:
        dtype=config["attribution"]["dtype"],
        allow_large_deltas=config["attribution"]["allow_large_deltas"],
    script:
        "../workflow/scripts/merge_attributions.py"
