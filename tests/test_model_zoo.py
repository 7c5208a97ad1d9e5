"""The model zoo: models as users bring them, loaded through the config's ``model``
section, run through the workflow's predict and attribute scripts on a few windows.

Each entry saves random weights as a state_dict (what ``motifscope convert-model`` writes
for bpnet-lite saves), builds the config ``model`` section and ``targets`` the way
``rules/common.smk`` does, then checks the expected result: completeness of DeepLIFT/SHAP
(exact rules everywhere) or the one-line refusal naming the layer, and ISM/filters where
DeepLIFT/SHAP refuses.
"""

import h5py
import numpy as np
import pytest
import torch

from motifscope.errors import InputError
from motifscope.models import load_model
from motifscope.targets import resolve_targets


def onehot(n, length, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 4, length), dtype=np.uint8)
    np.put_along_axis(X, rng.integers(0, 4, (n, length))[:, None, :], 1, axis=1)
    return X


def bpnet_kwargs(controls):
    return {"n_filters": 8, "n_layers": 2, "n_control_tracks": controls, "trimming": 60,
            "verbose": False}


def zoo():
    L = 164
    return {
        "bpnet_counts": ({"class": "bpnetlite.bpnet.BPNet", "kwargs": bpnet_kwargs(2),
                          "output": 1, "extra_inputs": [{"shape": [2, L]}]}, L,
                         {"counts": 0}, "exact"),
        "bpnet_profile": ({"class": "bpnetlite.bpnet.BPNet", "kwargs": bpnet_kwargs(2),
                           "output": 0, "output_transform": "bpnet_profile",
                           "extra_inputs": [{"shape": [2, L]}]}, L, {"profile": 0}, "exact"),
        "chrombpnet": ({"class": "motifscope.bpnet.ChromBPNet",
                        "kwargs": {"bias": bpnet_kwargs(0), "accessibility": bpnet_kwargs(0)},
                        "output": 1}, L, {"counts": 0}, "exact"),
        "basset_multitask": ({"class": "motifscope.architectures.DemoCNN",
                              "kwargs": {"n_targets": 6, "input_length": 120, "n_filters": 8,
                                         "n_filters2": 8}}, 120,
                             ["0-3", {"nrsf": [1, 4, 5]}], "exact"),
        "danq": ({"class": "motifscope.architectures.DanQ",
                  "kwargs": {"n_targets": 3, "input_length": 120, "n_filters": 8,
                             "filter_width": 9, "pool": 8, "hidden": 4, "dense": 8}}, 120,
                 "all", "refused"),
        "enformer": ({"class": "motifscope.enformer.EnformerAdapter",
                      "kwargs": {"dim": 24, "depth": 1, "heads": 2, "attn_dim_key": 8,
                                 "num_downsamples": 3, "dim_divisible_by": 4,
                                 "output_heads": {"human": 3}, "target_length": 4}}, 64,
                     {"track1": 1}, "exact"),
    }


REQUIRES = {"bpnet_counts": "bpnetlite", "bpnet_profile": "bpnetlite",
            "chrombpnet": "bpnetlite", "enformer": "enformer_pytorch"}


@pytest.mark.parametrize("name", list(zoo()))
def test_zoo_model_predicts_and_attributes_or_refuses(name, tmp_path):
    import attribute

    from motifscope.models import import_class
    from motifscope.predict import predict

    if name in REQUIRES:
        pytest.importorskip(REQUIRES[name])
    section, length, targets_spec, expected = zoo()[name]
    torch.manual_seed(0)
    net = import_class(section["class"])(**section["kwargs"])
    for p in net.parameters():  # random weights large enough for visible attributions
        torch.nn.init.normal_(p, std=0.2)
    torch.save(net.state_dict(), tmp_path / "model.pt")
    n_outputs = 3 if name == "danq" else None
    targets = resolve_targets(targets_spec, n_outputs=n_outputs)
    spec = {**section, "path": str(tmp_path / "model.pt"), "format": "state_dict",
            "input_length": length, "groups": targets.groups}
    model = load_model(spec, input_length=length)
    X = onehot(4, length)
    y = predict(model, X, batch_size=2, device="cpu")
    assert y.shape[0] == 4 and torch.isfinite(y).all()
    with h5py.File(tmp_path / "onehot.h5", "w") as handle:
        handle.create_dataset("X", data=X)
    params = {"method": "deeplift_shap", "n_shuffles": 2, "batch_size": 8,
              "warning_threshold": 0.01, "ism_start": None, "ism_end": None,
              "allow_approximate": False}
    name_, column = list(targets.columns.items())[-1]
    out = tmp_path / "shard.h5"
    if expected == "refused":
        with pytest.raises(InputError, match=r"lstm \(LSTM\).*attribution\.method: ism") as err:
            attribute.main(tmp_path / "onehot.h5", out, spec, name_, column, 0, 4, params,
                           device="cpu")
        assert "\n" not in str(err.value) and not out.exists()
        params["method"] = "ism"
    attribute.main(tmp_path / "onehot.h5", out, spec, name_, column, 0, 4, params,
                   device="cpu")
    with h5py.File(out) as handle:
        attr, deltas = handle["attr"][:], handle["deltas"][:]
        assert handle.attrs["warning"] == ""
    assert attr.shape == (4, 4, length) and np.abs(attr).max() > 0
    if expected == "exact":  # float32 completeness, relative to the output change
        assert np.abs(deltas).max() <= 1e-3 * max(1.0, float(y.abs().max()))


def test_danq_filters_stage():
    from motifscope.architectures import DanQ
    from motifscope.filters import filter_pwms

    torch.manual_seed(0)
    net = DanQ(n_targets=3, input_length=120, n_filters=8, filter_width=9, pool=8, hidden=4,
               dense=8).eval()
    result = filter_pwms(net, onehot(40, 120, seed=1), method="danq", device="cpu")
    assert len(result.names) == 8 and result.pfm.shape[1:] == (4, 9)
