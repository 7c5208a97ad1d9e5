import pytest
import torch
from torch import nn

from motifscope.architectures import DemoCNN
from motifscope.errors import InputError
from motifscope.models import ModelAdapter, check_model, import_class, load_model


class TwoHeads(nn.Module):
    """A BPNet-like toy: a profile head (B, 2, L) and a counts head (B, 2), with a control."""

    def __init__(self, length=50):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5, padding=2)
        self.length = length

    def forward(self, X, control):
        profile = self.conv(X) + control
        return profile, profile.sum(dim=-1)


@pytest.fixture
def demo_weights(tmp_path):
    torch.manual_seed(0)
    model = DemoCNN(n_targets=2, input_length=64, n_filters=4)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    return model, path


def test_state_dict_with_class_path(demo_weights):
    model, path = demo_weights
    spec = {"path": str(path), "class": "motifscope.architectures.DemoCNN",
            "kwargs": {"n_targets": 2, "input_length": 64, "n_filters": 4}}
    loaded = load_model(spec, input_length=64)
    X = torch.rand(3, 4, 64)
    torch.testing.assert_close(loaded(X), model.eval()(X))
    assert not loaded.training


def test_class_from_python_file(tmp_path, demo_weights):
    _, path = demo_weights
    source = tmp_path / "mynet.py"
    source.write_text("from motifscope.architectures import DemoCNN as Net\n")
    spec = {"path": str(path), "class": f"{source}:Net",
            "kwargs": {"n_targets": 2, "input_length": 64, "n_filters": 4}}
    assert load_model(spec, 64)(torch.zeros(1, 4, 64)).shape == (1, 2)


def test_torchscript_and_export(tmp_path, demo_weights):
    model, _ = demo_weights
    model.eval()
    X = torch.rand(2, 4, 64)
    torch.jit.save(torch.jit.script(model), tmp_path / "m.ts")
    ts = load_model({"path": str(tmp_path / "m.ts"), "format": "torchscript"}, 64)
    torch.testing.assert_close(ts(X), model(X))
    torch.export.save(torch.export.export(model, (X,)), tmp_path / "m.pt2")
    exported = load_model({"path": str(tmp_path / "m.pt2"), "format": "export"}, 64,
                          check=False)
    torch.testing.assert_close(exported(X), model(X))


def test_wrong_input_length_prints_shapes(demo_weights):
    _, path = demo_weights
    spec = {"path": str(path), "class": "motifscope.architectures.DemoCNN",
            "kwargs": {"n_targets": 2, "input_length": 64, "n_filters": 4}}
    with pytest.raises(InputError, match=r"\(1, 4, 200\) failed"):
        load_model(spec, input_length=200)


def test_missing_file_and_bad_class(tmp_path, demo_weights):
    _, path = demo_weights
    with pytest.raises(InputError, match="does not exist"):
        load_model({"path": str(tmp_path / "nope.pt"), "class": "x.Y"})
    with pytest.raises(InputError, match="cannot import module"):
        import_class("not_a_module.Net")
    with pytest.raises(InputError, match="has no class"):
        import_class("motifscope.architectures:Nope")
    with pytest.raises(InputError, match="weights do not fit"):
        load_model({"path": str(path), "class": "motifscope.architectures.DemoCNN",
                    "kwargs": {"n_targets": 3, "input_length": 64, "n_filters": 4}})


def test_multi_output_selection_and_control_track():
    net = TwoHeads()
    counts = ModelAdapter(net, output=1, extra_inputs=[(2, 50)])
    X = torch.rand(3, 4, 50)
    expected = net(X, torch.zeros(3, 2, 50))[1]
    torch.testing.assert_close(counts(X), expected)
    control = torch.rand(3, 2, 50)
    torch.testing.assert_close(counts(X, control), net(X, control)[1])
    profile = ModelAdapter(net, output=0, extra_inputs=[(2, 50)])
    assert profile(X).shape == (3, 100)
    assert check_model(counts, 50, n_targets=2) == 2
    with pytest.raises(InputError, match="out of range"):
        check_model(counts, 50, target_indices=[5])
    with pytest.raises(InputError, match="set model.output"):
        ModelAdapter(net, extra_inputs=[(2, 50)])(X)
