"""Exact DeepLIFT for transformer blocks, and a loud stop where no exact rule exists.

DeepLIFT rules attach to modules. A transformer computes its nonlinear steps with
functions (``q @ k.T``, ``softmax``, ``F.scaled_dot_product_attention``) that have no
module to hook, and treating them as linear gives attributions that do not add up. This
module supplies

- :class:`BilinearOp`, a module for a product of two input-dependent tensors (attention
  scores, attention-weighted values, gates), with the exact midpoint rule
  (:func:`motifscope.attribution._rules.bilinear`); the same contract as tangermeme 1.6's
  ``BilinearOp`` (whose instances get the same rule when tangermeme is loaded);
- :class:`AttentionDecomposer`, a function mode active during attribution that runs every
  ``F.scaled_dot_product_attention`` call as ``softmax(q k^T * scale + mask) v`` through
  ``BilinearOp`` and ``nn.Softmax`` modules, so the fused kernel gets exact rules too;
- :func:`unsupported_layers`, the layers known to have no exact rule (recurrent layers,
  ``nn.MultiheadAttention``), found before any work, and :func:`refuse`, the one error
  message naming them and the choices.

LayerNorm, RMSNorm, Softmax and GELU modules have exact rules in the built-in table.
"""

from __future__ import annotations

import math
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from motifscope.attribution import _rules
from motifscope.bpnet import third_party_rules
from motifscope.errors import InputError


class BilinearOp(nn.Module):
    """A contraction of two tensors as a module, so DeepLIFT can give it a rule.

    Parameters
    ----------
    equation : str or None, default None
        None: ``torch.matmul(left, right)``; ``"...,...->..."``: the elementwise product
        ``left * right`` (broadcasting); any other string: ``torch.einsum(equation, left,
        right)``. The operands are used exactly as passed: scaling, transposes and
        reshapes belong outside (they are linear).

    Examples
    --------
    Attention written for exact attributions::

        self.scores, self.mix, self.softmax = BilinearOp(), BilinearOp(), nn.Softmax(-1)
        attn = self.softmax(self.scores(q * scale, k.transpose(-2, -1)))
        out = self.mix(attn, v)
    """

    def __init__(self, equation: str | None = None):
        super().__init__()
        self.equation = equation

    def contract(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """The contraction itself (also used by the DeepLIFT rule at the midpoints)."""
        if self.equation is None:
            return torch.matmul(left, right)
        if self.equation == "...,...->...":
            return left * right
        return torch.einsum(self.equation, left, right)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        """``contract(left, right)``; shapes as torch.matmul / einsum / ``*`` take them."""
        return self.contract(left, right)

    def extra_repr(self) -> str:
        return f"equation={self.equation!r}"


class _Attention(nn.Module):
    """``softmax(q k^T * scale + mask) v`` built from rule-carrying modules."""

    def __init__(self):
        super().__init__()
        self.scores = BilinearOp()
        self.softmax = nn.Softmax(dim=-1)
        self.mix = BilinearOp()

    def forward(self, query, key, value, attn_mask=None, is_causal=False, scale=None,
                enable_gqa=False):
        if enable_gqa and key.shape[-3] != query.shape[-3]:
            repeat = query.shape[-3] // key.shape[-3]
            key = key.repeat_interleave(repeat, dim=-3)
            value = value.repeat_interleave(repeat, dim=-3)
        scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
        logits = self.scores(query * scale, key.transpose(-2, -1))
        n_query, n_key = query.shape[-2], key.shape[-2]
        if is_causal:
            causal = torch.ones(n_query, n_key, dtype=torch.bool,
                                device=query.device).tril()
            logits = logits.masked_fill(~causal, float("-inf"))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                logits = logits.masked_fill(~attn_mask, float("-inf"))
            else:
                logits = logits + attn_mask
        return self.mix(self.softmax(logits), value)


def _sdpa_arguments(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                    scale=None, enable_gqa=False):
    return query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa


class AttentionDecomposer(TorchFunctionMode):
    """While active, ``F.scaled_dot_product_attention`` runs as its definition through
    :class:`BilinearOp` and ``nn.Softmax`` modules (same values up to float rounding), so
    each of its steps gets an exact DeepLIFT rule. A new module is built per call; the
    DeepLIFT passes match layer calls by order, so both passes must make the same calls.

    Raises
    ------
    InputError
        ``dropout_p > 0`` (attribution needs a deterministic model: pass
        ``dropout_p=self.dropout if self.training else 0.0``).
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.scaled_dot_product_attention:
            query, key, value, mask, dropout_p, causal, scale, gqa = _sdpa_arguments(
                *args, **kwargs)
            if dropout_p:
                raise InputError(
                    f"F.scaled_dot_product_attention is called with dropout_p={dropout_p} in "
                    "eval mode; attributions need a deterministic model: pass "
                    "dropout_p=(p if self.training else 0.0)")
            return _Attention()(query, key, value, mask, causal, scale, gqa)
        return func(*args, **kwargs)


def known_third_party_rules() -> dict:
    """Rules for module classes of other packages, for the packages already imported:
    tangermeme's ``BilinearOp`` (midpoint rule), enformer-pytorch's ``GELU``
    (``x * sigmoid(1.702 x)``, elementwise: rescale rule), and bpnet-lite's profile
    scaling, ``_Log`` and ``_Exp`` (:func:`motifscope.bpnet.third_party_rules`)."""
    table = third_party_rules()
    tangermeme = sys.modules.get("tangermeme.deep_lift_shap")
    if tangermeme is not None and hasattr(tangermeme, "BilinearOp"):
        table[tangermeme.BilinearOp] = _rules.bilinear
    enformer = sys.modules.get("enformer_pytorch.modeling_enformer")
    if enformer is not None and hasattr(enformer, "GELU"):
        table[enformer.GELU] = _rules.rescale_elementwise
    return table


# Modules whose computation has no exact DeepLIFT rule here.
_NO_RULE = (nn.RNNBase, nn.RNNCellBase, nn.MultiheadAttention, nn.Transformer,
            nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def unsupported_layers(model: nn.Module, rules: dict) -> list[str]:
    """``"name (Class)"`` of every sub-module known to have no exact rule (LSTM, GRU, RNN,
    their cells, ``nn.MultiheadAttention``, torch's Transformer layers), unless a rule for
    its class was registered (``additional_nonlinear_ops``)."""
    found = []
    for name, module in model.named_modules():
        cls = type(module)
        if isinstance(module, _NO_RULE) and not any(base in rules for base in cls.__mro__):
            found.append(f"{name or 'model'} ({cls.__name__})")
    return found


def refuse(what: str) -> InputError:
    """The error raised when some computation of the model has no exact DeepLIFT rule."""
    return InputError(
        f"deep_lift_shap: no exact DeepLIFT rule for {what}; treating these as linear would "
        "give attributions that do not add up. Choose one: `attribution.method: ism` "
        "(saturation mutagenesis, exact for any model), `attribution.allow_approximate: "
        "true` (treat these steps as linear; recorded in the report's provenance), or "
        "rewrite the layer with modules that have rules (nn.GELU, nn.Softmax, nn.LayerNorm, "
        "nn.RMSNorm, motifscope.attribution.BilinearOp, F.scaled_dot_product_attention)")
