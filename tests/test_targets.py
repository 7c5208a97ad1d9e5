"""Multi-task targets: all, ranges, labels files and summed groups."""

import pytest
import torch
from torch import nn

from motifscope.attribution import deep_lift_shap
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.errors import InputError
from motifscope.models import ModelAdapter, check_model
from motifscope.targets import read_labels, resolve_targets


def test_forms_of_targets(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("# cell types\nK562 DNase\tfoo\nHepG2\nGM12878/CTCF\nA549\n")
    names = read_labels(labels)
    assert names == ["K562", "HepG2", "GM12878/CTCF", "A549"]
    t = resolve_targets("all", labels=names)
    assert t.columns == {"K562": 0, "HepG2": 1, "GM12878_CTCF": 2, "A549": 3}
    assert t.groups == []
    t = resolve_targets(["1-2", {"nrsf": [0, 3]}, {"pair": "2:3"}], labels=names)
    assert t.columns == {"HepG2": 1, "GM12878_CTCF": 2, "nrsf": -2, "pair": -1}
    assert t.groups == [[0, 3], [2, 3]]
    t = resolve_targets({"ctcf": 0, "nrsf": [3, 7, 12]}, n_outputs=20)
    assert t.columns == {"ctcf": 0, "nrsf": -1} and t.groups == [[3, 7, 12]]
    assert resolve_targets([5, "7-8"]).columns == {"output_5": 5, "output_7": 7, "output_8": 8}
    with pytest.raises(InputError, match="'all' needs the number of model outputs"):
        resolve_targets("all")
    with pytest.raises(InputError, match="out of range for the model's 4 outputs"):
        resolve_targets({"x": [1, 9]}, labels=names)
    with pytest.raises(InputError, match="used twice"):
        resolve_targets(["0-1", {"K562": 3}], labels=names)
    with pytest.raises(InputError, match="ends before it starts"):
        resolve_targets(["5-2"])


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(4)
        self.out = nn.Linear(6 * 6, 5)

    def forward(self, x):
        return self.out(self.pool(self.relu(self.conv(x))).flatten(1))


def test_summed_group_is_one_output_and_its_attributions_add_up():
    torch.manual_seed(0)
    net = MultiTask().eval()
    t = resolve_targets({"a": 1, "nrsf": [0, 2, 4]}, n_outputs=5)
    model = ModelAdapter(net, groups=t.groups).eval()
    assert check_model(model, 30, target_indices=list(t.columns.values())) == 6
    model.double()
    X = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 30)), 4).transpose(1, 2).double()
    y = model(X)
    torch.testing.assert_close(y[:, -1], net(X)[:, [0, 2, 4]].sum(1))
    refs = dinucleotide_shuffle(X, n=3, random_state=0)
    group = deep_lift_shap(model, X, target=t.columns["nrsf"], references=refs, device="cpu")
    members = sum(deep_lift_shap(model, X, target=i, references=refs, device="cpu")
                  for i in (0, 2, 4))
    torch.testing.assert_close(group, members, rtol=0, atol=1e-10)  # DeepLIFT is linear in
    # the explained output, so a summed target's attributions are the members' sum
