"""The public names and argument names of DESIGN.md, which users and tests call."""

import importlib
import inspect

import pytest

API = {
    "motifscope.sequence": {"one_hot_encode": ["seq"], "characters": ["X"],
                            "reverse_complement": ["X"]},
    "motifscope.ersatz": {"substitute": [], "multisubstitute": [], "insert": [], "delete": [],
                          "randomize": [], "shuffle": [],
                          "dinucleotide_shuffle": ["X", "n", "start", "end", "random_state"]},
    "motifscope.io": {"read_meme": ["path"], "write_meme": ["motifs", "path"],
                      "read_peaks": [], "extract_loci": []},
    "motifscope.models": {"load_model": ["spec"]},
    "motifscope.predict": {"predict": ["model", "X", "args", "batch_size", "device"]},
    "motifscope.attribution": {
        "deep_lift_shap": ["model", "X", "args", "target", "references", "n_shuffles",
                           "batch_size", "device", "random_state", "hypothetical",
                           "return_deltas"],
        "saturation_mutagenesis": ["model", "X", "args", "target", "start", "end"]},
    "motifscope.seqlets": {"recursive_seqlets": ["X", "threshold", "min_seqlet_len",
                                                 "max_seqlet_len", "additional_flanks"],
                           "tfmodisco_seqlets": ["X"]},
    "motifscope.motifs": {"tomtom": ["queries", "targets", "distance"],
                          "annotate_seqlets": ["X", "seqlets", "motifs", "n_nearest"],
                          "count_annotations": [],
                          "fimo": ["motifs", "sequences", "threshold"]},
    "motifscope.filters": {"filter_activations": [],
                           "filter_pwms": ["model", "X", "layer", "method"],
                           "filter_influence": []},
    "motifscope.marginalize": {"marginalize": ["model", "X", "motif", "func"]},
}

DEFAULTS = {
    ("motifscope.attribution", "deep_lift_shap"): {"target": 0, "references": None,
                                                    "n_shuffles": 20, "hypothetical": False,
                                                    "return_deltas": False, "args": None},
    ("motifscope.seqlets", "recursive_seqlets"): {"threshold": 0.01, "min_seqlet_len": 4,
                                                  "max_seqlet_len": 25, "additional_flanks": 0},
    ("motifscope.motifs", "tomtom"): {"distance": "ed"},
    ("motifscope.motifs", "fimo"): {"threshold": 1e-4},
    ("motifscope.filters", "filter_pwms"): {"layer": None, "method": "basset"},
}


@pytest.mark.parametrize("module, name", [(m, n) for m, names in API.items() for n in names])
def test_public_names_and_arguments(module, name):
    func = getattr(importlib.import_module(module), name)
    params = inspect.signature(func).parameters
    for arg in API[module][name]:
        assert arg in params, f"{module}.{name} lacks argument {arg}"
    for arg, value in DEFAULTS.get((module, name), {}).items():
        assert params[arg].default == value, f"{module}.{name}({arg}=...) default changed"
    assert func.__doc__ and len(func.__doc__) > 80, f"{module}.{name} needs a docstring"


def test_simulate_module_exports_both_kinds():
    simulate = importlib.import_module("motifscope.simulate")
    assert hasattr(simulate, "simulate_genome")
    assert any("density" in n for n in dir(simulate))
