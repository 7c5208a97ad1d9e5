"""First-layer filters: activations, Basset/DanQ PWMs, TOMTOM matches and influence.

Oracles: brute-force re-implementations of Basset's ``basset_motifs.py`` site loop and
FactorNet's ``visualize.py`` (both written from reference/algorithms.md sections 4 and 5,
as plain Python loops over strings and windows), a direct numpy convolution for the
window geometry, and an unbatched, one-filter-at-a-time re-run of the network for the
influence. Models whose filters are JASPAR log-odds matrices check the end result.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from motifscope.errors import InputError
from motifscope.filters import (
    best_matches,
    filter_activations,
    filter_influence,
    filter_pwms,
    filter_table,
    first_layer,
    influence_matrix,
    iupac_consensus,
    plot_filter_logos,
    plot_filter_weights,
    plot_influence_heatmap,
    weight_consensus,
)
from motifscope.models import ModelAdapter

ALPHABET = "ACGT"


# ----------------------------------------------------------------------------- helpers

class ConvNet(nn.Module):
    """conv -> [BN] -> ReLU -> global max -> linear, the smallest Basset-like model."""

    def __init__(self, n_filters=3, width=5, padding=0, stride=1, dilation=1, n_targets=2,
                 batch_norm=False, inplace=False):
        super().__init__()
        self.conv = nn.Conv1d(4, n_filters, width, padding=padding, stride=stride,
                              dilation=dilation)
        self.bn = nn.BatchNorm1d(n_filters) if batch_norm else nn.Identity()
        self.act = nn.ReLU(inplace=inplace)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.flat = nn.Flatten()
        self.out = nn.Linear(n_filters, n_targets)

    def forward(self, x):
        return self.out(self.flat(self.pool(self.act(self.bn(self.conv(x))))))


def onehot(idx: np.ndarray) -> np.ndarray:
    """(N, L) base indices (4 = N) -> (N, 4, L) uint8 one-hot with all-zero N columns."""
    eye = np.vstack([np.eye(4, dtype=np.uint8), np.zeros((1, 4), np.uint8)])
    return eye[idx].transpose(0, 2, 1).copy()


def decode(x: np.ndarray) -> str:
    return "".join(ALPHABET[c.argmax()] if c.sum() == 1 else "N" for c in x.T)


def brute_conv(X, W, b, starts, dilation):
    """ReLU(conv) at the given window starts, positions outside [0, L) read as zeros."""
    N, _, L = X.shape
    out = np.zeros((N, W.shape[0], len(starts)))
    for j, s in enumerate(starts):
        for k in range(W.shape[2]):
            p = s + dilation * k
            if 0 <= p < L:
                out[:, :, j] += X[:, :, p].astype(float) @ W[:, :, k].T
    return np.maximum(out + b[None, :, None], 0)


def basset_reference(seqs: list[str], outs: np.ndarray, width: int, act_t=0.5):
    """basset_motifs.py: plot_filter_logo's site loop and make_filter_pwm, verbatim rules."""
    n_filters, L = outs.shape[1], outs.shape[2]
    pad_side = (width - 1) // 2
    pfms, nsites = [], []
    for f in range(n_filters):
        a = outs[:, f, :].astype(np.float64)
        thr = a.mean() + act_t * (a.max() - a.mean())
        kmers = [seqs[i][j - pad_side:j - pad_side + width]
                 for i in range(len(seqs)) for j in range(pad_side, L - pad_side)
                 if outs[i, f, j] > thr]
        counts = np.ones((width, 4))
        total = 4.0
        for kmer in kmers:
            for pos, base in enumerate(kmer):
                if base in ALPHABET:
                    counts[pos, ALPHABET.index(base)] += 1
                else:
                    counts[pos] += 0.25
            total += 1
        pfms.append((counts / total).T)
        nsites.append(int(total - 4))
    return np.array(pfms), np.array(nsites)


def factornet_reference(X: np.ndarray, acts_fwd: np.ndarray, acts_rc: np.ndarray, width: int):
    """FactorNet visualize.py output_results: per-sequence argmax > 0, both strands."""
    n_filters = acts_fwd.shape[1]
    X_rc = X[:, ::-1, ::-1]
    motifs = np.zeros((n_filters, width, 4))
    nsites = np.zeros(n_filters, int)
    for x, x_rc, a, a_rc in zip(X, X_rc, acts_fwd, acts_rc):
        for m in range(n_filters):
            for seq, act in ((x, a[m]), (x_rc, a_rc[m])):
                i = int(np.argmax(act))
                if act[i] > 0:
                    motifs[m] += seq[:, i:i + width].T
                    nsites[m] += 1
    pfm = motifs / motifs.sum(axis=2, keepdims=True)
    return pfm.transpose(0, 2, 1), nsites


def random_net(seed=0, **kwargs):
    torch.manual_seed(seed)
    return ConvNet(**kwargs).eval()


# ----------------------------------------------------------------------------- geometry

@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kwargs", [
    dict(width=5, padding=0),
    dict(width=5, padding=2),
    dict(width=6, padding="same"),
    dict(width=5, padding="same", dilation=2),
    dict(width=4, padding=3, stride=2),
    dict(width=3, padding=1, stride=3, dilation=2),
])
def test_activations_map_to_exact_receptive_windows(random_onehot, kwargs):
    X = random_onehot(n=6, length=31, seed=1)
    model = random_net(**kwargs)
    acts = filter_activations(ModelAdapter(model), X, device="cpu")
    W = model.conv.weight.detach().numpy().astype(float)
    b = model.conv.bias.detach().numpy().astype(float)
    expected = brute_conv(X, W, b, acts.starts, kwargs.get("dilation", 1))
    assert acts.values.shape == expected.shape
    np.testing.assert_allclose(acts.values, expected, rtol=1e-5, atol=1e-5)
    assert acts.layer == "conv" and acts.activation == "act"
    assert acts.span == kwargs.get("dilation", 1) * (kwargs["width"] - 1) + 1


def test_same_padding_centres_the_window_on_the_position():
    info = first_layer(random_net(width=19, padding=9), np.zeros((1, 4, 50), np.uint8))
    assert info.window_starts(50)[20] == 20 - 9
    full = info.full_windows(50, 50)
    # Basset's loop: j in [pad_side, L - pad_side)
    np.testing.assert_array_equal(np.flatnonzero(full), np.arange(9, 50 - 9))


def test_activation_is_found_through_batch_norm_and_in_place_relu(random_onehot):
    X = random_onehot(n=4, length=40, seed=2)
    model = random_net(batch_norm=True, inplace=True)
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    acts = filter_activations(model, X, device="cpu")
    assert acts.activation == "act"
    with torch.no_grad():
        expected = torch.relu(model.bn(model.conv(torch.tensor(X).float()))).numpy()
    np.testing.assert_allclose(acts.values, expected, rtol=1e-6, atol=1e-6)
    raw = filter_activations(model, X, activation="none", device="cpu")
    assert raw.activation == "none"
    assert (raw.values < 0).any()


class SharedReLU(nn.Module):
    """One ReLU module used after both convolutions (a common way to write models)."""

    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv1d(4, 3, 5)
        self.conv2 = nn.Conv1d(3, 2, 3)

    def forward(self, x):
        return self.relu(self.conv2(self.relu(self.conv1(x)))).amax(dim=2)


def test_a_shared_activation_module_is_read_at_the_right_call(random_onehot):
    X = random_onehot(n=3, length=20, seed=3)
    torch.manual_seed(0)
    model = SharedReLU().eval()
    acts = filter_activations(model, X, device="cpu")
    with torch.no_grad():
        expected = torch.relu(model.conv1(torch.tensor(X).float())).numpy()
    np.testing.assert_allclose(acts.values, expected, rtol=1e-6)


class FunctionalReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 2, 5)

    def forward(self, x):
        return torch.relu(self.conv(x)).amax(dim=2)


def test_without_an_activation_module_the_conv_output_is_used(random_onehot, caplog):
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="motifscope.filters"):
        acts = filter_activations(FunctionalReLU().eval(), random_onehot(n=2, length=20),
                                  device="cpu")
    assert acts.activation == "none"
    assert "no nonlinearity" in caplog.text


# ----------------------------------------------------------------------------- PWM rules

def test_basset_rule_matches_the_reference_loop(rng):
    idx = rng.integers(0, 4, size=(40, 60))
    idx[rng.random(idx.shape) < 0.02] = 4  # some N bases: 0.25 to every letter
    X = onehot(idx)
    model = random_net(seed=4, n_filters=5, width=7, padding=3)
    result = filter_pwms(model, X, method="basset", min_sites=0, batch_size=16, device="cpu")
    outs = filter_activations(model, X, device="cpu").values
    pfm, nsites = basset_reference([decode(x) for x in X], outs, width=7)
    np.testing.assert_array_equal(result.nsites, nsites)
    np.testing.assert_allclose(result.pfm, pfm, atol=1e-12)
    # batch statistics are reduced in float32 and merged in float64: ~1e-7 relative
    a = outs.astype(np.float64)
    np.testing.assert_allclose(result.threshold,
                               a.mean((0, 2)) + 0.5 * (a.max((0, 2)) - a.mean((0, 2))),
                               rtol=1e-6)
    np.testing.assert_allclose(result.activation_mean, a.mean((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(result.activation_sd, a.std((0, 2)), rtol=1e-5)
    assert all(n > 0 for n in result.nsites)


def test_basset_rule_does_not_depend_on_batch_size(random_onehot):
    X = random_onehot(n=30, length=50, seed=5)
    model = random_net(seed=5, n_filters=4, width=5, padding=2)
    a = filter_pwms(model, X, batch_size=7, device="cpu")
    b = filter_pwms(model, X, batch_size=30, device="cpu")
    np.testing.assert_array_equal(a.nsites, b.nsites)
    np.testing.assert_allclose(a.pfm, b.pfm, atol=1e-12)


def test_danq_rule_matches_the_factornet_loop(random_onehot):
    X = random_onehot(n=25, length=40, seed=6)
    model = random_net(seed=6, n_filters=4, width=6)  # valid padding, as FactorNet
    result = filter_pwms(model, X, method="danq", batch_size=10, device="cpu")
    fwd = filter_activations(model, X, device="cpu").values
    rc = filter_activations(model, X, device="cpu", reverse_complement=True).values
    pfm, nsites = factornet_reference(X, fwd, rc, width=6)
    np.testing.assert_array_equal(result.nsites, nsites)
    np.testing.assert_allclose(result.pfm, pfm, atol=1e-12)
    assert result.nsites.max() <= 2 * len(X)  # at most one site per sequence per strand


def test_pwm_log_odds_ic_and_consensus():
    pfm = np.array([[0.97, 0.01, 0.01, 0.01], [0.45, 0.45, 0.05, 0.05],
                    [0.25, 0.25, 0.25, 0.25], [0.01, 0.01, 0.01, 0.97]]).T
    assert iupac_consensus(pfm) == "AMNT"
    assert weight_consensus(np.array([[1.0, -1], [0.5, -2], [0, -3], [0, -4]])) == "AN"


def test_pwms_table_and_meme_file_round_trip(tmp_path, random_onehot):
    from motifscope.io import read_meme

    X = random_onehot(n=30, length=60, seed=7)
    model = random_net(seed=7, n_filters=3, width=5, padding=2)
    with torch.no_grad():
        model.conv.weight[2] = 0  # a filter that never fires: no sites
        model.conv.bias[2] = -1
    result = filter_pwms(model, X, device="cpu")
    assert result.nsites[2] == 0 and result.dropped == ["filter2"]
    assert np.isnan(result.ic[2]) and np.isfinite(result.ic[:2]).all()
    expected_pwm = np.log2((result.pfm + 1e-9) / 0.25)
    np.testing.assert_allclose(result.pwm, expected_pwm)
    np.testing.assert_allclose(result.pfm.sum(axis=1), 1.0)
    table = result.table()
    assert list(table["filter"]) == ["filter0", "filter1", "filter2"]
    assert table.loc[2, "status"].startswith("too few sites (0 < 10)")
    path = result.write_meme(tmp_path / "filters.meme")
    motifs = read_meme(path)
    assert list(motifs) == ["filter0", "filter1"]
    np.testing.assert_allclose(motifs["filter0"], result.pfm[0], atol=1e-4)
    assert motifs.info["filter1"].nsites == result.nsites[1]
    # MEME's own parser (through pymemesuite) reads it too
    memesuite = pytest.importorskip("pymemesuite.common")
    with memesuite.MotifFile(str(path)) as handle:
        parsed = {m.accession.decode(): np.array([list(r) for r in m.frequencies]).T
                  for m in handle}
        meme_background = np.array(list(handle.background.frequencies))
    assert list(parsed) == ["filter0", "filter1"]
    # MEME adds its default motif pseudocount (0.1, spread by its own background) on reading
    n = result.nsites[1]
    expected = (result.pfm[1] * n + 0.1 * meme_background[:, None]) / (n + 0.1)
    np.testing.assert_allclose(parsed["filter1"], expected, atol=2e-6)


def test_trimming_drops_flat_edges():
    from motifscope.filters import _trim

    pfm = np.full((4, 6), 0.25)
    pfm[:, 2:4] = np.eye(4)[:, :2]
    assert _trim(pfm, np.full(4, 0.25), 0.2).shape == (4, 2)
    assert _trim(pfm, np.full(4, 0.25), 0.0).shape == (4, 6)


# ----------------------------------------------------------------------------- bad input

class NoConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(4 * 20, 2)

    def forward(self, x):
        return self.dense(x.flatten(1))


def test_bad_input(random_onehot):
    X = random_onehot(n=2, length=20)
    with pytest.raises(InputError, match="no nn.Conv1d layer"):
        filter_pwms(NoConv(), X)
    with pytest.raises(InputError, match=r"no module named 'conv9'; its Conv1d layers are: "
                                         r"conv1, conv2"):
        filter_activations(SharedReLU(), X, layer="conv9")
    with pytest.raises(InputError, match="reads 3 channels"):
        filter_activations(SharedReLU(), X, layer="conv2")
    with pytest.raises(InputError, match="'relu' is a ReLU, not a Conv1d"):
        filter_activations(SharedReLU(), X, layer="relu")
    with pytest.raises(InputError, match="no module named 'act9'"):
        filter_activations(random_net(), X, activation="act9")
    with pytest.raises(InputError, match="not one of basset, danq"):
        filter_pwms(random_net(), X, method="homer")
    with pytest.raises(InputError, match=r"shape \(N, 4, L\)"):
        filter_pwms(random_net(), X[:, :3])
    with pytest.raises(InputError, match="fails on an input of shape"):
        filter_pwms(NoConv(), random_onehot(n=2, length=21))
    with pytest.raises(InputError, match="labels must have shape"):
        filter_influence(random_net(), X, y=np.zeros((3, 2)))
    with pytest.raises(InputError, match="shorter than the filters' span of 5 bp"):
        filter_pwms(random_net(padding=2), random_onehot(n=2, length=3))
    # a model name from the adapter's own named_modules() is accepted
    acts = filter_activations(ModelAdapter(random_net()), X, layer="model.conv", device="cpu")
    assert acts.layer == "conv"


def test_scripted_and_exported_models_get_a_clear_message(random_onehot):
    X = random_onehot(n=2, length=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(random_net())
    with pytest.raises(InputError, match="TorchScript archive.*model.format: state_dict"):
        filter_pwms(scripted, X)
    exported = torch.export.export(random_net(), (torch.zeros(1, 4, 20),)).module()
    with pytest.raises(InputError, match="torch.export archive.*model.format: state_dict"):
        filter_pwms(exported, X)


# ----------------------------------------------------------------------------- influence

def brute_influence(model, X, y, f, mean, at_conv=False):
    """Re-run the network with filter f's activation (or conv output) replaced, one filter
    at a time, all sequences in one batch."""
    x = torch.tensor(X).float()
    with torch.no_grad():
        base = model(x).double()
        h = model.conv(x)
        if at_conv:
            h[:, f] = mean
        h = model.act(model.bn(h))
        if not at_conv:
            h[:, f] = mean
        null = model.out(model.flat(model.pool(h))).double()
    delta = base - null
    yt = torch.tensor(y).double()
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    dloss = (bce(null, yt, reduction="none") - bce(base, yt, reduction="none")).mean(0)
    return (delta.mean(0).numpy(), delta.std(0, unbiased=False).numpy(),
            (delta.mean(0) / base.var(0, unbiased=False)).numpy(), dloss.numpy())


@pytest.mark.parametrize("activation,inplace", [(None, False), (None, True), ("none", False)])
def test_influence_matches_one_filter_at_a_time(random_onehot, rng, activation, inplace):
    X = random_onehot(n=23, length=30, seed=8)
    y = rng.integers(0, 2, size=(23, 2)).astype(np.float32)
    model = random_net(seed=8, n_filters=5, width=5, padding=2, batch_norm=True,
                       inplace=inplace)
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
    table = filter_influence(model, X, y=y, activation=activation, batch_size=6,
                             filters_per_pass=2, target_names=["a", "b"], device="cpu")
    assert len(table) == 10 and list(table["target"][:2]) == ["a", "b"]
    acts = filter_activations(model, X, activation=activation,
                              device="cpu").values.astype(np.float64)
    for f in range(5):
        mean = acts[:, f].mean()
        rows = table[table["filter"] == f"filter{f}"]
        np.testing.assert_allclose(rows["activation_mean"], mean, rtol=1e-6)
        d_mean, d_sd, score, d_loss = brute_influence(model, X, y, f, mean,
                                                      at_conv=activation == "none")
        np.testing.assert_allclose(rows["delta_mean"], d_mean, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(rows["delta_sd"], d_sd, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(rows["score"], score, rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(rows["delta_loss"], d_loss, rtol=1e-3, atol=1e-7)
    without = filter_influence(model, X, activation=activation, batch_size=23, device="cpu")
    np.testing.assert_allclose(without["delta_mean"], table["delta_mean"], rtol=1e-4, atol=1e-7)
    assert without["delta_loss"].isna().all()
    second = filter_influence(model, X, y=y[:, 1], activation=activation, targets=[1],
                              device="cpu")
    assert list(second["target"].unique()) == ["1"]
    np.testing.assert_allclose(second["delta_loss"], table["delta_loss"][1::2], rtol=1e-5,
                               atol=1e-8)


def plant(rng, n, length, motifs: list[str], which: np.ndarray):
    """Random sequences with motif ``which[i]`` (-1: none) planted at a random place."""
    idx = rng.integers(0, 4, size=(n, length))
    for i, m in enumerate(which):
        if m >= 0:
            site = [ALPHABET.index(c) for c in motifs[m]]
            start = rng.integers(0, length - len(site))
            idx[i, start:start + len(site)] = site
    return onehot(idx)


def test_influence_ranks_the_driving_filter_first(rng):
    motifs = ["GATAAG", "CACGTG", "TTTCCC"]
    model = ConvNet(n_filters=3, width=6, n_targets=2).eval()
    with torch.no_grad():
        for f, m in enumerate(motifs):
            site = onehot(np.array([[ALPHABET.index(c) for c in m]]))[0].astype(np.float32)
            model.conv.weight[f] = torch.tensor(site * 2 - 1)
        model.conv.bias.fill_(-4.0)  # a filter fires (2) only on its exact motif
        model.out.weight.copy_(torch.tensor([[0.1, 3.0, 0.0], [0.0, 0.2, -2.0]]))
        model.out.bias.zero_()
    X = plant(rng, 60, 40, motifs, rng.integers(-1, 3, size=60))
    table = filter_influence(model, X, device="cpu")
    wide = influence_matrix(table, "score")
    assert wide["0"].abs().idxmax() == "filter1"
    assert wide["1"].abs().idxmax() == "filter2"
    assert wide.loc["filter2", "1"] < 0 < wide.loc["filter1", "0"]


# ----------------------------------------------------------------------------- table, plots

def test_table_and_figures(tmp_path, random_onehot, rng):
    X = random_onehot(n=20, length=40, seed=9)
    model = random_net(seed=9, n_filters=4, width=5, padding=2)
    pwms = filter_pwms(model, X, min_sites=1, device="cpu")
    tomtom = pd.DataFrame({"query_id": ["filter0", "filter0", "filter1"],
                           "target_id": ["MA1", "MA2", "MA3"], "optimal_offset": 0,
                           "p-value": [1e-3, 1e-4, 0.2], "E-value": [1.0, 0.1, 5],
                           "q-value": [0.01, 0.05, 0.5], "overlap": 5,
                           "query_consensus": "", "target_consensus": "",
                           "orientation": "+", "score": 1.0})
    matches = best_matches(tomtom, filters=pwms.names)
    assert list(matches["best_match"][:2]) == ["MA1", "MA3"]
    assert list(matches["annotation"]) == ["MA1", ".", ".", "."]
    assert matches["best_match"].isna().sum() == 2
    influence = filter_influence(model, X, y=rng.integers(0, 2, (20, 2)), device="cpu")
    table = filter_table(pwms, matches, influence)
    assert list(table.columns[-3:]) == ["influence:0", "influence:1", "delta_loss"]
    assert len(table) == 4
    logos = plot_filter_logos(pwms, tmp_path / "logos", matches)
    assert {p.name for p in logos} >= {"filter0.pdf", "filter0.png"}
    assert plot_filter_weights(pwms, tmp_path / "weights")[1].stat().st_size > 0
    stem = tmp_path / "influence"
    first = plot_influence_heatmap(influence, stem)
    blob = first[1].read_bytes()
    plot_influence_heatmap(influence, stem)
    assert first[1].read_bytes() == blob


# ----------------------------------------------------------------------------- JASPAR recovery

JASPAR_CHOSEN = {"MA0138.3": "REST", "MA0083.3": "SRF", "MA0088.2": "ZNF143", "MA0106.3": "TP53"}


@pytest.fixture(scope="module")
def jaspar_vertebrates():
    from motifscope.io import jaspar_motifs

    motifs, _ = jaspar_motifs("jaspar:2024:CORE:vertebrates")
    return motifs


@pytest.fixture(scope="module")
def jaspar_model(jaspar_vertebrates):
    """A conv layer whose filters are the log-odds of chosen JASPAR motifs, and sequences
    with instances (sampled from the PFMs, either strand) planted one per sequence."""
    rng = np.random.default_rng(11)
    ids = list(JASPAR_CHOSEN)
    width, n, length = 21, 60 * len(ids), 100
    weights = np.zeros((len(ids), 4, width))
    for f, motif_id in enumerate(ids):
        pfm = jaspar_vertebrates[motif_id]
        offset = (width - pfm.shape[1]) // 2
        weights[f, :, offset:offset + pfm.shape[1]] = np.log2((pfm + 0.01) / 1.04 / 0.25)
    model = ConvNet(n_filters=len(ids), width=width, padding="same", n_targets=1).eval()
    with torch.no_grad():
        model.conv.weight.copy_(torch.tensor(weights))
        model.conv.bias.zero_()
    idx = rng.integers(0, 4, size=(n, length))
    for i in range(n):
        pfm = jaspar_vertebrates[ids[i % len(ids)]]
        site = np.array([rng.choice(4, p=col / col.sum()) for col in pfm.T])
        if rng.random() < 0.5:
            site = 3 - site[::-1]
        start = rng.integers(0, length - len(site))
        idx[i, start:start + len(site)] = site
    return model, onehot(idx), ids


@pytest.mark.parametrize("method", ["basset", "danq"])
def test_jaspar_log_odds_filters_recover_their_motifs(jaspar_model, jaspar_vertebrates, method):
    pytest.importorskip("motifscope.motifs")
    from motifscope.filters import filter_tomtom

    model, X, ids = jaspar_model
    pwms = filter_pwms(model, X, method=method, device="cpu")
    assert pwms.kept.all()
    hits = filter_tomtom(pwms, jaspar_vertebrates)
    best = best_matches(hits, jaspar_vertebrates, filters=pwms.names)
    assert list(best["best_match"]) == ids
    assert list(best["annotation"]) == list(JASPAR_CHOSEN.values())
    assert (best["q-value"] < 1e-3).all()


# ----------------------------------------------------------------------------- workflow scripts

def test_workflow_scripts_chain(tmp_path, jaspar_vertebrates, rng):
    """filter_pwms -> filter_tomtom -> filter_influence -> filter_table, as the rules call
    them, on a DemoCNN state_dict whose first filters are JASPAR log-odds."""
    pytest.importorskip("motifscope.motifs")
    import h5py
    import filter_influence as influence_script
    import filter_pwms as pwms_script
    import filter_table as table_script
    import filter_tomtom as tomtom_script
    from motifscope.architectures import DemoCNN
    from motifscope.io import read_meme, write_meme

    ids = ["MA0138.3", "MA0083.3"]
    length, n = 96, 80
    net = DemoCNN(n_targets=2, input_length=length, n_filters=3, filter_width=21,
                  n_filters2=4).eval()
    with torch.no_grad():
        net.conv1.weight.zero_()
        net.conv1.bias.zero_()
        for f, motif_id in enumerate(ids):
            pfm = jaspar_vertebrates[motif_id]
            net.conv1.weight[f, :, :pfm.shape[1]] = torch.tensor(
                np.log2((pfm + 0.01) / 1.04 / 0.25))
        net.conv1.bias[2] = -1.0  # filter2 never fires: reported, no motif
    torch.save(net.state_dict(), tmp_path / "model.pt")
    spec = {"path": str(tmp_path / "model.pt"), "format": "state_dict",
            "class": "motifscope.architectures.DemoCNN", "input_length": length,
            "kwargs": {"n_targets": 2, "input_length": length, "n_filters": 3,
                       "filter_width": 21, "n_filters2": 4}}
    which = np.arange(n) % 2
    idx = rng.integers(0, 4, size=(n, length))
    for i, m in enumerate(which):
        pfm = jaspar_vertebrates[ids[m]]
        site = pfm.argmax(axis=0)
        start = rng.integers(0, length - len(site))
        idx[i, start:start + len(site)] = site
    with h5py.File(tmp_path / "onehot.h5", "w") as h5:
        h5.create_dataset("X", data=onehot(idx))
    loci = pd.DataFrame({"idx": range(n), "chrom": "chr1", "start": 0, "end": length,
                         "summit": length // 2, "name": [f"peak_{i}" for i in range(n)],
                         "score": 1.0})
    loci.to_csv(tmp_path / "loci.tsv", sep="\t", index=False)
    labels = loci[["name"]].assign(rest=(which == 0).astype(int), srf=which)
    labels.to_csv(tmp_path / "labels.tsv", sep="\t", index=False)
    database = jaspar_vertebrates.subset(list(jaspar_vertebrates)[:60] + ids)
    write_meme(database, tmp_path / "db.meme")
    settings = {"layer": None, "activation": "auto", "method": "danq", "threshold": 0.5,
                "pseudocount": None, "min_sites": None, "both_strands": None, "trim_ic": 0.2,
                "max_loci": None, "batch_size": None,
                "tomtom": {"distance": "pearson", "thresh": 0.1, "min_overlap": 1,
                           "pseudocount": 0.1},
                "influence": {"enabled": True, "labels": None, "loss": "auto",
                              "filters_per_pass": None, "value": "score"}}
    out = tmp_path / "filters"
    pwms_script.main(str(tmp_path / "onehot.h5"), spec, settings, 32, "cpu",
                     str(out / "filters.meme"), str(out / "pwms.tsv"), str(out / "logos"),
                     str(out / "weights.png"))
    assert list(read_meme(out / "filters.meme")) == ["filter0", "filter1"]
    assert sorted(p.name for p in (out / "logos").glob("*.png")) == ["filter0.png",
                                                                    "filter1.png"]
    tomtom_script.main(str(out / "filters.meme"), str(out / "pwms.tsv"), str(tmp_path / "db.meme"),
                       settings["tomtom"], "cpu", str(out / "tomtom.tsv"),
                       str(out / "matches.tsv"))
    matches = pd.read_csv(out / "matches.tsv", sep="\t")
    assert list(matches["best_match"][:2]) == ids and matches["best_match"].isna()[2]
    influence_script.main(str(tmp_path / "onehot.h5"), str(tmp_path / "loci.tsv"),
                          str(tmp_path / "labels.tsv"), spec, {"rest": 0, "srf": 1}, settings,
                          32, "cpu", str(out / "influence.tsv"))
    table_script.main(str(out / "pwms.tsv"), str(out / "matches.tsv"),
                      str(out / "influence.tsv"), settings, str(out / "table.tsv"),
                      str(out / "influence.png"))
    table = pd.read_csv(out / "table.tsv", sep="\t")
    assert list(table["annotation"][:2]) == ["REST", "SRF"]
    assert table.loc[2, "status"].startswith("too few sites")
    assert {"influence:rest", "influence:srf", "delta_loss"} <= set(table.columns)
    assert (out / "influence.pdf").exists()
    with pytest.raises(InputError, match="no label column for targets"):
        influence_script.main(str(tmp_path / "onehot.h5"), str(tmp_path / "loci.tsv"),
                              str(tmp_path / "labels.tsv"), spec, {"ctcf": 0}, settings, 32,
                              "cpu", str(out / "influence2.tsv"))
    assert not (out / "influence2.tsv").exists()


def test_bpnet_with_control_track_and_counts_head(random_onehot):
    """bpnet-lite's BPNet: dilated residual convolutions after the first layer, a control
    track filled in by the adapter, the counts head selected; influence equals a re-run with
    a plain hook that overwrites one channel."""
    bpnetlite = pytest.importorskip("bpnetlite")
    torch.manual_seed(0)
    net = bpnetlite.BPNet(n_filters=8, n_layers=2, n_outputs=1, n_control_tracks=1,
                          trimming=20).eval()
    model = ModelAdapter(net, output=1, extra_inputs=[(1, 120)])
    X = random_onehot(n=12, length=120, seed=12)
    acts = filter_activations(model, X, device="cpu")
    assert (acts.layer, acts.activation) == ("iconv", "irelu")
    x = torch.tensor(X).float()
    with torch.no_grad():
        np.testing.assert_allclose(acts.values, torch.relu(net.iconv(x)).numpy(), rtol=1e-5,
                                   atol=1e-6)
    table = filter_influence(model, X, batch_size=5, device="cpu")
    f, mean = 3, acts.values[:, 3].astype(np.float64).mean()

    def overwrite(module, inputs, output):
        output = output.clone()
        output[:, f] = mean
        return output

    with torch.no_grad():
        base = model(x).double()
        handle = net.irelu.register_forward_hook(overwrite)
        null = model(x).double()
        handle.remove()
    np.testing.assert_allclose(table.loc[table["filter"] == "filter3", "delta_mean"],
                               (base - null).mean(0).numpy(), rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------- trained demo model

DEMO_PLANTED = {"ctcf": "MA0139.2", "rest": "MA0138.3"}


@pytest.fixture(scope="module")
def trained_demo(jaspar_vertebrates):
    """The demo architecture (DemoCNN) trained by the demo's trainer on 1000 simulated
    windows where CTCF and REST instances (sampled from their PFMs, either strand) make
    two independent targets positive."""
    from motifscope.train import train_demo_model

    rng = np.random.default_rng(0)
    n, length = 1000, 160
    idx = rng.choice(4, size=(n, length), p=[0.3, 0.2, 0.2, 0.3])
    y = (rng.random((n, len(DEMO_PLANTED))) < 0.35).astype(np.float32)
    for i in range(n):
        for t, motif_id in enumerate(DEMO_PLANTED.values()):
            if not y[i, t]:
                continue
            pfm = jaspar_vertebrates[motif_id]
            for _ in range(rng.integers(1, 3)):
                site = np.array([rng.choice(4, p=col / col.sum()) for col in pfm.T])
                if rng.random() < 0.5:
                    site = 3 - site[::-1]
                start = rng.integers(0, length - len(site))
                idx[i, start:start + len(site)] = site
    X = onehot(idx)
    result = train_demo_model(X[:800], y[:800], X[800:], y[800:], input_length=length,
                              epochs=8, model_kwargs={"n_filters": 16, "n_filters2": 16},
                              random_state=0)
    return result, X, y


@pytest.mark.parametrize("method", ["basset", "danq"])
def test_trained_demo_model_strongest_filters_match_the_planted_motifs(
        trained_demo, jaspar_vertebrates, method):
    pytest.importorskip("motifscope.motifs")
    from motifscope.filters import filter_tomtom

    result, X, y = trained_demo
    assert min(result.card["auroc"]) > 0.85, result.card["auroc"]
    pwms = filter_pwms(result.model, X, method=method, device="cpu")
    hits = filter_tomtom(pwms, jaspar_vertebrates)
    best = best_matches(hits, jaspar_vertebrates, filters=pwms.names).set_index("filter")
    influence = filter_influence(result.model, X, y=y, target_names=list(DEMO_PLANTED),
                                 device="cpu")
    scores = influence_matrix(influence, "score")
    for target, motif_id in DEMO_PLANTED.items():
        strongest = scores[target].idxmax()
        significant = hits[(hits["query_id"] == strongest) & (hits["q-value"] <= 0.1)]
        assert motif_id in set(significant["target_id"]), (target, strongest,
                                                           best.loc[strongest].to_dict())
        assert best.loc[strongest, "annotation"].upper() == \
            jaspar_vertebrates.alt_id(motif_id).upper()


@pytest.mark.workflow
def test_tiny_run_filter_outputs(tiny_run):
    """The filters stage of the shared tiny workflow run: every contract file, readable, and
    the strongest filters of the trained tiny model match the motifs planted for them."""
    import yaml

    from motifscope.io import read_meme

    config = yaml.safe_load((tiny_run / "config" / "config.yaml").read_text())
    targets = list(config["targets"])
    n_filters = config["train"]["n_filters"]
    out = tiny_run / "results" / config["run"] / "filters"
    table = pd.read_csv(out / "table.tsv", sep="\t")
    assert list(table["filter"]) == [f"filter{f}" for f in range(n_filters)]
    assert {"consensus", "best_match", "q-value", "ic", "activation_mean", "activation_sd",
            "nsites", "delta_loss", *(f"influence:{t}" for t in targets)} <= set(table.columns)
    motifs = read_meme(out / "filters.meme")
    assert list(motifs) == list(table.loc[table["status"] == "ok", "filter"])
    tomtom = pd.read_csv(out / "tomtom.tsv", sep="\t")
    assert (tomtom["q-value"] <= 0.1).all() and set(tomtom["query_id"]) <= set(motifs)
    influence = pd.read_csv(out / "influence.tsv", sep="\t")
    assert len(influence) == n_filters * len(targets) and influence["delta_loss"].notna().all()
    assert sorted(p.name for p in (out / "logos").glob("*.png")) == \
        sorted(f"{name}.png" for name in motifs)
    for stem in ("weights", "influence"):
        assert (out / f"{stem}.png").stat().st_size > 0 and (out / f"{stem}.pdf").exists()
    # quality: CTCF (strong motif) drives its target through its most influential filter;
    # the weaker SPI1 motif is among the three most influential filters of its target
    database = read_meme(out.parent / "motifs" / "database.meme")
    planted = {m["target"]: database.alt_id(m["id"]) for m in config["simulate"]["motifs"]}
    for target, top in (("ctcf", 1), ("spi1", 3)):
        ranked = table.sort_values(f"influence:{target}", ascending=False)
        assert planted[target] in set(ranked["annotation"].head(top)), \
            ranked[["filter", "best_match_name", "q-value", f"influence:{target}"]].head(5)
