"""Unit tests for motifscope.attribution (DeepLIFT/SHAP and saturation mutagenesis).

The central check is *completeness*: in float64, for every example-reference pair the
multipliers must satisfy sum((x - ref) * m) == f(x) - f(ref); the projected attributions,
averaged over references, must then add up to f(x) - mean f(ref). A missing or wrong rule
breaks this by orders of magnitude more than float64 rounding (checked below too).
Comparisons with tangermeme and captum live in tests/oracle/test_attribution_oracle.py.
"""

import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from motifscope.attribution import deep_lift_shap, saturation_mutagenesis
from motifscope.errors import InputError
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.models import ModelAdapter

COMPLETE = 1e-6  # float64 bound on |delta| (actual values are ~1e-15)


def onehot(n, length, seed=0):
    idx = np.random.default_rng(seed).integers(0, 4, size=(n, length))
    X = np.zeros((n, 4, length), dtype=np.float32)
    np.put_along_axis(X, idx[:, None, :], 1, axis=1)
    return torch.from_numpy(X)


class ConvPool(nn.Module):
    """Conv/ReLU/overlapping MaxPool/Linear with two outputs."""

    def __init__(self, length=60):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 7, padding=3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool1d(4, 2)
        self.conv2 = nn.Conv1d(8, 6, 3, dilation=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(3, 1)
        out = ((length - 4) // 2 + 1 - 4) - 2
        self.linear = nn.Linear(6 * out, 2)

    def forward(self, x):
        h = self.pool(self.relu(self.conv(x)))
        h = self.pool2(self.relu2(self.conv2(h)))
        return self.linear(h.flatten(1))


class Smooth(nn.Module):
    """Sigmoid, Tanh, ELU, GELU, SiLU, Softplus, LeakyReLU; BatchNorm and AvgPool (linear)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 5, padding=2)
        self.norm = nn.BatchNorm1d(6)
        self.acts = nn.ModuleList([nn.Sigmoid(), nn.Tanh(), nn.ELU(), nn.GELU(), nn.SiLU(),
                                   nn.Softplus(), nn.LeakyReLU(0.1)])
        self.convs = nn.ModuleList([nn.Conv1d(6, 6, 3, padding=1) for _ in self.acts])
        self.pool = nn.AvgPool1d(2)
        self.linear = nn.Linear(6, 3)

    def forward(self, x):
        h = self.norm(self.conv(x))
        for conv, act in zip(self.convs, self.acts):
            h = act(conv(h))
        return self.linear(self.pool(h).mean(-1))


class Residual(nn.Module):
    """Dilated residual convs, a crop, a reused ReLU, a ReLU built inside forward, an extra
    input (control track) and an adaptive max pool."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5, padding=2)
        self.shared = nn.ReLU(inplace=True)
        self.dilated = nn.ModuleList([nn.Conv1d(8, 8, 3, padding=d, dilation=d)
                                      for d in (2, 4)])
        self.pool = nn.AdaptiveMaxPool1d(5)
        self.linear = nn.Linear(8 * 5 + 1, 2)

    def forward(self, x, control):
        h = self.shared(self.conv(x))
        for conv in self.dilated:
            h = h + self.shared(conv(h))
        h = nn.ReLU()(h[:, :, 3:-3])
        pooled = self.pool(h).flatten(1)
        return self.linear(torch.cat([pooled, torch.log1p(control.sum((1, 2)))[:, None]], 1))


class SoftmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 5, 5)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        logits = self.conv(x).mean(-1)
        return self.softmax(logits)


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5)
        self.linear = nn.Linear(4, 1)

    def forward(self, x):
        return self.linear(torch.sigmoid(F.relu(self.conv(x))).mean(-1))


def double(model):
    torch.manual_seed(1)
    for p in model.parameters():  # weights large enough that nonlinearities matter
        nn.init.normal_(p, std=0.5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2)
    return model.double().eval()


def check_complete(model, X, refs, args=(), target=0):
    X, refs = X.double(), refs.double()
    attr, deltas = deep_lift_shap(model, X, args=args, target=target, references=refs,
                                  return_deltas=True, device="cpu")
    assert deltas.shape == refs.shape[:2]
    assert deltas.abs().max() < COMPLETE
    with torch.no_grad():
        n, r = refs.shape[:2]
        fx = model(X, *args)[:, target]
        rep = tuple(a.repeat_interleave(r, 0) for a in args)
        fref = model(refs.reshape(n * r, *X.shape[1:]), *rep)[:, target].reshape(n, r)
    total = attr.sum(dim=(1, 2))
    assert torch.allclose(total, fx - fref.mean(1), atol=COMPLETE, rtol=0)
    # a real test: without the rules (all treated linear) completeness fails badly
    return attr


@pytest.mark.parametrize("target", [0, 1])
def test_completeness_conv_relu_overlapping_maxpool(target):
    X = onehot(4, 60)
    refs = dinucleotide_shuffle(X, n=5, random_state=0)
    check_complete(double(ConvPool()), X, refs, target=target)


def test_completeness_smooth_activations_batchnorm_avgpool():
    X = onehot(3, 40)
    check_complete(double(Smooth()), X, dinucleotide_shuffle(X, n=4, random_state=1), target=2)


def test_completeness_residual_reused_and_inline_modules_with_control_track():
    X = onehot(3, 50)
    control = torch.rand(3, 2, 50, dtype=torch.float64)
    model = double(Residual())
    check_complete(model, X, dinucleotide_shuffle(X, n=4, random_state=2), args=(control,),
                   target=1)
    assert model.shared.inplace is True  # switched off while attributing, then restored


def test_completeness_softmax_and_batch_independence():
    X = onehot(6, 30)
    refs = dinucleotide_shuffle(X, n=3, random_state=3)
    model = double(SoftmaxHead())
    attr = check_complete(model, X, refs, target=2)
    alone = deep_lift_shap(model, X[:1].double(), target=2, references=refs[:1].double(),
                           device="cpu")
    torch.testing.assert_close(alone[0], attr[0], rtol=0, atol=1e-12)


def test_rules_matter():
    """The same model with every rule switched to 'linear' violates completeness."""
    X = onehot(2, 60)
    refs = dinucleotide_shuffle(X, n=3, random_state=0).double()
    model = double(ConvPool())
    with pytest.warns(RuntimeWarning, match="convergence deltas"):
        _, deltas = deep_lift_shap(model, X.double(), references=refs, return_deltas=True,
                                   device="cpu", additional_nonlinear_ops={
                                       nn.ReLU: "linear", nn.MaxPool1d: "linear"})
    assert deltas.abs().max() > 1e-3


def test_user_rule_for_custom_module():
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    model = double(nn.Sequential(nn.Conv1d(4, 3, 5), Square(), nn.Flatten(), nn.Linear(3 * 26, 1)))
    X = onehot(3, 30)
    refs = dinucleotide_shuffle(X, n=3, random_state=0).double()
    with pytest.raises(InputError, match=r"Tensor\.mul \(in 1 \(Square\), test_attribution.py"):
        deep_lift_shap(model, X.double(), references=refs, device="cpu")
    _, deltas = deep_lift_shap(model, X.double(), references=refs, return_deltas=True,
                               device="cpu", additional_nonlinear_ops={Square: "rescale"})
    assert deltas.abs().max() < COMPLETE
    with pytest.raises(InputError, match="unknown rule"):
        deep_lift_shap(model, X, references=refs, additional_nonlinear_ops={Square: "magic"})


def test_functional_nonlinearities_are_named_and_deltas_warn():
    X = onehot(3, 30)
    refs = dinucleotide_shuffle(X, n=4, random_state=0)
    with pytest.raises(InputError, match=r"F\.relu.*torch\.sigmoid.*allow_approximate"):
        deep_lift_shap(double(Functional()), X.double(), references=refs.double(),
                       device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, deltas = deep_lift_shap(double(Functional()), X.double(), references=refs.double(),
                                   return_deltas=True, device="cpu", allow_approximate=True)
    messages = " ".join(str(w.message) for w in caught)
    assert "F.relu" in messages and "torch.sigmoid" in messages
    assert "test_attribution.py" in messages  # the call site is named
    assert "convergence deltas" in messages
    assert deltas.abs().max() > 1e-4


def test_no_warning_for_nonlinear_ops_on_extra_inputs_only():
    X = onehot(2, 50)
    control = torch.rand(2, 2, 50, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.log1p(control) must not be reported
        deep_lift_shap(double(Residual()), X.double(), args=(control,),
                       references=dinucleotide_shuffle(X, n=2, random_state=0).double(),
                       device="cpu")


def test_batch_size_invariance_and_hypothetical_projection():
    model = ConvPool().eval()
    X = onehot(3, 60)
    refs = dinucleotide_shuffle(X, n=4, random_state=0)
    base = deep_lift_shap(model, X, references=refs, batch_size=64, hypothetical=True,
                          device="cpu")
    for batch_size in (1, 5):
        other = deep_lift_shap(model, X, references=refs, batch_size=batch_size,
                               hypothetical=True, device="cpu")
        torch.testing.assert_close(other, base, rtol=0, atol=1e-6)
    projected = deep_lift_shap(model, X.to(torch.uint8), references=refs, device="cpu")
    torch.testing.assert_close(projected, base * X, rtol=0, atol=1e-6)
    assert projected.dtype == torch.float32 and projected.shape == X.shape


def test_default_references_are_shard_invariant_and_seeded():
    model = ConvPool().eval()
    X = onehot(6, 60, seed=4)
    full, deltas = deep_lift_shap(model, X, n_shuffles=5, random_state=7, batch_size=9,
                                  return_deltas=True, device="cpu")
    assert deltas.shape == (6, 5)
    shard = deep_lift_shap(model, X[3:], n_shuffles=5, random_state=7, batch_size=4,
                           example_ids=np.arange(3, 6), device="cpu")
    torch.testing.assert_close(shard, full[3:], rtol=0, atol=1e-6)
    explicit = deep_lift_shap(model, X, references=dinucleotide_shuffle(
        X, n=5, random_state=7), device="cpu")
    torch.testing.assert_close(explicit, full, rtol=0, atol=1e-6)
    other_seed = deep_lift_shap(model, X, n_shuffles=5, random_state=8, device="cpu")
    assert (other_seed - full).abs().max() > 1e-4


def test_reference_callable_with_and_without_example_ids():
    model = ConvPool().eval()
    X = onehot(4, 60)
    refs = dinucleotide_shuffle(X, n=3, random_state=0)

    def with_ids(X_, n, random_state, example_ids):
        return refs[torch.as_tensor(example_ids)][:, :n]

    calls = []

    def without_ids(X_, n, random_state):
        calls.append(random_state)
        return dinucleotide_shuffle(X_, n=n, random_state=random_state)

    expected = deep_lift_shap(model, X, references=refs, device="cpu")
    got = deep_lift_shap(model, X, references=with_ids, n_shuffles=3, batch_size=5,
                         random_state=0, device="cpu")
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    deep_lift_shap(model, X, references=without_ids, n_shuffles=2, random_state=10,
                   device="cpu")
    assert calls == [10, 11, 12, 13]  # one seed per example: random_state + example id


def test_multi_head_model_through_adapter():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 3, 5)
            self.relu = nn.ReLU()

        def forward(self, x):
            h = self.relu(self.conv(x))
            return h, h.sum(dim=(1, 2))

    X = onehot(2, 30)
    refs = dinucleotide_shuffle(X, n=2, random_state=0)
    net = double(TwoHeads())
    with pytest.raises(InputError, match="ModelAdapter"):
        deep_lift_shap(net, X, references=refs)
    _, deltas = deep_lift_shap(ModelAdapter(net, output=1), X.double(),
                               references=refs.double(), return_deltas=True, device="cpu")
    assert deltas.abs().max() < COMPLETE


def test_model_state_restored_even_after_errors():
    model = ConvPool()
    model.train()
    model.pool.training = False
    X = onehot(2, 60)
    refs = dinucleotide_shuffle(X, n=2, random_state=0)
    with pytest.raises(InputError, match="out of range"):
        deep_lift_shap(model, X, target=5, references=refs, device="cpu")
    deep_lift_shap(model, X, references=refs, device="cpu")
    assert model.training and model.conv.training and not model.pool.training
    assert all(p.requires_grad for p in model.parameters())
    from torch.nn.modules import module as registry
    assert not registry._global_forward_hooks and not registry._global_forward_pre_hooks


def test_bad_inputs():
    model = ConvPool().eval()
    X = onehot(2, 60)
    refs = dinucleotide_shuffle(X, n=2, random_state=0)
    X_n = X.clone()
    X_n[1, :, 10] = 0
    deep_lift_shap(model, X_n, references=refs, device="cpu")  # N is fine with references
    with pytest.raises(InputError, match=r"shape \(N, 4, L\)"):
        deep_lift_shap(model, X[:, :3], references=refs)
    with pytest.raises(InputError, match="references must have shape"):
        deep_lift_shap(model, X, references=refs[:1])
    with pytest.raises(InputError, match="args"):
        deep_lift_shap(model, X, args=(torch.zeros(3, 2),), references=refs)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            deep_lift_shap(model, X, references=refs, device="cuda")
    for err in (InputError("x"),):
        assert "\n" not in str(err)


# --- saturation mutagenesis -----------------------------------------------------------------

class WithControl(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 3, padding=1)
        self.linear = nn.Linear(4, 2)

    def forward(self, x, control):
        return self.linear(torch.tanh(self.conv(x)).mean(-1)) + control.mean((1, 2))[:, None]


def naive_ism(model, X, control, target, start, end):
    """One forward per single substitution (skipping none); the definition of ISM."""
    n, _, length = X.shape
    effects = torch.zeros(n, 4, length, dtype=torch.float64)
    with torch.no_grad():
        for i in range(n):
            y0 = model(X[i:i + 1], control[i:i + 1])[0, target]
            for pos in range(start, end):
                for base in range(4):
                    edited = X[i:i + 1].clone()
                    edited[0, :, pos] = 0
                    edited[0, base, pos] = 1
                    effects[i, base, pos] = model(edited, control[i:i + 1])[0, target] - y0
    return effects


def test_ism_equals_naive_loop_with_window_and_n():
    torch.manual_seed(0)
    model = WithControl().double().eval()
    X = onehot(3, 20).double()
    X[2, :, 7] = 0  # an N: all four bases are real edits there
    control = torch.rand(3, 2, 20, dtype=torch.float64)
    expected = naive_ism(model, X, control, 1, 4, 15)
    rows = []
    hook = model.register_forward_pre_hook(lambda module, args: rows.append(len(args[0])))
    attr, effects = saturation_mutagenesis(model, X, args=(control,), target=1, start=4,
                                           end=15, batch_size=7, raw_outputs=True,
                                           hypothetical=True, device="cpu",
                                           prune_unused=False)
    hook.remove()
    # 2 probe rows + 3 originals + 3 edits per position (4 at the N): no-op edits skipped
    assert sum(rows) == 2 + 3 + 3 * 3 * 11 + 1
    torch.testing.assert_close(effects, expected, rtol=0, atol=1e-12)
    centred = expected - expected.mean(1, keepdim=True)
    centred[:, :, :4] = 0
    centred[:, :, 15:] = 0
    torch.testing.assert_close(attr, centred, rtol=0, atol=1e-12)
    projected = saturation_mutagenesis(model, X, args=(control,), target=1, start=4, end=15,
                                       device="cpu")
    torch.testing.assert_close(projected, centred * X, rtol=0, atol=1e-12)


def test_ism_full_length_default_and_bad_window():
    model = ModelAdapter(WithControl(), extra_inputs=[(2, 20)]).eval()
    X = onehot(2, 20)
    attr = saturation_mutagenesis(model, X.to(torch.uint8), device="cpu", target=0)
    assert attr.shape == X.shape and attr.dtype == torch.float32
    assert torch.count_nonzero(attr * (1 - X)) == 0
    with pytest.raises(InputError, match="start < end"):
        saturation_mutagenesis(model, X, start=10, end=5)
    with pytest.raises(InputError, match="out of range"):
        saturation_mutagenesis(model, X, target=2, device="cpu")


# --- workflow scripts (attribute one shard, merge shards) ------------------------------------

SMALL_NET = """
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, n_targets=2, width=7):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(4, 8, width, padding=width // 2), nn.ReLU(),
                                  nn.MaxPool1d(4), nn.Conv1d(8, 8, 3), nn.ReLU(),
                                  nn.AdaptiveMaxPool1d(1), nn.Flatten())
        self.out = nn.Linear(8, n_targets)

    def forward(self, x):
        return self.out(self.body(x))
"""


@pytest.fixture
def workflow_inputs(tmp_path):
    """loci/onehot.h5 with 10 windows of 64 bp and a small CNN (2 outputs) saved as a
    state_dict with its class in a file (config model.class 'file.py:Class')."""
    import h5py

    from motifscope.models import import_class, load_model

    X = onehot(10, 64, seed=11).to(torch.uint8).numpy()
    with h5py.File(tmp_path / "onehot.h5", "w") as handle:
        handle.create_dataset("X", data=X)
    (tmp_path / "small_net.py").write_text(SMALL_NET)
    spec = {"path": str(tmp_path / "model.pt"), "class": f"{tmp_path / 'small_net.py'}:SmallNet",
            "kwargs": {"n_targets": 2, "width": 7}}
    torch.manual_seed(0)
    torch.save(import_class(spec["class"])(**spec["kwargs"]).state_dict(), spec["path"])
    net = load_model(spec, input_length=64)
    params = {"method": "deeplift_shap", "n_shuffles": 4, "batch_size": 6,
              "warning_threshold": 0.01, "ism_start": None, "ism_end": None}
    return tmp_path, X, net, spec, params


def test_shards_merge_to_a_single_run_with_modisco_npz(workflow_inputs):
    import h5py

    import attribute
    import merge_attributions

    tmp, X, net, spec, params = workflow_inputs
    shards = [tmp / f"shard{k}.h5" for k in range(4)]  # 10 loci, 4 per shard: the last empty
    for k, path in enumerate(shards):
        attribute.main(tmp / "onehot.h5", path, spec, "t1", 1, 4 * k, 4 * k + 4, params,
                       device="cpu", random_state=3)
    with h5py.File(shards[3]) as handle:
        assert handle["attr"].shape == (0, 4, 64) and handle["deltas"].shape == (0, 4)
    merge_attributions.main(shards, tmp / "t1.h5", tmp / "onehot.h5", dtype="float32",
                            ohe_npz=tmp / "ohe.npz", shap_npz=tmp / "shap.npz",
                            figure=tmp / "t1.png")
    assert (tmp / "t1.png").stat().st_size > 0 and (tmp / "t1.pdf").exists()
    expected, deltas = deep_lift_shap(net, X, target=1, n_shuffles=4, random_state=3,
                                      hypothetical=True, return_deltas=True, device="cpu")
    with h5py.File(tmp / "t1.h5") as handle:
        np.testing.assert_allclose(handle["attr"][:], expected.numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(handle["deltas"][:], deltas.numpy(), rtol=0, atol=1e-6)
        assert handle.attrs["method"] == "deeplift_shap" and handle.attrs["target_index"] == 1
        assert '"n_shuffles": 4' in handle.attrs["params"]
    np.testing.assert_array_equal(np.load(tmp / "ohe.npz")["arr_0"], X)
    np.testing.assert_allclose(np.load(tmp / "shap.npz")["arr_0"], expected.numpy(), atol=1e-6)
    merge_attributions.main(shards, tmp / "t1_16.h5", tmp / "onehot.h5", dtype="float16")
    with h5py.File(tmp / "t1_16.h5") as handle:
        assert handle["attr"].dtype == np.float16


def test_ism_shard(workflow_inputs):
    import h5py

    import attribute

    tmp, X, net, spec, params = workflow_inputs
    params = {**params, "method": "ism", "ism_start": 10, "ism_end": 30, "batch_size": 64}
    attribute.main(tmp / "onehot.h5", tmp / "ism.h5", spec, "t0", 0, 4, 8, params,
                   device="cpu")
    expected = saturation_mutagenesis(net, X[4:8], target=0, start=10, end=30,
                                      hypothetical=True, device="cpu")
    with h5py.File(tmp / "ism.h5") as handle:
        np.testing.assert_allclose(handle["attr"][:], expected.numpy(), atol=1e-6)
        assert handle["deltas"].shape == (4, 0) and handle.attrs["method"] == "ism"
    import merge_attributions

    attribute.main(tmp / "onehot.h5", tmp / "all.h5", spec, "t0", 0, 0, 10, params,
                   device="cpu")
    merge_attributions.main([tmp / "all.h5"], tmp / "t0.h5", tmp / "onehot.h5",
                            figure=tmp / "t0.png")
    with h5py.File(tmp / "t0.h5") as handle:
        np.testing.assert_allclose(handle["attr"][4:8], expected.numpy(), atol=1e-6)
    assert (tmp / "t0.png").exists()


@pytest.mark.parametrize("problem", ["target", "device", "method"])
def test_attribute_script_bad_input_leaves_no_output(workflow_inputs, problem):
    import h5py

    import attribute

    tmp, X, net, spec, params = workflow_inputs
    target_index, device = 0, "cpu"
    if problem == "target":
        target_index, match = 2, "out of range"
    elif problem == "device":
        if torch.cuda.is_available():
            pytest.skip("CUDA present")
        device, match = "cuda", "CUDA is not available"
    else:
        params, match = {**params, "method": "gradient"}, "attribution.method"
    with pytest.raises(InputError, match=match) as err:
        attribute.main(tmp / "onehot.h5", tmp / "out.h5", spec, "t", target_index, 4, 8,
                       params, device=device)
    assert "\n" not in str(err.value)
    assert not (tmp / "out.h5").exists() and list(tmp.glob(".out.h5*")) == []


# --- skipping layers that cannot change the explained output ---------------------------------

class CountingConv(nn.Conv1d):
    calls = 0

    def forward(self, x):
        self.calls += 1
        return super().forward(x)


class TwoHeadsCounted(nn.Module):
    """A counts-like head (explained) and a profile-like head (dead unless ``gate``)."""

    def __init__(self, gate=False):
        super().__init__()
        self.gate = gate
        self.body = nn.Sequential(nn.Conv1d(4, 6, 5, padding=2), nn.ReLU())
        self.profile = CountingConv(6, 2, 9, padding=4)
        self.counts = nn.Linear(6, 1)

    @property
    def profile_calls(self):
        return self.profile.calls

    def forward(self, x):
        h = self.body(x)
        profile = self.profile(h)
        counts = self.counts(h.mean(-1))
        if self.gate:  # the value of the profile head matters, but no gradient reaches it
            counts = torch.where(profile.detach().mean((1, 2))[:, None] > 0, counts, -counts)
        return profile, counts


@pytest.mark.parametrize("gate", [False, True])
def test_dead_head_is_skipped_only_when_it_cannot_matter(gate):
    net = TwoHeadsCounted(gate=gate).eval()
    model = ModelAdapter(net, output=1)
    X = onehot(3, 40)
    refs = dinucleotide_shuffle(X, n=4, random_state=0)
    full = deep_lift_shap(model, X, references=refs, prune_unused=False, batch_size=4,
                          device="cpu")
    calls_full = net.profile_calls  # 1 target check + 2 passes x 3 batches
    pruned = deep_lift_shap(model, X, references=refs, batch_size=4, device="cpu")
    calls_pruned = net.profile_calls - calls_full
    torch.testing.assert_close(pruned, full, rtol=0, atol=1e-6)
    if gate:  # verification refuses the stub: every pass still runs the profile head
        assert calls_pruned >= calls_full
    else:  # only the probes run it (1 target check + 1 trace + 2 verification passes)
        assert calls_pruned <= 4 < calls_full
    assert "forward" not in net.profile.__dict__  # the stub is gone afterwards
    ism_full = saturation_mutagenesis(model, X, start=10, end=20, prune_unused=False,
                                      device="cpu")
    ism = saturation_mutagenesis(model, X, start=10, end=20, device="cpu")
    torch.testing.assert_close(ism, ism_full, rtol=0, atol=1e-6)
