"""enformer-pytorch and gReLU transformer models for exact DeepLIFT/SHAP.

enformer-pytorch writes its attention and attention pooling with functions (``einsum``,
``softmax``, ``x * attn``), which DeepLIFT cannot give rules to, so
:func:`motifscope.attribution.deep_lift_shap` refuses the model as it is.
:func:`make_exact` rewrites those two classes, in place and with the same parameters and
the same outputs, through :class:`motifscope.attribution.BilinearOp` and ``nn.Softmax``
modules; its LayerNorms, ReLUs, Softplus heads and ``GELU`` (``x * sigmoid(1.702 x)``,
elementwise, rescale rule) already have rules. :class:`EnformerAdapter` turns the model
into what motifscope calls: one-hot ``(B, 4, L)`` in, ``(B, tracks)`` out.

gReLU (``grelu.model``) reuses enformer-pytorch's ``GELU`` and ``AttentionPool`` and has
its own copy of the attention; :func:`make_exact` rewrites that one too, and
:class:`GReLUModel` builds a gReLU architecture by name for the config.

Config (``model.class: motifscope.enformer.EnformerAdapter`` with ``model.kwargs``), or
in Python::

    from enformer_pytorch import Enformer
    net = Enformer.from_hparams(dim=48, depth=1, heads=2, num_downsamples=3,
                                output_heads={"human": 4}, target_length=4)
    model = EnformerAdapter(net, head="human")   # exact=True calls make_exact(net)
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from motifscope.attribution.transformer import BilinearOp


def make_exact(model: nn.Module, bilinear_class=BilinearOp) -> nn.Module:
    """Rewrite every enformer-pytorch ``Attention`` and ``AttentionPool`` of ``model`` so
    that all their nonlinear steps are rule-carrying modules (in place; returns ``model``).

    Parameters
    ----------
    model : torch.nn.Module
        An ``enformer_pytorch.Enformer`` (or any module containing its blocks).
    bilinear_class : type, default :class:`motifscope.attribution.BilinearOp`
        The product module (tangermeme's ``BilinearOp`` works too: same contract), so
        the rewritten model can also be attributed by tangermeme.

    The rewritten forward computes what the original does: the attention logits
    ``(q * scale + content_bias) k^T + shift((q * scale + pos_bias) rel_k^T)`` (the second
    product has a constant factor, so it is linear), ``softmax`` over keys, the weighted
    values; attention pooling ``sum(x * softmax(logits), -1)``. The pooling's padding
    branch (length not divisible by the pool size) is kept as is.
    """
    from enformer_pytorch import modeling_enformer as enf

    grelu_layers = sys.modules.get("grelu.model.layers")
    for module in model.modules():
        if grelu_layers is not None and type(module) is grelu_layers.Attention:
            module.scores = bilinear_class("b h i d, b h j d -> b h i j")
            module.mix = bilinear_class("b h i j, b h j d -> b h i d")
            module.softmax = nn.Softmax(dim=-1)
            module.__class__ = _exact_grelu_attention(grelu_layers)
        elif type(module) is enf.Attention:
            module.scores = bilinear_class("b h i d, b h j d -> b h i j")
            module.mix = bilinear_class("b h i j, b h j d -> b h i d")
            module.softmax = nn.Softmax(dim=-1)
            module.__class__ = _exact_attention(enf)
        elif type(module) is enf.AttentionPool:
            module.weigh = bilinear_class("...,...->...")
            module.softmax = nn.Softmax(dim=-1)
            module.__class__ = _exact_pool(enf)
    return model


_CLASSES: dict = {}


def _exact_attention(enf):
    if "attention" in _CLASSES:
        return _CLASSES["attention"]
    from einops import rearrange

    class ExactAttention(enf.Attention):
        """enformer-pytorch ``Attention`` with its products and softmax as modules."""

        def forward(self, x):
            n, h = x.shape[-2], self.heads
            q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=h)
                       for t in (self.to_q(x), self.to_k(x), self.to_v(x)))
            q = q * self.scale
            content_logits = self.scores(q + self.rel_content_bias, k)
            positions = enf.get_positional_embed(n, self.num_rel_pos_features, x.device,
                                                 use_tf_gamma=self.use_tf_gamma,
                                                 dtype=self.to_rel_k.weight.dtype)
            rel_k = rearrange(self.to_rel_k(self.pos_dropout(positions)), "n (h d) -> h n d",
                              h=h)
            rel_logits = enf.relative_shift(
                torch.einsum("b h i d, h j d -> b h i j", q + self.rel_pos_bias, rel_k))
            attn = self.attn_dropout(self.softmax(content_logits + rel_logits))
            out = rearrange(self.mix(attn, v), "b h n d -> b n (h d)")
            return self.to_out(out)

    _CLASSES["attention"] = ExactAttention
    return ExactAttention


def _exact_pool(enf):
    if "pool" in _CLASSES:
        return _CLASSES["pool"]
    import torch.nn.functional as F

    class ExactAttentionPool(enf.AttentionPool):
        """enformer-pytorch ``AttentionPool`` with its softmax and product as modules."""

        def forward(self, x):
            b, _, n = x.shape
            remainder = n % self.pool_size
            if remainder:
                x = F.pad(x, (0, remainder), value=0)
                mask = F.pad(torch.zeros((b, 1, n), dtype=torch.bool, device=x.device),
                             (0, remainder), value=True)
            x = self.pool_fn(x)
            logits = self.to_attn_logits(x)
            if remainder:
                logits = logits.masked_fill(self.pool_fn(mask), -torch.finfo(logits.dtype).max)
            return self.weigh(x, self.softmax(logits)).sum(dim=-1)

    _CLASSES["pool"] = ExactAttentionPool
    return ExactAttentionPool


def _exact_grelu_attention(layers):
    if "grelu" in _CLASSES:
        return _CLASSES["grelu"]
    from einops import rearrange

    class ExactGReLUAttention(layers.Attention):
        """gReLU ``Attention`` with its products and softmax as modules."""

        def get_attn_scores(self, x, return_v=False):
            q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.n_heads)
                       for t in (self.to_q(x), self.to_k(x), self.to_v(x)))
            q = q / (self.key_len ** 0.5)
            content_logits = self.scores(q + self.rel_content_bias, k)
            pos_logits = layers.relative_shift(torch.einsum(
                "b h i d, h j d -> b h i j", q + self.rel_pos_bias, self._get_pos_k(x)))
            attn = self.attn_dropout(self.softmax(content_logits + pos_logits))
            return (attn, v) if return_v else attn

        def forward(self, x):
            attn, v = self.get_attn_scores(x, return_v=True)
            return self.to_out(rearrange(self.mix(attn, v), "b h n d -> b n (h d)"))

    _CLASSES["grelu"] = ExactGReLUAttention
    return ExactGReLUAttention


class GReLUModel(nn.Module):
    """A gReLU architecture (``grelu.model.models.<name>``) made exact for DeepLIFT/SHAP.

    Parameters
    ----------
    name : str
        Class in ``grelu.model.models``, e.g. ``"EnformerModel"``, ``"BorzoiModel"``,
        ``"ConvTransformerModel"``.
    **kwargs
        Its constructor arguments.

    Load the weights of a gReLU model into ``self.model`` (a state_dict of the gReLU model
    itself loads as is). ``forward``: ``(B, 4, L)`` -> the model's ``(B, tasks, L_out)``.
    """

    def __init__(self, name: str, **kwargs):
        super().__init__()
        from grelu.model import models

        self.model = make_exact(getattr(models, name)(**kwargs))

    def forward(self, x):
        return self.model(x)

    def load_state_dict(self, state, strict=True, assign=False):
        """Accept the gReLU model's own keys as well as this wrapper's (``model.*``)."""
        if state and not any(k.startswith("model.") for k in state):
            state = {f"model.{k}": v for k, v in state.items()}
        return super().load_state_dict(state, strict=strict, assign=assign)


class EnformerAdapter(nn.Module):
    """An enformer-pytorch model as motifscope calls it: ``(B, 4, L)`` -> ``(B, tracks)``.

    Parameters
    ----------
    model : enformer_pytorch.Enformer, optional
        The model; when None it is built from ``hparams`` (random weights; load a
        state_dict into the adapter).
    head : str, default "human"
        Output head.
    reduce : {"sum", "mean"}, default "sum"
        How the head's ``(B, target_length, tracks)`` bins become one value per track.
    exact : bool, default True
        Call :func:`make_exact` so DeepLIFT/SHAP has exact rules everywhere.
    **hparams
        ``Enformer.from_hparams`` arguments when ``model`` is None (e.g. ``dim``,
        ``depth``, ``heads``, ``num_downsamples``, ``output_heads``, ``target_length``).
    """

    def __init__(self, model=None, head: str = "human", reduce: str = "sum",
                 exact: bool = True, **hparams):
        super().__init__()
        if model is None:
            from enformer_pytorch import Enformer

            model = Enformer.from_hparams(**hparams)
        if reduce not in ("sum", "mean"):
            raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
        self.model = make_exact(model) if exact else model
        self.head, self.reduce = head, reduce

    def forward(self, x):
        """x: (B, 4, L) one-hot -> (B, tracks)."""
        bins = self.model(x.transpose(1, 2), head=self.head)
        return bins.sum(dim=1) if self.reduce == "sum" else bins.mean(dim=1)
