"""Transformer layers: motifscope's DeepLIFT/SHAP against tangermeme 1.6 on the same
references, and the loud stop where no exact rule exists.

tangermeme 1.6 has exact rules for LayerNorm, RMSNorm, Softmax, GELU (rescale) and its
``BilinearOp``; the models below express every nonlinear step through those modules
(tangermeme's ``BilinearOp`` class, which motifscope gives the same midpoint rule), so both
tools apply the same rules and the only differences left are float32 rounding. Tolerance:
max |ours - theirs| <= 1e-5 (attributions here are O(0.01 - 1)). The same models are also
checked for completeness in float64 (|delta| <= 1e-9: every rule is exact).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from motifscope.attribution import deep_lift_shap
from motifscope.attribution.references import shuffle_keeping_n
from motifscope.ersatz import dinucleotide_shuffle
from motifscope.errors import InputError

pytestmark = [pytest.mark.oracle, pytest.mark.filterwarnings("ignore::UserWarning")]

tangermeme_dls = pytest.importorskip("tangermeme.deep_lift_shap")
from tangermeme._deep_lift_utils import _nonlinear  # noqa: E402

TOL = 1e-5


def onehot(n, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, 4, (n, length), generator=g)
    return F.one_hot(idx, 4).transpose(1, 2).float()


class Block(nn.Module):
    """Conv stem, then a pre-norm transformer block: LayerNorm, single-head attention
    (``sdpa=True``: through F.scaled_dot_product_attention; else tangermeme BilinearOps
    and nn.Softmax), residual, RMSNorm, GELU MLP, mean over positions, 2 outputs."""

    def __init__(self, sdpa=False, d=8):
        super().__init__()
        self.sdpa = sdpa
        self.conv = nn.Conv1d(4, d, 7, padding=3)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.RMSNorm(d, eps=1e-6)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.scores, self.mix = tangermeme_dls.BilinearOp(), tangermeme_dls.BilinearOp()
        self.softmax = nn.Softmax(dim=-1)
        self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
        self.out = nn.Linear(d, 2)

    def forward(self, x):
        h = self.conv(x).transpose(1, 2)
        z = self.norm1(h)
        q, k, v = self.q(z), self.k(z), self.v(z)
        if self.sdpa:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            scale = 1 / math.sqrt(q.shape[-1])
            a = self.mix(self.softmax(self.scores(q * scale, k.transpose(-2, -1))), v)
        h = h + self.o(a)
        h = h + self.mlp(self.norm2(h))
        return self.out(h.mean(dim=1))


def scaled(model, std=0.4, seed=0):
    torch.manual_seed(seed)
    for p in model.parameters():
        nn.init.normal_(p, std=std)
    return model.eval()


def theirs(model, X, refs, target, extra=None):
    return tangermeme_dls.deep_lift_shap(model, X, target=target, references=refs,
                                         hypothetical=True, device="cpu", batch_size=8,
                                         additional_nonlinear_ops=extra,
                                         warning_threshold=1e9, only_warn=True)


def ours(model, X, refs, target):
    return deep_lift_shap(model, X, target=target, references=refs, hypothetical=True,
                          return_deltas=True, device="cpu", batch_size=8)


def test_transformer_block_vs_tangermeme_and_sdpa_rule():
    X = onehot(4, 40)
    X[1, :, 12:15] = 0  # an N run, kept in place in the references
    refs = shuffle_keeping_n(X, 3, 1, torch.arange(4))
    assert (refs[1][:, :, 12:15] == 0).all()
    explicit = scaled(Block())
    fused = Block(sdpa=True)
    fused.load_state_dict(explicit.state_dict())
    fused.eval()
    for target in (0, 1):
        expected = theirs(explicit, X, refs, target)
        got, _ = ours(explicit, X, refs, target)
        assert expected.abs().max() > 1e-2
        assert (got - expected).abs().max() <= TOL
        via_sdpa, _ = ours(fused, X, refs, target)
        assert (via_sdpa - expected).abs().max() <= TOL
    _, deltas = deep_lift_shap(fused.double(), X.double(), references=refs.double(),
                               return_deltas=True, device="cpu")
    assert deltas.abs().max() <= 1e-9


def small_enformer(seed=0):
    enformer_pytorch = pytest.importorskip("enformer_pytorch")
    torch.manual_seed(seed)
    net = enformer_pytorch.Enformer.from_hparams(
        dim=24, depth=1, heads=2, attn_dim_key=8, num_downsamples=3, dim_divisible_by=4,
        output_heads={"human": 3}, target_length=4, dropout_rate=0.0, attn_dropout=0.0,
        pos_dropout=0.0)
    for module in net.modules():  # enformer zero-initialises its attention output
        if hasattr(module, "to_out"):
            nn.init.normal_(module.to_out.weight, std=0.3)
    return net


def test_enformer_pytorch_vs_tangermeme():
    from enformer_pytorch import modeling_enformer

    from motifscope.enformer import EnformerAdapter, make_exact

    net = small_enformer()
    raw = EnformerAdapter(net, exact=False).eval()
    X = onehot(3, 64, seed=2)
    refs = dinucleotide_shuffle(X, n=2, random_state=0)
    before = raw(X)
    with pytest.raises(InputError, match=r"einsum \(in model\.transformer.*allow_approximate"):
        deep_lift_shap(raw, X, references=refs, device="cpu")
    make_exact(net, bilinear_class=tangermeme_dls.BilinearOp)
    model = EnformerAdapter(net, exact=False).eval()
    torch.testing.assert_close(model(X), before, rtol=0, atol=1e-6)
    extra = {modeling_enformer.GELU: _nonlinear}  # enformer's x * sigmoid(1.702 x)
    expected = theirs(model, X, refs, target=1, extra=extra)
    got, _ = ours(model, X, refs, target=1)
    assert expected.abs().max() > 1e-3
    assert (got - expected).abs().max() <= TOL
    _, deltas = deep_lift_shap(model.double(), X.double(), references=refs.double(),
                               target=1, return_deltas=True, device="cpu")
    assert deltas.abs().max() <= 1e-9


class DanQ(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 9)
        self.relu = nn.ReLU()
        self.lstm = nn.LSTM(8, 4, batch_first=True, bidirectional=True)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        h, _ = self.lstm(self.relu(self.conv(x)).transpose(1, 2))
        return self.out(h.mean(dim=1))


class CustomOp(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def test_layers_without_rules_stop_with_one_message():
    X = onehot(2, 30)
    refs = dinucleotide_shuffle(X, n=2, random_state=0)
    with pytest.raises(InputError, match=r"lstm \(LSTM\).*attribution\.method: ism") as err:
        deep_lift_shap(DanQ().eval(), X, references=refs, device="cpu")
    assert "\n" not in str(err.value)
    custom = nn.Sequential(nn.Conv1d(4, 3, 5), CustomOp(), nn.Flatten(), nn.Linear(78, 1))
    with pytest.raises(InputError, match=r"torch\.sigmoid \(in 1 \(CustomOp\)"):
        deep_lift_shap(custom.eval(), X, references=refs, device="cpu")
    with pytest.warns(RuntimeWarning, match="allow_approximate"):
        deep_lift_shap(DanQ().eval(), X, references=refs, device="cpu",
                       allow_approximate=True)


def test_grelu_conv_transformer_vs_tangermeme():
    grelu_models = pytest.importorskip("grelu.model.models")
    from enformer_pytorch import modeling_enformer

    from motifscope.enformer import make_exact
    from motifscope.models import ModelAdapter

    torch.manual_seed(0)
    net = grelu_models.ConvTransformerModel(
        n_tasks=2, n_transformers=1, n_heads=2, n_pos_features=6, key_len=8, value_len=8,
        pos_dropout=0.0, attn_dropout=0.0, ff_dropout=0.0, final_pool_func="avg").eval()
    for module in net.modules():
        if hasattr(module, "to_out"):
            nn.init.normal_(module.to_out.weight, std=0.3)
    model = ModelAdapter(net).eval()
    X = onehot(3, 96, seed=4)
    refs = dinucleotide_shuffle(X, n=2, random_state=3)
    with pytest.raises(InputError, match=r"einsum \(in model\.embedding\.transformer_tower"):
        deep_lift_shap(model, X, references=refs, device="cpu")
    before = model(X)
    make_exact(net, bilinear_class=tangermeme_dls.BilinearOp)
    torch.testing.assert_close(model(X), before, rtol=0, atol=1e-6)
    expected = theirs(model, X, refs, target=1, extra={modeling_enformer.GELU: _nonlinear})
    got, _ = ours(model, X, refs, target=1)
    assert expected.abs().max() > 1e-3
    assert (got - expected).abs().max() <= TOL
