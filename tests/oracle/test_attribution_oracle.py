"""motifscope.attribution against tangermeme 1.6, captum and bpnet-lite on identical inputs.

Every comparison passes the *same* references tensor to both sides, so the only
differences left are the DeepLIFT rules and float32 rounding. Tolerance: max |ours - theirs|
<= 1e-5 in float32 on the CPU (attributions here are O(0.1 - 1), so this is a relative
agreement of ~1e-5). Each model is also checked for completeness in float64
(|delta| <= 1e-6 for every example-reference pair).

tangermeme 1.6.0 already contains the max-pool fixes of its PR #95 (scatter-add for
overlapping windows, one multiplier for both halves of a pair); the overlapping-pool model
below confirms that it and we agree, and that both satisfy completeness.
"""

import numpy as np
import pytest
import torch
from torch import nn

from motifscope.attribution import deep_lift_shap, saturation_mutagenesis
from motifscope.ersatz import dinucleotide_shuffle

pytestmark = pytest.mark.oracle

tangermeme_dls = pytest.importorskip("tangermeme.deep_lift_shap")
TOL = 1e-5


def onehot(n, length, seed=0):
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, length))
    X = np.zeros((n, 4, length), dtype=np.float32)
    np.put_along_axis(X, idx[:, None, :], 1, axis=1)
    return torch.from_numpy(X)


class ConvReluPool(nn.Module):
    """(a) conv, ReLU, overlapping MaxPool (kernel 4 stride 2, then kernel 3 stride 1),
    non-overlapping MaxPool, linear."""

    def __init__(self, length=100):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 16, 11, padding=5)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(4, 2)
        self.conv2 = nn.Conv1d(16, 8, 5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(3, 1)
        self.pool3 = nn.MaxPool1d(2)
        width = (((length - 4) // 2 + 1) - 2) // 2
        self.linear = nn.Linear(8 * width, 3)

    def forward(self, x):
        h = self.pool1(self.relu1(self.conv1(x)))
        h = self.pool3(self.pool2(self.relu2(self.conv2(h))))
        return self.linear(h.flatten(1))


class SmoothNet(nn.Module):
    """(c) Sigmoid, Tanh and ELU; no max-pooling, so captum applies too."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 12, 9, padding=4)
        self.elu = nn.ELU()
        self.conv2 = nn.Conv1d(12, 8, 5, padding=2)
        self.sigmoid = nn.Sigmoid()
        self.pool = nn.AvgPool1d(4)
        self.flatten = nn.Flatten()
        self.dense = nn.Linear(8 * 20, 16)
        self.tanh = nn.Tanh()
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        h = self.pool(self.sigmoid(self.conv2(self.elu(self.conv1(x)))))
        return self.out(self.tanh(self.dense(self.flatten(h))))


class SoftmaxNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7)
        self.relu = nn.ReLU()
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        return self.softmax(self.relu(self.conv(x)).mean(-1))


def scaled(model, std=0.3, seed=0):
    torch.manual_seed(seed)
    for p in model.parameters():
        nn.init.normal_(p, std=std)
    return model.eval()


def compare_with_tangermeme(model, X, refs, args=None, target=0):
    ours, deltas = deep_lift_shap(model, X, args=args, target=target, references=refs,
                                  return_deltas=True, hypothetical=True, device="cpu",
                                  batch_size=16)
    theirs = tangermeme_dls.deep_lift_shap(model, X, args=args, target=target,
                                           references=refs, hypothetical=True,
                                           device="cpu", batch_size=16)
    assert ours.abs().max() > 1e-2  # the comparison is not between two near-zero arrays
    assert (ours - theirs).abs().max() <= TOL
    return deltas


def completeness64(model, X, refs, args=None, target=0):
    model = model.double()
    args64 = None if args is None else tuple(a.double() for a in args)
    _, deltas = deep_lift_shap(model, X.double(), args=args64, target=target,
                               references=refs.double(), return_deltas=True, device="cpu")
    model.float()
    assert deltas.abs().max() <= 1e-6


def test_conv_relu_overlapping_maxpool_linear_vs_tangermeme():
    X = onehot(4, 100)
    refs = dinucleotide_shuffle(X, n=8, random_state=0)
    model = scaled(ConvReluPool())
    for target in (0, 2):
        compare_with_tangermeme(model, X, refs, target=target)
    completeness64(model, X, refs, target=2)
    # tangermeme 1.6 also satisfies completeness on overlapping pools (its PR #95 fix)
    model.double()
    tm = tangermeme_dls.deep_lift_shap(model, X.double(), references=refs.double(),
                                       target=2, device="cpu", raw_outputs=True)
    with torch.no_grad():
        change = model(X.double())[:, 2:3] - model(refs.double().flatten(0, 1))[:, 2].reshape(4, 8)
    tm_deltas = ((X.double()[:, None] - refs.double()) * tm).sum((2, 3)) - change
    assert tm_deltas.abs().max() <= 1e-6


def test_bpnet_counts_head_with_control_track_vs_tangermeme():
    bpnet = pytest.importorskip("bpnetlite.bpnet")
    torch.manual_seed(0)
    net = bpnet.BPNet(n_filters=16, n_layers=4, n_control_tracks=2, verbose=False)
    with torch.no_grad():
        net.linear.weight.mul_(50)  # counts-head attributions of O(0.1), not O(1e-3)
    model = bpnet.CountWrapper(net).eval()
    length = 250
    X = onehot(3, length, seed=1)
    control = torch.rand(3, 2, length)
    refs = dinucleotide_shuffle(X, n=5, random_state=1)
    compare_with_tangermeme(model, X, refs, args=(control,))
    completeness64(model, X, refs, args=(control,))


def test_sigmoid_tanh_elu_vs_tangermeme():
    X = onehot(5, 80, seed=2)
    refs = dinucleotide_shuffle(X, n=8, random_state=2)
    model = scaled(SmoothNet())
    compare_with_tangermeme(model, X, refs, target=1)
    completeness64(model, X, refs, target=1)


def test_softmax_vs_tangermeme():
    X = onehot(4, 24, seed=3)
    refs = dinucleotide_shuffle(X, n=5, random_state=3)
    model = scaled(SoftmaxNet(), std=1.5)
    compare_with_tangermeme(model, X, refs, target=3)
    completeness64(model, X, refs, target=3)


@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks:UserWarning")
def test_sigmoid_tanh_elu_vs_captum():
    captum_attr = pytest.importorskip("captum.attr")
    X = onehot(3, 80, seed=4)
    refs = dinucleotide_shuffle(X, n=6, random_state=4)
    model = scaled(SmoothNet())

    def hypothetical(multipliers, inputs, baselines):
        m, ref = multipliers[0], baselines[0]
        return (m - (ref * m).sum(dim=1, keepdim=True),)

    explainer = captum_attr.DeepLiftShap(model)
    theirs = torch.cat([explainer.attribute(X[i:i + 1], baselines=refs[i], target=1,
                                            custom_attribution_func=hypothetical).detach()
                        for i in range(len(X))])
    ours = deep_lift_shap(model, X, target=1, references=refs, hypothetical=True,
                          device="cpu")
    assert ours.abs().max() > 1e-2
    assert (ours - theirs).abs().max() <= TOL


def test_ism_vs_tangermeme():
    tangermeme_ism = pytest.importorskip("tangermeme.saturation_mutagenesis")
    X = onehot(3, 100, seed=5)
    model = scaled(ConvReluPool())
    ours = saturation_mutagenesis(model, X, target=1, start=20, end=70, hypothetical=True,
                                  device="cpu")
    theirs = tangermeme_ism.saturation_mutagenesis(model, X, start=20, end=70, target=1,
                                                   hypothetical=True, device="cpu",
                                                   fast=False)
    assert ours[:, :, 20:70].abs().max() > 1e-2
    assert (ours[:, :, 20:70] - theirs).abs().max() <= TOL
    assert ours[:, :, :20].abs().max() == 0 and ours[:, :, 70:].abs().max() == 0


def test_streamed_npz_reads_back_in_modisco_lite(tmp_path):
    """merge_attributions streams arr_0 into the .npz block by block; modisco-lite's own
    loader (its fast member reader, then np.load) must return the same (N, 4, L) array."""
    modisco_cli = pytest.importorskip("modiscolite.cli")
    from motifscope.io.attributions import NpzArrayWriter

    rng = np.random.default_rng(0)
    attr = rng.normal(size=(7, 4, 30)).astype(np.float32)
    writer = NpzArrayWriter(tmp_path / "shap.npz", attr.shape, "float32")
    for block in (attr[:3], attr[3:3], attr[3:]):
        writer.write(block)
    writer.close()
    fast = modisco_cli._read_npz_member(tmp_path / "shap.npz", "arr_0")
    assert fast is not None and np.array_equal(fast, attr)
    assert np.array_equal(modisco_cli._load_input(tmp_path / "shap.npz"), attr)
