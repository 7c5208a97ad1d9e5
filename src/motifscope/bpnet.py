"""bpnet-lite BPNet and ChromBPNet models as users have them.

- :class:`ProfileScore` turns a profile head's logits ``(B, strands, L)`` into the one
  number bpnet-lite and chrombpnet attribute for the profile: its ``ProfileWrapper``
  flattens the strands, centres the logits, and sums them weighted by their softmax,
  ``sum(l * softmax(l))``. The weighting step is a module (:class:`ProfileLogitScaling`)
  explained with the rescale rule over the whole step, which is the rule bpnet-lite
  registers for its ``_ProfileLogitScaling`` (so attributions equal bpnet-lite's). Config:
  ``model.output: 0`` (the profile logits) and ``model.output_transform: bpnet_profile``.
- :class:`ChromBPNet` builds a bpnet-lite ChromBPNet from keyword arguments (its bias and
  accessibility BPNets), so its weights load as a state_dict (bpnet-lite's own class takes
  two modules, which a config cannot give).
- :func:`bpnet_kwargs` reads the constructor arguments back from a BPNet instance (used by
  ``motifscope convert-model``).

bpnet-lite's ``_Log`` and ``_Exp`` (the ChromBPNet counts combination
``log(exp(acc) + exp(bias))``) are elementwise and get the rescale rule, as in bpnet-lite.
"""

from __future__ import annotations

from torch import nn


class ProfileLogitScaling(nn.Module):
    """``logits * softmax(logits)`` over the last axis; DeepLIFT rule: rescale over the
    whole step (bpnet-lite's choice for its ``_ProfileLogitScaling``)."""

    def __init__(self):
        super().__init__()
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, logits):
        """(B, n) -> (B, n)."""
        return logits * self.softmax(logits)


class ProfileScore(nn.Module):
    """bpnet-lite's profile attribution target: ``(B, S, L)`` logits -> ``(B, 1)``
    ``sum(c * softmax(c))`` with ``c`` the flattened logits minus their mean."""

    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.scaling = ProfileLogitScaling()

    def forward(self, logits):
        logits = self.flatten(logits)
        logits = logits - logits.mean(dim=-1, keepdim=True)
        return self.scaling(logits).sum(dim=-1, keepdim=True)


OUTPUT_TRANSFORMS = {"bpnet_profile": ProfileScore}


def bpnet_kwargs(model) -> dict:
    """Constructor arguments of a bpnet-lite ``BPNet`` instance, read from its layers.

    Returns
    -------
    dict
        n_filters, n_layers, n_outputs, n_control_tracks, profile_output_bias,
        count_output_bias, trimming, name, verbose (False).
    """
    return {"n_filters": int(model.n_filters), "n_layers": int(model.n_layers),
            "n_outputs": int(model.n_outputs), "n_control_tracks": int(model.n_control_tracks),
            "profile_output_bias": model.fconv.bias is not None,
            "count_output_bias": model.linear.bias is not None,
            "trimming": int(model.trimming), "name": str(model.name), "verbose": False}


def _chrombpnet_class():
    from bpnetlite.chrombpnet import ChromBPNet as Base

    return Base


class ChromBPNet(nn.Module):
    """A bpnet-lite ChromBPNet built from keyword arguments.

    Parameters
    ----------
    bias, accessibility : dict
        ``bpnetlite.bpnet.BPNet`` keyword arguments of the two models (as
        :func:`bpnet_kwargs` gives them).
    name : str, default "ChromBPNet"

    The state_dict of bpnet-lite's ChromBPNet loads into ``self.model`` unchanged (keys
    ``model.bias.*``, ``model.accessibility.*``); ``forward`` is bpnet-lite's: returns
    ``(profile logits (B, 1, L_out), log counts (B, 1))``.
    """

    def __init__(self, bias: dict, accessibility: dict, name: str = "ChromBPNet"):
        super().__init__()
        from bpnetlite.bpnet import BPNet

        self.model = _chrombpnet_class()(BPNet(**{"verbose": False, **bias}),
                                         BPNet(**{"verbose": False, **accessibility}),
                                         name=name)

    def forward(self, X, X_ctl=None):
        return self.model(X, X_ctl)

    def load_state_dict(self, state, strict=True, assign=False):
        """Accept bpnet-lite's own keys (``bias.*``) as well as this wrapper's."""
        if state and not any(k.startswith("model.") for k in state):
            state = {f"model.{k}": v for k, v in state.items()}
        return super().load_state_dict(state, strict=strict, assign=assign)


def third_party_rules() -> dict:
    """DeepLIFT rules for the bpnet-lite classes (when bpnet-lite is imported) and for
    :class:`ProfileLogitScaling`."""
    import sys

    from motifscope.attribution import _rules

    table = {ProfileLogitScaling: _rules.rescale}
    bpnet = sys.modules.get("bpnetlite.bpnet")
    if bpnet is not None and hasattr(bpnet, "_ProfileLogitScaling"):
        table[bpnet._ProfileLogitScaling] = _rules.rescale
    chrom = sys.modules.get("bpnetlite.chrombpnet")
    if chrom is not None:
        for name in ("_Log", "_Exp"):
            if hasattr(chrom, name):
                table[getattr(chrom, name)] = _rules.rescale_elementwise
    return table


def is_bpnet(model) -> bool:
    """Whether ``model`` is a bpnet-lite BPNet (or BasePairNet)."""
    return type(model).__name__ in ("BPNet", "BasePairNet") and hasattr(model, "fconv") \
        and type(model).__module__.startswith("bpnetlite")


def is_chrombpnet(model) -> bool:
    """Whether ``model`` is bpnet-lite's ChromBPNet."""
    return type(model).__name__ == "ChromBPNet" and \
        type(model).__module__.startswith("bpnetlite") and hasattr(model, "accessibility")


__all__ = ["ProfileLogitScaling", "ProfileScore", "ChromBPNet", "bpnet_kwargs",
           "OUTPUT_TRANSFORMS"]
