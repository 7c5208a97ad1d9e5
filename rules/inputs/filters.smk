# Input functions of the filters stage.


def filter_labels():
    """Labels for filter influence: config filters.influence.labels, else the demo's
    training table (one 0/1 column per target), else none."""
    labels = config["filters"]["influence"]["labels"]
    if labels:
        return [labels]
    return [result("sim/training.tsv")] if SIMULATED else []


def filter_pwm_labels():
    """Labels for filters.positive_for (the filter_labels() table), or nothing."""
    chosen = config["filters"]["positive_for"]
    if not chosen:
        return []
    unknown = [t for t in chosen if t not in config["targets"]]
    labels = filter_labels()
    if unknown or not labels:
        raise ValueError(
            f"config key filters.positive_for: {unknown or chosen} "
            + ("are not targets" if unknown else "needs filters.influence.labels")
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
