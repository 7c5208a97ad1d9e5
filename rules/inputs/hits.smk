# Input functions of the hits stage.


def hits_available():
    """call_hits has CWMs: config hits.motifs, or this run's modisco stage (defined, on)."""
    return bool(config["hits"]["motifs"]) or (
        rule_defined("modisco") and stage_on("modisco")
    )


def hits_inputs(wildcards):
    """CWMs of call_hits: config hits.motifs (a modisco h5 or MEME file, "{target}" filled
    in), else this run's modisco h5 and its TOMTOM-labelled patterns.tsv."""
    source = config["hits"]["motifs"]
    if source:
        return {"motifs": source.replace("{target}", wildcards.target)}
    if not hits_available():
        raise ValueError(
            "config key stages.hits is true but there are no CWMs: set hits.motifs to a "
            "modisco h5 or MEME file, or turn stages.modisco on"
        )
    return {
        "motifs": result(f"modisco/{wildcards.target}.h5"),
        "patterns": result(f"modisco/{wildcards.target}.patterns.tsv"),
    }
