# Input functions of the paper stage (config/examples/paper.yaml).


def paper_outputs():
    """What config/examples/paper.yaml adds: the benchmark table and the paper figures."""
    return stage_outputs("paper")


def paper_table_inputs(wildcards):
    """Marginalization and seqlet-annotation tables of the paper figures (stages on)."""
    inputs = {}
    if stage_on("marginalize"):
        inputs["marginalize"] = expand(
            result("marginalize/{target}.tsv"), target=TARGETS
        )
    if stage_on("seqlets"):
        inputs["counts"] = expand(result("seqlets/{target}.counts.tsv"), target=TARGETS)
    return inputs
