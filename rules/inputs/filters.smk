# Input functions of the filters stage.


def filter_labels():
    """Labels for filter influence: config filters.influence.labels, else the demo's
    training table (one 0/1 column per target), else none."""
    labels = config["filters"]["influence"]["labels"]
    if labels:
        return [labels]
    return [result("sim/training.tsv")] if SIMULATED else []


def filter_peak_sets():
    """The chosen targets' own loci tables, which say what is positive for
    filters.positive_for when no labels file is given and every chosen target has its own
    peak file (config `peaks` as a mapping); else nothing."""
    chosen = config["filters"]["positive_for"]
    if not chosen or filter_labels() or not all(t in TARGET_PEAKS for t in chosen):
        return []
    return [result(f"loci/targets/{t}/loci.tsv") for t in chosen]


def filter_pwm_labels():
    """Labels for filters.positive_for (the filter_labels() table), or nothing."""
    chosen = config["filters"]["positive_for"]
    if not chosen:
        return []
    unknown = [t for t in chosen if t not in config["targets"]]
    labels = filter_labels()
    if not unknown and not labels and filter_peak_sets():
        return []
    if unknown or not labels:
        raise ValueError(
            f"config key filters.positive_for: {unknown or chosen} "
            + (
                "are not targets"
                if unknown
                else "needs filters.influence.labels (or each target's own peak file)"
            )
        )
    return labels


def filter_influence_inputs(wildcards):
    return {
        "onehot": result("loci/onehot.h5"),
        "loci": result("loci/loci.tsv"),
        "model": model_file(),
        "labels": filter_labels(),
    }


def filter_table_inputs(wildcards):
    inputs = {
        "pwms": result("filters/pwms.tsv"),
        "matches": result("filters/matches.tsv"),
    }
    if config["filters"]["influence"]["enabled"]:
        inputs["influence"] = result("filters/influence.tsv")
    return inputs
