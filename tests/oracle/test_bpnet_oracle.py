"""bpnet-lite BPNet and ChromBPNet as users save them: converted once (``motifscope
convert-model --trust``), loaded through the config, profile and counts heads explained
as bpnet-lite's own ``deep_lift_shap`` explains them (ProfileWrapper / CountWrapper), on
the same references: max |ours - theirs| <= 1e-5 in float32."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from motifscope.attribution import deep_lift_shap
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.errors import InputError
from motifscope.models import load_model

pytestmark = [pytest.mark.oracle, pytest.mark.filterwarnings("ignore::UserWarning")]
bpnet = pytest.importorskip("bpnetlite.bpnet")
bpnet_attr = pytest.importorskip("bpnetlite.attribute")
chrombpnet = pytest.importorskip("bpnetlite.chrombpnet")

TOL = 1e-5
L = 164  # input length; trimming 2 + 1 + ... keeps an output of a few bases


def small_bpnet(seed=0, controls=2):
    torch.manual_seed(seed)
    model = bpnet.BPNet(n_filters=8, n_layers=2, n_control_tracks=controls, trimming=60,
                        verbose=False)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return model.eval()


def onehot(n, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g),
                                       4).transpose(1, 2).float()


def convert(tmp_path, model, name):
    from motifscope.cli import main

    pickled = tmp_path / f"{name}.torch"
    torch.save(model, pickled)  # what bpnet-lite's fit() writes
    out = tmp_path / f"{name}.pt"
    assert main(["convert-model", str(pickled), str(out)]) == 2  # --trust is required
    assert not out.exists()
    assert main(["convert-model", str(pickled), str(out), "--trust",
                 "--input-length", str(L)]) == 0
    return yaml.safe_load(Path(f"{out}.yaml").read_text())["model"]


def test_bpnet_save_converts_and_both_heads_match_bpnet_lite(tmp_path):
    model = small_bpnet()
    spec = convert(tmp_path, model, "bpnet")
    assert spec["kwargs"]["trimming"] == 60 and spec["extra_inputs"][0]["shape"] == [2, L]
    with pytest.raises(InputError, match="weights-only"):  # the pickle itself is refused
        load_model({**spec, "path": str(tmp_path / "bpnet.torch")}, input_length=L)
    X = onehot(3, L)
    control = torch.rand(3, 2, L)
    refs = dinucleotide_shuffle(X, n=3, random_state=0)
    counts = load_model(spec, input_length=L)
    profile = load_model({**spec, "output": 0, "output_transform": "bpnet_profile"},
                         input_length=L)
    for ours_model, wrapper in ((counts, bpnet.CountWrapper), (profile, bpnet.ProfileWrapper)):
        ours, deltas = deep_lift_shap(ours_model, X, args=(control,), references=refs,
                                      hypothetical=True, return_deltas=True, device="cpu")
        theirs = bpnet_attr.deep_lift_shap(wrapper(model), X, args=(control,),
                                           references=refs, hypothetical=True, device="cpu",
                                           warning_threshold=1e9)
        assert theirs.abs().max() > 1e-3
        assert (ours - theirs).abs().max() <= TOL
        assert deltas.abs().max() <= 1e-4


def test_chrombpnet_save_converts_and_matches_bpnet_lite(tmp_path):
    bias, acc = small_bpnet(1, controls=0), small_bpnet(2, controls=0)
    model = chrombpnet.ChromBPNet(bias, acc).eval()
    spec = convert(tmp_path, model, "chrombpnet")
    assert spec["class"] == "motifscope.bpnet.ChromBPNet"
    X = onehot(2, L, seed=3)
    refs = dinucleotide_shuffle(X, n=3, random_state=1)
    loaded = load_model(spec, input_length=L)
    for output, wrapper in ((1, bpnet.CountWrapper), (0, bpnet.ProfileWrapper)):
        ours_model = loaded if output == 1 else load_model(
            {**spec, "output": 0, "output_transform": "bpnet_profile"}, input_length=L)
        ours = deep_lift_shap(ours_model, X, references=refs, hypothetical=True, device="cpu")
        theirs = bpnet_attr.deep_lift_shap(wrapper(model), X, references=refs,
                                           hypothetical=True, device="cpu",
                                           warning_threshold=1e9)
        assert theirs.abs().max() > 1e-4
        assert (ours - theirs).abs().max() <= TOL


def yaml_blocks(text):
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def test_readme_and_example_bpnet_snippets_load(tmp_path):
    """The README's model snippet and config/examples/bpnet.yaml build a BPNet that takes
    the control track at the full input length, with bpnet-lite's trimming."""
    repo = Path(__file__).resolve().parents[2]
    snippets = [b for b in yaml_blocks((repo / "README.md").read_text())
                if isinstance(b, dict) and "model" in b]
    example = yaml.safe_load((repo / "config/examples/bpnet.yaml").read_text())
    assert snippets
    for config in (*snippets, example):
        spec = dict(config["model"])
        window = config["window"]
        torch.manual_seed(0)
        cls = bpnet.BPNet(**{**spec["kwargs"], "verbose": False})
        torch.save(cls.state_dict(), tmp_path / "w.pt")
        spec["path"] = str(tmp_path / "w.pt")
        model = load_model(spec, input_length=window)
        assert spec["extra_inputs"][0]["shape"] == [spec["kwargs"]["n_control_tracks"], window]
        y = model(torch.zeros(1, 4, window))
        assert y.shape == (1, 1)
        assert cls.trimming == spec["kwargs"]["trimming"]
