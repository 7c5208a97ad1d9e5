# Input functions of the attribution stage.

import gzip
import math
from pathlib import Path


def _count_peak_lines(path):
    opener = gzip.open if Path(path).read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as fh:
        return sum(
            1
            for line in fh
            if line.strip() and not line.startswith(("#", "track", "browser"))
        )


def n_candidate_loci(target=None):
    """Upper bound on the number of loci (of `target`'s windows), known when the workflow is
    parsed.

    Shards are fixed before `extract_loci` runs so that a dry run lists every job; peaks
    later dropped (duplicates, off-contig windows) only leave trailing shards emptier.
    """
    if SIMULATED and config["simulate"]["kind"] == "dragonn":
        return config["simulate"]["dragonn"]["num_pos"]
    if SIMULATED:
        # distractors (target null) get no peaks of their own
        return sum(m["peaks"] for m in config["simulate"]["motifs"] if m["target"])
    paths = [TARGET_PEAKS[target]] if target in TARGET_PEAKS else peak_files()
    return sum(_count_peak_lines(p) if Path(p).exists() else 1 for p in paths)


def shard_ids(target=None):
    """Zero-padded shard ids 0000, 0001, ...: shard k holds loci [k*size, (k+1)*size) of
    the target's windows."""
    size = config["attribution"]["shard_size"]
    n = max(1, math.ceil(n_candidate_loci(target) / size))
    return [f"{k:04d}" for k in range(n)]


def shard_bounds(wildcards):
    """[start, end) loci of a shard, from the `shard` wildcard."""
    size = config["attribution"]["shard_size"]
    k = int(wildcards.shard)
    return {"start": k * size, "end": (k + 1) * size}


def attribution_shards(wildcards):
    return expand(
        result("attributions/shards/{target}/{shard}.h5"),
        target=wildcards.target,
        shard=shard_ids(wildcards.target),
    )


def modisco_npz_outputs():
    """Extra outputs of merge_attributions when attribution.modisco_npz is on."""
    if not config["attribution"]["modisco_npz"]:
        return {}
    return {
        "ohe": result("attributions/{target}.ohe.npz"),
        "shap": result("attributions/{target}.shap.npz"),
    }


def target_index(wildcards):
    """Model output column of the `target` wildcard (config `targets`)."""
    return config["targets"][wildcards.target]


def attribution_params():
    """The attribution settings that change the values of a shard (not its resources)."""
    keys = (
        "method",
        "n_shuffles",
        "batch_size",
        "warning_threshold",
        "ism_start",
        "ism_end",
        "allow_approximate",
    )
    return {key: config["attribution"][key] for key in keys}
