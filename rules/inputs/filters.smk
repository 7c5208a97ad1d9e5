# Input functions of the filters stage.


def filter_labels():
    """Labels for filter influence: config filters.influence.labels, else the demo's
    training table (one 0/1 column per target), else none."""
    labels = config["filters"]["influence"]["labels"]
    if labels:
        return [labels]
    return [result("sim/training.tsv")] if SIMULATED else []


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
