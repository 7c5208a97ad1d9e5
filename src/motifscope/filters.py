"""First-layer filter interpretation: activations, PWMs, TOMTOM matches and influence.

The oldest way to read a convolutional genomics model is to turn every first-layer filter
into a motif and ask how much the model relies on it. This module implements the two
published recipes and the influence measure that goes with them:

- **Activations** (:func:`filter_activations`): the output of the first ``Conv1d`` (or a
  named one) after the nonlinearity that follows it, collected with forward hooks in
  batches. Every output position ``j`` is mapped back to its receptive window in the
  sequence, ``[j * stride - left_pad, j * stride - left_pad + span)`` (taps ``dilation``
  apart), for valid, same or explicit padding.
- **PWMs** (:func:`filter_pwms`): ``method="basset"`` (Kelley et al. 2016,
  ``basset_motifs.py``) counts the window of every position whose activation exceeds
  ``mean + 0.5 * (max - mean)`` of that filter over all sequences and positions, with a
  pseudocount of 1 per base and at least 10 sites; ``method="danq"`` (Quang & Xie,
  FactorNet ``visualize.py``) counts the window of each sequence's maximum activation when
  it is above 0, on the forward and on the reverse-complement input, with no pseudocount.
- **TOMTOM** (:func:`filter_tomtom`, :func:`best_matches`): the filters' PFMs against a
  motif database with Pearson correlation (as Basset does); the best match is the one with
  the smallest q-value.
- **Influence** (:func:`filter_influence`): each filter's output is replaced by its mean
  over all sequences and positions (Basset's ``basset_motifs_infl``), and the change in
  every target's prediction and in the loss is recorded.

Coordinates are 0-based; a window start may be negative (or its end beyond ``L``) at the
edges of a padded convolution, and such partial windows are never counted in a PFM.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from motifscope.errors import InputError
from motifscope.plot import information_content
from motifscope.utils import as_numpy, as_tensor, progress, resolve_device

log = logging.getLogger(__name__)

ALPHABET = "ACGT"
METHODS = ("basset", "danq")
#: Per-method defaults: Basset keeps filters with >= 10 sites and adds 1 pseudo-site per
#: base; FactorNet/DanQ keep any filter with a site and add nothing.
METHOD_DEFAULTS = {
    "basset": {"pseudocount": 1.0, "min_sites": 10, "both_strands": False},
    "danq": {"pseudocount": 0.0, "min_sites": 1, "both_strands": True},
}

_NONLINEARITIES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU,
    nn.SiLU, nn.Mish, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softsign, nn.Hardtanh,
    nn.Hardswish, nn.Hardsigmoid, nn.LogSigmoid, nn.Tanhshrink, nn.Threshold,
)
#: Class-name fragments of user-defined activation modules (e.g. an ``Exponential`` layer).
_NONLINEARITY_NAMES = ("relu", "gelu", "elu", "exp", "swish", "softplus", "sigmoid", "tanh",
                       "activation", "mish")
#: Modules that may sit between the convolution and its nonlinearity (Basset: conv -> BN -> ReLU).
_PASS_THROUGH = (nn.BatchNorm1d, nn.InstanceNorm1d, nn.GroupNorm, nn.LayerNorm, nn.Dropout,
                 nn.Dropout1d, nn.AlphaDropout, nn.Identity)
_NO_ACTIVATION = ("none", "conv", "linear")


class _StopForward(Exception):
    """Raised by a hook to end a forward pass once the activation has been captured."""


# --------------------------------------------------------------------------------------
# Locating the first layer and its activation
# --------------------------------------------------------------------------------------

@dataclass
class FirstLayer:
    """The convolution whose filters are interpreted, and where its activation is read.

    Attributes
    ----------
    model : ModelAdapter
        Calls the network as ``model(X) -> (B, T)``.
    conv_name : str
        Module name of the ``Conv1d`` in ``model.model.named_modules()``.
    conv : nn.Conv1d
    conv_call : int
        Which call of ``conv`` in one forward pass is the first layer (0 unless the
        module is reused, e.g. by a siamese forward/reverse model).
    capture_name : str
        Module whose output is the activation (the conv itself when there is none).
    capture : nn.Module
    capture_call : int
        Which call of ``capture`` in one forward pass follows the first layer.
    left_pad, stride, dilation, width : int
        Geometry of the convolution; ``span = dilation * (width - 1) + 1`` input positions.
    """

    model: nn.Module
    conv_name: str
    conv: nn.Conv1d
    conv_call: int
    capture_name: str
    capture: nn.Module
    capture_call: int
    left_pad: int
    stride: int
    dilation: int
    width: int

    @property
    def n_filters(self) -> int:
        """Number of filters F."""
        return int(self.conv.out_channels)

    @property
    def span(self) -> int:
        """Input positions covered by one window, ``dilation * (width - 1) + 1``."""
        return self.dilation * (self.width - 1) + 1

    @property
    def activation_name(self) -> str:
        """Name of the activation module, or ``"none"`` when the raw conv output is used."""
        return "none" if self.capture is self.conv else self.capture_name

    def window_starts(self, output_length: int) -> np.ndarray:
        """Input start of the receptive window of each output position, shape (L_out,)."""
        return np.arange(output_length) * self.stride - self.left_pad

    def full_windows(self, output_length: int, input_length: int) -> np.ndarray:
        """Boolean (L_out,): True where the whole window lies inside ``[0, input_length)``."""
        starts = self.window_starts(output_length)
        return (starts >= 0) & (starts + self.span <= input_length)

    def full_range(self, output_length: int, input_length: int) -> tuple[int, int]:
        """``[first, end)`` output positions whose windows lie inside the input (a range,
        since window starts increase with the position); empty when none does."""
        full = np.flatnonzero(self.full_windows(output_length, input_length))
        return (int(full[0]), int(full[-1]) + 1) if len(full) else (0, 0)

    def weights(self) -> np.ndarray:
        """The filters as a float64 array of shape (F, 4, width)."""
        return as_numpy(self.conv.weight).astype(np.float64)


@dataclass
class _Call:
    name: str
    module: nn.Module
    index: int
    input: Any
    output: Any
    leaf: bool


def _as_adapter(model) -> nn.Module:
    from motifscope.models import ModelAdapter

    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, nn.Module):
        return ModelAdapter(model)
    raise InputError(f"filters need a torch nn.Module (or motifscope ModelAdapter), got "
                     f"{type(model).__name__}; load it with motifscope.models.load_model")


def _is_nonlinearity(module: nn.Module) -> bool:
    if isinstance(module, _NONLINEARITIES):
        return True
    name = type(module).__name__.lower()
    return not list(module.children()) and any(part in name for part in _NONLINEARITY_NAMES)


def _trace(model: nn.Module, x: torch.Tensor) -> list[_Call]:
    """Every module call of one forward pass on ``x``, in the order the calls finished."""
    calls: list[_Call] = []
    counts: dict[str, int] = {}

    def make_hook(name):
        def hook(module, inputs, output):
            index = counts.get(name, 0)
            counts[name] = index + 1
            first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
            calls.append(_Call(name, module, index, first, output,
                               leaf=not any(True for _ in module.children())))
        return hook

    handles = [module.register_forward_hook(make_hook(name))
               for name, module in model.model.named_modules() if name]
    try:
        with _eval_mode(model):
            model(x)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure means the model does not take X
        raise InputError(f"the model fails on an input of shape {tuple(x.shape)} "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         "check that the sequences have the window length it was trained "
                         "on") from err
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _conv_names(model: nn.Module) -> list[str]:
    return [name for name, module in model.model.named_modules()
            if isinstance(module, nn.Conv1d)]


def _no_conv_message(model: nn.Module) -> str:
    net = model.model
    return (f"the model ({type(net).__name__}) has no nn.Conv1d layer whose filters could "
            f"be read{_format_hint(model)}; the filters stage needs a first convolutional "
            "layer")


def _format_hint(model: nn.Module) -> str:
    net = model.model
    hint = ""
    if isinstance(net, torch.jit.ScriptModule):
        hint = (" (it is a TorchScript archive, whose layers cannot be hooked: save a "
                "state_dict and set model.format: state_dict)")
    elif isinstance(net, torch.fx.GraphModule):
        hint = (" (it is a torch.export archive, whose layers are flattened: save a "
                "state_dict and set model.format: state_dict)")
    return hint


def _find_conv(model: nn.Module, calls: list[_Call], layer: str | None) -> int:
    """Position in ``calls`` of the first-layer convolution."""
    if layer is None:
        for pos, call in enumerate(calls):
            if isinstance(call.module, nn.Conv1d):
                return pos
        raise InputError(_no_conv_message(model))
    modules = dict(model.model.named_modules())
    name = layer
    if name not in modules and name.startswith("model.") and name[6:] in modules:
        name = name[6:]  # a name taken from the adapter's own named_modules()
    if name not in modules:
        convs = _conv_names(model)
        available = ", ".join(convs) if convs else "none (" + _no_conv_message(model) + ")"
        raise InputError(f"config key filters.layer: the model has no module named "
                         f"'{layer}'; its Conv1d layers are: {available}")
    module = modules[name]
    if not isinstance(module, nn.Conv1d):
        convs = ", ".join(_conv_names(model)) or "none"
        raise InputError(f"config key filters.layer: '{layer}' is a {type(module).__name__}, "
                         f"not a Conv1d; the model's Conv1d layers are: {convs}")
    for pos, call in enumerate(calls):
        if call.module is module:
            return pos
    raise InputError(f"config key filters.layer: the layer '{layer}' is never called in the "
                     f"model's forward pass{_format_hint(model)}; name a layer that processes "
                     "the sequence")


def _follow_activation(calls: list[_Call], conv_pos: int) -> int | None:
    """Position of the first nonlinearity applied to the conv output (through norms)."""
    current = calls[conv_pos].output
    for pos in range(conv_pos + 1, len(calls)):
        call = calls[pos]
        if not call.leaf or call.input is not current:
            continue
        if _is_nonlinearity(call.module):
            return pos
        if isinstance(call.module, _PASS_THROUGH) and isinstance(call.output, torch.Tensor):
            current = call.output
            continue
        return None
    return None


def _find_activation(model: nn.Module, calls: list[_Call], conv_pos: int,
                     activation: str | None) -> int:
    conv_call = calls[conv_pos]
    if activation is not None and str(activation).lower() in _NO_ACTIVATION:
        return conv_pos
    if activation is None or str(activation).lower() == "auto":
        pos = _follow_activation(calls, conv_pos)
        if pos is None:
            log.warning("no nonlinearity module follows %s; using its raw output (set "
                        "filters.activation to name the activation module)", conv_call.name)
            return conv_pos
        return pos
    modules = dict(model.model.named_modules())
    name = str(activation)
    if name not in modules and name.startswith("model.") and name[6:] in modules:
        name = name[6:]
    if name not in modules:
        after = [c.name for c in calls[conv_pos + 1:conv_pos + 8] if c.leaf]
        raise InputError(f"config key filters.activation: the model has no module named "
                         f"'{activation}'; modules called after {conv_call.name}: "
                         f"{', '.join(after) or 'none'} (or use 'auto' / 'none')")
    for pos in range(conv_pos + 1, len(calls)):
        call = calls[pos]
        if call.module is modules[name]:
            shape = getattr(call.output, "shape", None)
            if shape != conv_call.output.shape:
                raise InputError(f"config key filters.activation: '{activation}' outputs shape "
                                 f"{tuple(shape) if shape else type(call.output).__name__}, "
                                 f"not the conv output shape {tuple(conv_call.output.shape)}; "
                                 "name the elementwise activation right after the conv")
            return pos
    raise InputError(f"config key filters.activation: '{activation}' is not called after "
                     f"{conv_call.name} in the forward pass")


def _left_pad(conv: nn.Conv1d) -> int:
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return 0
        # torch's "same": total dilation * (width - 1), the smaller half on the left
        return conv.dilation[0] * (conv.kernel_size[0] - 1) // 2
    return int(conv.padding[0])


def first_layer(model, X, layer: str | None = None, activation: str | None = None) -> FirstLayer:
    """Locate the first-layer convolution and the activation module after it.

    One forward pass on ``X[:1]`` with hooks on every module records the call order. The
    convolution is the first ``nn.Conv1d`` called (or the module named ``layer``); the
    activation is the first nonlinearity applied to its output, possibly through batch
    norm or dropout (or the module named ``activation``; ``"none"`` uses the conv output).

    Parameters
    ----------
    model : ModelAdapter or nn.Module
    X : array or tensor, shape (N, 4, L)
        Only ``X[:1]`` is used.
    layer : str, optional
        A module name from ``model.named_modules()`` (of the network inside the adapter;
        a leading ``"model."`` is accepted). Default: the first Conv1d called.
    activation : str, optional
        ``None``/``"auto"``, ``"none"``, or a module name.

    Returns
    -------
    FirstLayer

    Raises
    ------
    InputError
        No Conv1d; ``layer`` missing (the message lists the Conv1d layers) or not a Conv1d;
        a first layer that does not read 4 channels or uses groups.
    """
    model = _as_adapter(model)
    if isinstance(model.model, torch.jit.ScriptModule):
        raise InputError(_no_conv_message(model))
    x = _check_sequences(X)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    calls = _trace(model, as_tensor(x[:1]).float().to(device))
    conv_pos = _find_conv(model, calls, layer)
    conv_call = calls[conv_pos]
    conv: nn.Conv1d = conv_call.module
    if conv.in_channels != 4:
        raise InputError(f"config key filters.layer: '{conv_call.name}' reads {conv.in_channels} "
                         "channels, but filter PWMs need a layer that reads the 4-channel one-hot "
                         "sequence; name the first convolution")
    if conv.groups != 1:
        raise InputError(f"config key filters.layer: '{conv_call.name}' is a grouped "
                         f"convolution (groups={conv.groups}); name an ordinary Conv1d")
    act_pos = _find_activation(model, calls, conv_pos, activation)
    act_call = calls[act_pos]
    return FirstLayer(model=model, conv_name=conv_call.name, conv=conv,
                      conv_call=conv_call.index, capture_name=act_call.name,
                      capture=act_call.module, capture_call=act_call.index,
                      left_pad=_left_pad(conv), stride=int(conv.stride[0]),
                      dilation=int(conv.dilation[0]), width=int(conv.kernel_size[0]))


# --------------------------------------------------------------------------------------
# Running the network with hooks
# --------------------------------------------------------------------------------------

def _check_sequences(X):
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 3 or shape[1] != 4:
        raise InputError(f"sequences must be one-hot of shape (N, 4, L), got shape {shape}")
    if shape[0] == 0:
        raise InputError("no sequences were given (N = 0); check the loci file")
    return X


def _batches(X, batch_size: int, desc: str, verbose) -> Iterator[tuple[int, torch.Tensor]]:
    n = X.shape[0]
    if batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size}")
    for start in progress(range(0, n, batch_size), total=-(-n // batch_size), desc=desc,
                          unit="batch", verbose=verbose):
        yield start, as_tensor(X[start:start + batch_size]).float()


class _Hooks:
    """Hooks on the first layer: capture its input and activation, or impose an activation.

    ``stop=True`` ends the forward pass once the activation is captured. When ``override``
    is set (a tensor shaped like the activation), the convolution is not computed and the
    activation module returns ``override``, so the rest of the network runs on it: the
    first layer's cost is paid once per batch however many variants are evaluated.
    """

    def __init__(self, layer: FirstLayer, stop: bool = False):
        self.layer = layer
        self.stop = stop
        self.override: torch.Tensor | None = None
        self._handles = []
        self._patched = []
        self.reset()

    def reset(self):
        """Forget what the last forward pass captured."""
        self.inputs = self.activation = None
        self._calls = {"conv_hook": 0, "capture_hook": 0, "conv": 0, "capture": 0}

    def _count(self, key: str) -> int:
        index = self._calls[key]
        self._calls[key] += 1
        return index

    def _conv_hook(self, module, inputs, output):
        index = self._count("conv_hook")
        if index == self.layer.conv_call:
            self.inputs = inputs[0]
        if module is self.layer.capture:
            return self._on_activation(output, index)
        return None

    def _capture_hook(self, module, inputs, output):
        return self._on_activation(output, self._count("capture_hook"))

    def _on_activation(self, output, index: int):
        if index != self.layer.capture_call:
            return None
        self.activation = output
        if self.stop:
            raise _StopForward
        return None

    def _conv_forward(self, original):
        def forward(x, *args, **kwargs):
            index = self._count("conv")
            if self.override is None or index != self.layer.conv_call:
                return original(x, *args, **kwargs)
            if self.layer.capture is self.layer.conv:
                return self.override
            # never read: the activation module below returns the override instead
            return self.override.new_zeros(()).expand(self.override.shape)
        return forward

    def _capture_forward(self, original):
        def forward(x, *args, **kwargs):
            index = self._count("capture")
            if self.override is None or index != self.layer.capture_call:
                return original(x, *args, **kwargs)
            return self.override
        return forward

    def _patch(self, module: nn.Module, make):
        had = "forward" in module.__dict__
        original = module.forward
        module.forward = make(original)
        self._patched.append((module, had, original))

    def __enter__(self):
        conv, capture = self.layer.conv, self.layer.capture
        self._handles.append(conv.register_forward_hook(self._conv_hook))
        self._patch(conv, self._conv_forward)
        if capture is not conv:
            self._handles.append(capture.register_forward_hook(self._capture_hook))
            self._patch(capture, self._capture_forward)
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for module, had, original in reversed(self._patched):
            if had:
                module.forward = original
            else:
                del module.forward
        self._patched.clear()
        return False

    def run(self, x: torch.Tensor, *args) -> torch.Tensor | None:
        """One forward pass; returns the model output (None when stopped early)."""
        self.reset()
        try:
            return self.layer.model(x, *args)
        except _StopForward:
            return None


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode (no dropout, frozen batch-norm statistics), restored module by module."""
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
    except (NotImplementedError, RuntimeError):
        pass  # torch.export modules refuse train()/eval(); they are exported in eval mode
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def _evaluating(layer: FirstLayer, device: torch.device):
    layer.model.to(device)
    with _eval_mode(layer.model):
        yield


def _fill_n(x: torch.Tensor) -> torch.Tensor:
    """Count an all-zero (N) column as 0.25 of each base, as Basset's PWM builder does."""
    return x + 0.25 * (x.sum(dim=1, keepdim=True) == 0).to(x.dtype)


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------

@dataclass
class FilterActivations:
    """First-layer activations and where each one reads the sequence.

    Attributes
    ----------
    values : numpy.ndarray, float32, shape (N, F, L_out)
    starts : numpy.ndarray, int, shape (L_out,)
        0-based start of each position's receptive window in the input (negative or past
        the end at padded edges); the window covers ``starts[j] + dilation * k`` for
        ``k = 0 .. width - 1``.
    width, dilation, span : int
    layer, activation : str
        Module names of the convolution and of the activation (``"none"`` if raw output).
    """

    values: np.ndarray
    starts: np.ndarray
    width: int
    dilation: int
    span: int
    layer: str
    activation: str


def filter_activations(model, X, layer: str | None = None, activation: str | None = None,
                       batch_size: int = 64, device: str | torch.device | None = "auto",
                       reverse_complement: bool = False,
                       verbose: bool | None = None) -> FilterActivations:
    """First-layer filter activations of every sequence, collected by forward hooks.

    Parameters
    ----------
    model : ModelAdapter or nn.Module
        The forward pass stops right after the activation, so the rest of the network
        is not computed.
    X : array, tensor or h5py dataset, shape (N, 4, L)
        One-hot sequences; read ``batch_size`` at a time.
    layer : str, optional
        Module name of the convolution (default: the first Conv1d called).
    activation : str, optional
        ``None``/``"auto"`` (the nonlinearity after the conv, through batch norm/dropout),
        ``"none"`` (raw conv output) or a module name.
    batch_size : int, default 64
    device : str or torch.device, default "auto"
    reverse_complement : bool, default False
        Run the reverse-complemented sequences instead (positions refer to them).
    verbose : bool, optional
        Progress bar (default: when stderr is a terminal or MOTIFSCOPE_PROGRESS=1).

    Returns
    -------
    FilterActivations
        ``values`` holds N * F * L_out float32 numbers in memory; use
        :func:`filter_pwms` / :func:`filter_influence`, which stream, for large data.
    """
    layer_info = first_layer(model, X, layer, activation)
    device = resolve_device(device)
    chunks = []
    with _evaluating(layer_info, device), _Hooks(layer_info, stop=True) as hooks:
        for _, x in _batches(X, batch_size, "filter activations", verbose):
            x = x.to(device)
            if reverse_complement:
                x = torch.flip(x, dims=(1, 2))
            hooks.run(x)
            chunks.append(hooks.activation.float().cpu().numpy())
    values = np.concatenate(chunks)
    return FilterActivations(values=values, starts=layer_info.window_starts(values.shape[2]),
                             width=layer_info.width, dilation=layer_info.dilation,
                             span=layer_info.span, layer=layer_info.conv_name,
                             activation=layer_info.activation_name)


# --------------------------------------------------------------------------------------
# PWMs
# --------------------------------------------------------------------------------------

@dataclass
class FilterPWMs:
    """Motifs read from first-layer filters (one row per filter, in filter order).

    Attributes
    ----------
    names : list of str
        ``filter0``, ``filter1``, ...
    method : str
        ``"basset"`` or ``"danq"``.
    counts : numpy.ndarray, shape (F, 4, w)
        Base counts over the sites (an N base adds 0.25 to each letter).
    pfm : numpy.ndarray, shape (F, 4, w)
        ``(counts + pseudocount) / (nsites + 4 * pseudocount)``; uniform for a filter
        with no sites.
    pwm : numpy.ndarray, shape (F, 4, w)
        ``log2(pfm / background)`` (a zero probability gives ``log2(1e-9 / bg)``).
    nsites : numpy.ndarray of int, shape (F,)
    ic : numpy.ndarray, shape (F,)
        Total information content in bits against ``background``; NaN for a filter with
        fewer than ``min_sites`` sites.
    consensus : list of str
        IUPAC consensus of the PFM (Cavener's rules); ``""`` for a filter without sites.
    weight_consensus : list of str
        Basset's consensus from the weights: the top base where its weight is > 0, else N.
    weights : numpy.ndarray, shape (F, 4, w)
    threshold : numpy.ndarray, shape (F,)
        The activation a site had to exceed (Basset) or 0 (DanQ).
    activation_mean, activation_sd, activation_max : numpy.ndarray, shape (F,)
        Over all sequences and positions (both strands when they were used).
    min_sites : int
    background : numpy.ndarray, shape (4,)
    layer, activation : str
    """

    names: list
    method: str
    counts: np.ndarray
    pfm: np.ndarray
    pwm: np.ndarray
    nsites: np.ndarray
    ic: np.ndarray
    consensus: list
    weight_consensus: list
    weights: np.ndarray
    threshold: np.ndarray
    activation_mean: np.ndarray
    activation_sd: np.ndarray
    activation_max: np.ndarray
    min_sites: int
    background: np.ndarray = field(default_factory=lambda: np.full(4, 0.25))
    layer: str = ""
    activation: str = ""

    @property
    def kept(self) -> np.ndarray:
        """Boolean (F,): filters with at least ``min_sites`` sites."""
        return self.nsites >= self.min_sites

    @property
    def dropped(self) -> list[str]:
        """Names of filters with too few sites (left out of the MEME file)."""
        return [n for n, k in zip(self.names, self.kept) if not k]

    def motifs(self, trim_ic: float = 0.0) -> dict[str, np.ndarray]:
        """``{name: (4, w') PFM}`` of the kept filters.

        ``trim_ic`` > 0 drops leading and trailing columns whose information content is
        below it (Basset's ``-t`` uses 0.2); a filter keeps at least one column.
        """
        return {n: _trim(self.pfm[i], self.background, trim_ic)
                for i, n in enumerate(self.names) if self.kept[i]}

    def status(self) -> list[str]:
        """Per filter: ``"ok"`` or why it has no motif."""
        return ["ok" if k else f"too few sites ({n} < {self.min_sites})"
                for n, k in zip(self.nsites, self.kept)]

    def table(self) -> pd.DataFrame:
        """One row per filter: filter, consensus, weight_consensus, nsites, ic,
        activation_mean, activation_sd, activation_max, threshold, status."""
        return pd.DataFrame({
            "filter": self.names,
            "consensus": self.consensus,
            "weight_consensus": self.weight_consensus,
            "nsites": self.nsites.astype(int),
            "ic": self.ic,
            "activation_mean": self.activation_mean,
            "activation_sd": self.activation_sd,
            "activation_max": self.activation_max,
            "threshold": self.threshold,
            "status": self.status(),
        })

    def write_meme(self, path: str | os.PathLike, trim_ic: float = 0.0) -> Path:
        """Write the kept filters' PFMs as MEME v4 (``MOTIF filter<i> <consensus>``).

        Filters with too few sites are left out; ``trim_ic`` as in :meth:`motifs`.
        Returns the path written (atomically).
        """
        from motifscope.io import MotifInfo, write_meme

        motifs = self.motifs(trim_ic)
        info = {name: MotifInfo(id=name, alt_id=self.consensus[self.names.index(name)],
                                nsites=float(self.nsites[self.names.index(name)]))
                for name in motifs}
        return write_meme(motifs, path, info=info, background=self.background)


def _trim(pfm: np.ndarray, background: np.ndarray, trim_ic: float) -> np.ndarray:
    if trim_ic <= 0:
        return pfm
    strong = np.flatnonzero(information_content(pfm, background) >= trim_ic)
    if len(strong) == 0:
        best = int(np.argmax(information_content(pfm, background)))
        return pfm[:, best:best + 1]
    return pfm[:, strong[0]:strong[-1] + 1]


class _Moments:
    """Running per-filter count, mean, variance and maximum over sequences and positions.

    Each batch's mean and centred sum of squares are reduced in float32 (torch.var_mean is
    ~50x slower over two dimensions on the CPU) and merged into float64 totals with Chan et
    al.'s pairwise update, which avoids a float64 copy of every batch and the cancellation
    of uncentred sum-of-squares formulas.
    """

    def __init__(self, n_filters: int, device):
        self.n = 0
        self._mean = torch.zeros(n_filters, dtype=torch.float64, device=device)
        self._m2 = torch.zeros_like(self._mean)
        self.max = torch.full_like(self._mean, -torch.inf)

    def add(self, act: torch.Tensor):
        n_batch = act.shape[0] * act.shape[2]
        if n_batch == 0:
            return
        act = act.float()
        mean = act.sum(dim=(0, 2)) / n_batch
        m2 = (act - mean[None, :, None]).square().sum(dim=(0, 2)).double()
        mean = mean.double()
        total = self.n + n_batch
        delta = mean - self._mean
        self._mean += delta * (n_batch / total)
        self._m2 += m2 + delta ** 2 * (self.n * n_batch / total)
        self.n = total
        self.max = torch.maximum(self.max, act.amax(dim=(0, 2)).double())

    def mean(self) -> torch.Tensor:
        return self._mean

    def sd(self) -> torch.Tensor:
        return (self._m2 / max(self.n, 1)).clamp_min(0).sqrt()


_SITES_PER_CHUNK = 1 << 16


def _window_counts(layer: FirstLayer, x: torch.Tensor, sites) -> torch.Tensor:
    """Sum, per filter, the input windows of the given sites.

    ``x`` (B, 4, L) is the convolution's input, ``sites`` a tuple ``(seq, filt, pos)`` of
    index tensors (full windows only, so every index is inside the sequence). Sites are
    sparse, so their windows are gathered (in chunks, to bound memory) and added per filter.

    Returns
    -------
    torch.Tensor, float64, shape (F, 4, width)
    """
    counts = torch.zeros(layer.n_filters, layer.width * 4, dtype=torch.float64,
                         device=x.device)
    seq, filt, pos = sites
    if seq.numel():
        columns = _fill_n(x.float()).transpose(1, 2)  # (B, L, 4)
        taps = torch.arange(layer.width, device=x.device) * layer.dilation
        for lo in range(0, seq.numel(), _SITES_PER_CHUNK):
            chunk = slice(lo, lo + _SITES_PER_CHUNK)
            where = (pos[chunk] * layer.stride - layer.left_pad)[:, None] + taps[None, :]
            windows = columns[seq[chunk][:, None], where]  # (S, width, 4)
            counts.index_add_(0, filt[chunk], windows.reshape(len(where), -1).double())
    return counts.reshape(layer.n_filters, layer.width, 4).transpose(1, 2)


def _basset_sites(act: torch.Tensor, full: tuple[int, int], threshold: torch.Tensor):
    """``(seq, filt, pos)`` of every full-window position above its filter's threshold."""
    first, end = full
    inside = act[:, :, first:end]
    seq, filt, pos = (inside > threshold[None, :, None].to(act.dtype)).nonzero(as_tuple=True)
    return seq, filt, pos + first


def _danq_sites(act: torch.Tensor, full: tuple[int, int]):
    """``(seq, filt, pos)`` of each sequence's maximum over full windows, where it is > 0."""
    first, end = full
    best, where = act[:, :, first:end].max(dim=2)
    seq, filt = (best > 0).nonzero(as_tuple=True)
    return seq, filt, where[seq, filt] + first


def iupac_consensus(pfm) -> str:
    """IUPAC consensus of a (4, w) probability matrix by Cavener's rules.

    A column is one base when its top probability is > 0.5 and more than twice the
    second; otherwise a two-base code when the top two sum to > 0.75; otherwise N.
    """
    codes = {"AC": "M", "AG": "R", "AT": "W", "CG": "S", "CT": "Y", "GT": "K"}
    p = np.asarray(pfm, float)
    out = []
    for column in p.T:
        order = np.argsort(-column, kind="stable")
        first, second = column[order[0]], column[order[1]]
        if first > 0.5 and first > 2 * second:
            out.append(ALPHABET[order[0]])
        elif first + second > 0.75:
            out.append(codes["".join(sorted(ALPHABET[order[0]] + ALPHABET[order[1]]))])
        else:
            out.append("N")
    return "".join(out)


def weight_consensus(weights) -> str:
    """Basset's filter consensus: per column the top base if its weight is > 0, else N."""
    w = np.asarray(weights, float)
    best = w.argmax(axis=0)
    return "".join(ALPHABET[b] if w[b, j] > 0 else "N" for j, b in enumerate(best))


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise InputError(f"config key filters.method: '{method}' is not one of "
                         f"{', '.join(METHODS)}")
    return method


def _background(background) -> np.ndarray:
    if background is None:
        return np.full(4, 0.25)
    bg = np.asarray(background, float)
    if bg.shape != (4,) or (bg <= 0).any():
        raise InputError(f"background must be 4 positive frequencies (A, C, G, T), got {bg}")
    return bg / bg.sum()


def _strands(x: torch.Tensor, both: bool):
    yield x
    if both:
        yield torch.flip(x, dims=(1, 2))


def filter_pwms(model, X, layer: str | None = None, method: str = "basset",
                activation: str | None = None, threshold: float = 0.5,
                pseudocount: float | None = None, min_sites: int | None = None,
                both_strands: bool | None = None, background=None, batch_size: int = 64,
                device: str | torch.device | None = "auto",
                verbose: bool | None = None) -> FilterPWMs:
    """Turn every first-layer filter into a motif from the sequences that activate it.

    Parameters
    ----------
    model : ModelAdapter or nn.Module
    X : array, tensor or h5py dataset, shape (N, 4, L)
        One-hot sequences (streamed ``batch_size`` at a time; memory does not grow with N).
    layer : str, optional
        Module name of the convolution (default: the first Conv1d called).
    method : {"basset", "danq"}, default "basset"
        ``"basset"``: every position whose activation is ``> mean + threshold * (max - mean)``
        of that filter, statistics over all sequences and positions (two passes over X).
        ``"danq"``: per sequence the position of the maximum activation when it is > 0
        (one pass over X, forward and reverse-complement input).
    activation : str, optional
        ``None``/``"auto"``, ``"none"`` or a module name (see :func:`first_layer`).
    threshold : float, default 0.5
        Basset's ``-a``: the fraction of the way from the mean to the max.
    pseudocount : float, optional
        Added to every base count; default 1 (basset) or 0 (danq).
    min_sites : int, optional
        Filters with fewer sites get no motif (NaN IC, left out of the MEME file, kept in
        the table); default 10 (basset) or 1 (danq).
    both_strands : bool, optional
        Also scan the reverse-complemented sequences; default False (basset), True (danq).
    background : array of 4 floats, optional
        For the PWM log-odds, the IC and the MEME file; uniform by default.
    batch_size : int, default 64
    device : str or torch.device, default "auto"
    verbose : bool, optional

    Returns
    -------
    FilterPWMs

    Notes
    -----
    Only positions whose whole receptive window lies inside the sequence are counted (as
    Basset's ``[pad, L - pad)`` loop does); the statistics use every position.
    """
    method = _check_method(method)
    defaults = METHOD_DEFAULTS[method]
    pseudocount = defaults["pseudocount"] if pseudocount is None else float(pseudocount)
    min_sites = defaults["min_sites"] if min_sites is None else int(min_sites)
    both = defaults["both_strands"] if both_strands is None else bool(both_strands)
    if pseudocount < 0 or min_sites < 0:
        raise InputError("filters.pseudocount and filters.min_sites must be >= 0")
    bg = _background(background)
    info = first_layer(model, X, layer, activation)
    device = resolve_device(device)
    F = info.n_filters
    counts = torch.zeros(F, 4, info.width, dtype=torch.float64, device=device)
    nsites = torch.zeros(F, dtype=torch.float64, device=device)
    moments = _Moments(F, device)

    with _evaluating(info, device), _Hooks(info, stop=True) as hooks:
        def activations(desc):
            for _, x in _batches(X, batch_size, desc, verbose):
                for strand in _strands(x.to(device), both):
                    hooks.run(strand)
                    act = hooks.activation
                    full = info.full_range(act.shape[2], hooks.inputs.shape[2])
                    if full[1] <= full[0]:
                        raise InputError(f"sequences of {hooks.inputs.shape[2]} bp are shorter "
                                         f"than the filters' span of {info.span} bp: no "
                                         "window fits")
                    yield hooks.inputs, act, full

        if method == "basset":
            for _, act, _ in activations("filter statistics"):
                moments.add(act)
            cutoff = moments.mean() + threshold * (moments.max - moments.mean())
            for inputs, act, full in activations("filter sites"):
                sites = _basset_sites(act, full, cutoff)
                counts += _window_counts(info, inputs, sites)
                nsites += torch.bincount(sites[1], minlength=F).double()
        else:
            cutoff = torch.zeros(F, dtype=torch.float64, device=device)
            for inputs, act, full in activations("filter sites"):
                moments.add(act)
                sites = _danq_sites(act, full)
                counts += _window_counts(info, inputs, sites)
                nsites += torch.bincount(sites[1], minlength=F).double()

    return _assemble(info, method, counts.cpu().numpy(), nsites.cpu().numpy(), moments,
                     cutoff.cpu().numpy(), pseudocount, min_sites, bg)


def _assemble(info: FirstLayer, method, counts, nsites, moments: _Moments, cutoff,
              pseudocount, min_sites, bg) -> FilterPWMs:
    F = info.n_filters
    totals = counts.sum(axis=1, keepdims=True) + 4 * pseudocount
    with np.errstate(invalid="ignore", divide="ignore"):
        pfm = np.where(totals > 0, (counts + pseudocount) / totals, 0.25)
    pwm = np.log2((pfm + 1e-9) / bg[None, :, None])
    nsites = np.rint(nsites).astype(int)
    kept = nsites >= max(min_sites, 1)
    ic = np.array([information_content(pfm[f], bg).sum() if kept[f] else np.nan
                   for f in range(F)])
    names = [f"filter{f}" for f in range(F)]
    for f in np.flatnonzero(~kept):
        log.warning("%s has %d sites (< %d): no motif; it is left out of the MEME file",
                    names[f], nsites[f], max(min_sites, 1))
    weights = info.weights()
    return FilterPWMs(
        names=names, method=method, counts=counts, pfm=pfm, pwm=pwm, nsites=nsites, ic=ic,
        consensus=[iupac_consensus(pfm[f]) if kept[f] else "" for f in range(F)],
        weight_consensus=[weight_consensus(weights[f]) for f in range(F)],
        weights=weights, threshold=np.asarray(cutoff, float),
        activation_mean=moments.mean().cpu().numpy(), activation_sd=moments.sd().cpu().numpy(),
        activation_max=moments.max.cpu().numpy(), min_sites=max(min_sites, 1), background=bg,
        layer=info.conv_name, activation=info.activation_name)


# --------------------------------------------------------------------------------------
# Influence
# --------------------------------------------------------------------------------------

LOSSES = ("auto", "bce", "mse", "poisson")


def _loss_function(loss, y_sample: np.ndarray | None):
    """Element-wise loss ``(prediction, label) -> (B, T)``."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise InputError(f"config key filters.loss: '{loss}' is not one of {', '.join(LOSSES)}")
    if loss == "auto":
        binary = y_sample is not None and np.isin(y_sample, (0, 1)).all()
        loss = "bce" if binary else "mse"
    if loss == "bce":
        return lambda p, t: torch.nn.functional.binary_cross_entropy_with_logits(
            p, t, reduction="none")
    if loss == "poisson":
        return lambda p, t: torch.nn.functional.poisson_nll_loss(p, t, log_input=True,
                                                                 reduction="none")
    return lambda p, t: (p - t) ** 2


def _check_labels(y, n: int):
    if y is None:
        return None
    y = as_numpy(y)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise InputError(f"labels must have shape (N, n_targets) with N = {n} sequences, got "
                         f"shape {y.shape}")
    return y


class _InfluenceSums:
    """Float64 running sums for the influence statistics of F filters x T targets."""

    def __init__(self, n_filters: int, n_targets: int, device):
        zeros = lambda *s: torch.zeros(*s, dtype=torch.float64, device=device)  # noqa: E731
        self.n = 0
        self.base_sum, self.base_sumsq = zeros(n_targets), zeros(n_targets)
        self.delta_sum, self.delta_sumsq = zeros(n_filters, n_targets), zeros(n_filters,
                                                                               n_targets)
        self.loss_sum = zeros(n_filters, n_targets)

    def add_baseline(self, base: torch.Tensor):
        b = base.double()
        self.n += b.shape[0]
        self.base_sum += b.sum(0)
        self.base_sumsq += (b * b).sum(0)

    def add_nullified(self, filters: list[int], delta: torch.Tensor,
                      loss_delta: torch.Tensor | None):
        d = delta.double()  # (K, B, T)
        self.delta_sum[filters] += d.sum(1)
        self.delta_sumsq[filters] += (d * d).sum(1)
        if loss_delta is not None:
            self.loss_sum[filters] += loss_delta.double().sum(1)


def filter_influence(model, X, y=None, layer: str | None = None,
                     activation: str | None = None, loss="auto", targets=None,
                     target_names=None, batch_size: int = 64, filters_per_pass: int | None = None,
                     device: str | torch.device | None = "auto",
                     verbose: bool | None = None) -> pd.DataFrame:
    """How much every target's prediction relies on each first-layer filter.

    Each filter's activation (every sequence, every position) is replaced by its mean over
    all sequences and positions, and the network is re-run from there, as Basset's
    ``basset_motifs_infl`` does (but with one global mean rather than one per batch).

    Parameters
    ----------
    model : ModelAdapter or nn.Module
        Outputs (B, T); with labels and ``loss="bce"`` the outputs must be logits.
    X : array, tensor or h5py dataset, shape (N, 4, L)
    y : array, shape (N, T) or (N,), optional
        Labels; when given the change in loss is reported.
    layer, activation : str, optional
        See :func:`first_layer`.
    loss : {"auto", "bce", "mse", "poisson"} or callable, default "auto"
        Element-wise loss ``(prediction, label) -> (B, T)``. ``"auto"`` is binary cross
        entropy on logits when every label is 0 or 1, else squared error.
    targets : sequence of int, optional
        Output columns to evaluate (default: all T); ``y`` then has one column per entry.
    target_names : sequence of str, optional
        Names of the evaluated outputs (default their column numbers ``"0"``, ``"1"``, ...).
    batch_size : int, default 64
        Sequences per batch.
    filters_per_pass : int, optional
        Filters nullified in one forward pass: the batch is repeated along a filter axis,
        so a pass holds ``batch_size * filters_per_pass`` rows. Default 1 on the CPU
        (larger passes only add cache misses there) and 8 on CUDA. Either way the first
        layer is computed once per batch and its activation reused for every filter, and
        X is read twice in all (once for the means, once for the influence).
    device : str or torch.device, default "auto"
    verbose : bool, optional

    Returns
    -------
    pandas.DataFrame
        One row per (filter, target): ``filter``, ``target``, ``activation_mean``,
        ``activation_sd``, ``delta_mean`` and ``delta_sd`` (over sequences, of the
        prediction minus the prediction with the filter nullified: positive when the filter
        raises the output), ``score`` (Basset's ``delta_mean / var(prediction)``) and
        ``delta_loss`` (mean loss with the filter nullified minus the mean loss; positive
        when the filter helps; NaN without labels).
    """
    info = first_layer(model, X, layer, activation)
    device = resolve_device(device)
    n = X.shape[0]
    y = _check_labels(y, n)
    loss_fn = _loss_function(loss, y[: min(n, 10_000)] if y is not None else None) \
        if y is not None else None
    if filters_per_pass is None:
        filters_per_pass = 8 if device.type == "cuda" else 1
    if filters_per_pass < 1:
        raise InputError(f"filters_per_pass must be >= 1, got {filters_per_pass}")
    F = info.n_filters
    moments = _Moments(F, device)

    with _evaluating(info, device):
        with _Hooks(info, stop=True) as hooks:
            for _, x in _batches(X, batch_size, "filter means", verbose):
                hooks.run(x.to(device))
                moments.add(hooks.activation)
        means = moments.mean()
        chunks = [list(range(f, min(F, f + filters_per_pass)))
                  for f in range(0, F, filters_per_pass)]
        sums = None
        with _Hooks(info, stop=False) as hooks:
            for start, x in _batches(X, batch_size, "filter influence", verbose):
                x = x.to(device)
                hooks.override = None
                base = _select(hooks.run(x), targets)
                # later in-place modules could change it, and it is reused for every chunk
                activation = hooks.activation.clone()
                if sums is None:
                    sums = _InfluenceSums(F, base.shape[1], device)
                    if y is not None and y.shape[1] != base.shape[1]:
                        raise InputError(f"labels have {y.shape[1]} columns but {base.shape[1]} "
                                         "model outputs are evaluated; give one label column "
                                         "per target")
                sums.add_baseline(base)
                labels = None
                if y is not None:
                    labels = as_tensor(y[start:start + x.shape[0]]).to(device, base.dtype)
                    base_loss = loss_fn(base, labels)
                for chunk in chunks:
                    k = len(chunk)
                    hooks.override = _nullified(activation, chunk, means)
                    out = _select(hooks.run(x.repeat(k, 1, 1)), targets)
                    out = out.reshape(k, x.shape[0], -1)
                    loss_delta = None
                    if labels is not None:
                        loss_delta = loss_fn(out, labels.expand_as(out)) - base_loss[None]
                    sums.add_nullified(chunk, base[None] - out, loss_delta)
    if target_names is None and targets is not None:
        target_names = [str(t) for t in targets]
    return _influence_table(sums, moments, target_names, y is not None)


def _select(outputs: torch.Tensor, targets) -> torch.Tensor:
    if targets is None:
        return outputs
    n = outputs.shape[1]
    bad = [t for t in targets if not -n <= int(t) < n]
    if bad:
        raise InputError(f"config key targets: output index {bad[0]} is out of range for the "
                         f"model's {n} outputs")
    return outputs[:, list(targets)]


def _nullified(activation: torch.Tensor, chunk: list[int], means: torch.Tensor):
    """``len(chunk)`` copies of the batch's activation (B, F, L), copy k with filter
    ``chunk[k]`` set to its mean; shape (len(chunk) * B, F, L)."""
    k = len(chunk)
    batch, n_filters, length = activation.shape
    # a plain copy then a write of k channels is several times cheaper than torch.where
    out = activation.repeat(k, 1, 1).view(k, batch, n_filters, length)
    index = torch.tensor(chunk, device=activation.device)
    out[torch.arange(k, device=activation.device), :, index] = \
        means.to(activation.dtype)[index][:, None, None]
    return out.view(k * batch, n_filters, length)


def _influence_table(sums: _InfluenceSums, moments: _Moments, target_names,
                     has_labels: bool) -> pd.DataFrame:
    n = sums.n
    F, T = sums.delta_sum.shape
    names = [str(t) for t in (target_names if target_names is not None else range(T))]
    if len(names) != T:
        raise InputError(f"config key targets: {len(names)} target names for a model with "
                         f"{T} outputs")
    base_mean = sums.base_sum / n
    base_var = (sums.base_sumsq / n - base_mean ** 2).clamp_min(0)
    delta_mean = sums.delta_sum / n
    delta_sd = (sums.delta_sumsq / n - delta_mean ** 2).clamp_min(0).sqrt()
    score = torch.where(base_var > 0, delta_mean / base_var.clamp_min(1e-300),
                        torch.full_like(delta_mean, float("nan")))
    loss = sums.loss_sum / n if has_labels else torch.full_like(delta_mean, float("nan"))
    act_mean, act_sd = moments.mean(), moments.sd()
    filt = np.repeat(np.arange(F), T)
    return pd.DataFrame({
        "filter": [f"filter{f}" for f in filt],
        "target": names * F,
        "activation_mean": act_mean.cpu().numpy()[filt],
        "activation_sd": act_sd.cpu().numpy()[filt],
        "delta_mean": delta_mean.cpu().numpy().ravel(),
        "delta_sd": delta_sd.cpu().numpy().ravel(),
        "score": score.cpu().numpy().ravel(),
        "delta_loss": loss.cpu().numpy().ravel(),
    })


def influence_matrix(influence: pd.DataFrame, value: str = "score") -> pd.DataFrame:
    """Pivot :func:`filter_influence`'s table to filters x targets (filter order kept)."""
    order_f = list(dict.fromkeys(influence["filter"]))
    order_t = list(dict.fromkeys(influence["target"]))
    return influence.pivot(index="filter", columns="target", values=value).loc[order_f, order_t]


# --------------------------------------------------------------------------------------
# TOMTOM matches and the summary table
# --------------------------------------------------------------------------------------

TOMTOM_COLUMNS = ["query_id", "target_id", "optimal_offset", "p-value", "E-value", "q-value",
                  "overlap", "query_consensus", "target_consensus", "orientation", "score"]
MATCH_COLUMNS = ["filter", "best_match", "best_match_name", "p-value", "E-value", "q-value",
                 "orientation", "annotation"]


def filter_tomtom(pwms, database, distance: str = "pearson", trim_ic: float = 0.0,
                  **kwargs) -> pd.DataFrame:
    """Compare the filters' PFMs with a motif database by TOMTOM.

    Parameters
    ----------
    pwms : FilterPWMs or dict[str, (4, w) array]
        Only kept filters are compared (a FilterPWMs' ``motifs(trim_ic)``).
    database : dict[str, (4, w) array] or MotifSet
        Target motifs (e.g. ``motifscope.io.read_meme("motifs/database.meme")``).
    distance : str, default "pearson"
        Column similarity, as Basset and DanQ ran MEME Tomtom (``-dist pearson``).
    trim_ic : float, default 0.0
        See :meth:`FilterPWMs.motifs`.
    **kwargs
        Passed to :func:`motifscope.motifs.tomtom`.

    Returns
    -------
    pandas.DataFrame
        :func:`motifscope.motifs.tomtom`'s table (query_id, target_id, optimal_offset,
        p-value, E-value, q-value, overlap, query_consensus, target_consensus, orientation,
        score); empty with these columns when no filter has a motif.
    """
    from motifscope.motifs import tomtom

    queries = pwms.motifs(trim_ic) if isinstance(pwms, FilterPWMs) else dict(pwms)
    if not queries or not len(database):
        return pd.DataFrame(columns=TOMTOM_COLUMNS)
    return tomtom(queries, database, distance=distance, **kwargs)


def best_matches(tomtom_table: pd.DataFrame, database=None, filters=None,
                 q_threshold: float = 0.1) -> pd.DataFrame:
    """The best database match of every filter: the smallest q-value (then p-value).

    Parameters
    ----------
    tomtom_table : pandas.DataFrame
        From :func:`filter_tomtom`.
    database : MotifSet, optional
        Gives each match's alternate name (the TF) in ``best_match_name``.
    filters : sequence of str, optional
        All filter names, so filters without a match get a row (with NaN values).
    q_threshold : float, default 0.1
        ``annotation`` is the match's name when its q-value is <= this (Basset's
        ``tomtom -thresh 0.1``), else ``"."``.

    Returns
    -------
    pandas.DataFrame
        Columns filter, best_match, best_match_name, p-value, E-value, q-value,
        orientation, annotation; one row per filter.
    """
    if len(tomtom_table):
        ranked = tomtom_table.sort_values(["query_id", "q-value", "p-value", "target_id"],
                                          kind="mergesort")
        best = ranked.groupby("query_id", sort=False).head(1)
    else:
        best = pd.DataFrame(columns=TOMTOM_COLUMNS)
    best = best.rename(columns={"query_id": "filter", "target_id": "best_match"})
    alt = getattr(database, "alt_id", None)
    best["best_match_name"] = [(alt(t) if alt else "") or t for t in best["best_match"]]
    best = best.reset_index(drop=True)
    if filters is not None:
        best = pd.DataFrame({"filter": list(filters)}).merge(best, on="filter", how="left")
    significant = best["q-value"].astype(float) <= q_threshold
    best["annotation"] = np.where(significant, best["best_match_name"], ".")
    return best[MATCH_COLUMNS].reset_index(drop=True)


def filter_table(pwms: FilterPWMs | pd.DataFrame, matches: pd.DataFrame | None = None,
                 influence: pd.DataFrame | None = None,
                 influence_value: str = "score") -> pd.DataFrame:
    """One row per filter: motif, match, activation statistics and influence per target.

    Parameters
    ----------
    pwms : FilterPWMs or pandas.DataFrame
        The filters, or their :meth:`FilterPWMs.table` (e.g. read back from a TSV).
    matches : pandas.DataFrame, optional
        From :func:`best_matches`.
    influence : pandas.DataFrame, optional
        From :func:`filter_influence`; adds ``influence:<target>`` columns (the
        ``influence_value`` column, Basset's score by default) and ``delta_loss`` (mean over
        targets) when labels were given.

    Returns
    -------
    pandas.DataFrame
        Columns filter, consensus, weight_consensus, best_match, best_match_name, q-value,
        annotation, ic, activation_mean, activation_sd, nsites, status, then influence.
        Filters without sites are kept (status says why they have no motif).
    """
    table = pwms.table() if isinstance(pwms, FilterPWMs) else pwms.copy()
    if matches is None:
        matches = best_matches(pd.DataFrame(columns=TOMTOM_COLUMNS), filters=table["filter"])
    table = table.merge(matches[["filter", "best_match", "best_match_name", "q-value",
                                 "annotation"]].astype({"filter": str}), on="filter",
                        how="left")
    table["annotation"] = table["annotation"].fillna(".")
    columns = ["filter", "consensus", "weight_consensus", "best_match", "best_match_name",
               "q-value", "annotation", "ic", "activation_mean", "activation_sd", "nsites",
               "status"]
    table = table[columns]
    if influence is not None:
        wide = influence_matrix(influence, influence_value)
        wide.columns = [f"influence:{t}" for t in wide.columns]
        table = table.merge(wide, left_on="filter", right_index=True, how="left")
        loss = influence.groupby("filter", sort=False)["delta_loss"].mean()
        if loss.notna().any():
            table["delta_loss"] = table["filter"].map(loss)
    return table


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

def plot_filter_logos(pwms: FilterPWMs, outdir: str | os.PathLike,
                      matches: pd.DataFrame | None = None,
                      formats=("pdf", "png")) -> list[Path]:
    """Write one information-content logo per kept filter, ``<outdir>/<filter>.<fmt>``.

    The title gives the filter, its number of sites and (with ``matches``) its annotation.
    Returns the files written.
    """
    from motifscope.plot import plot_logo, save_figure, style

    import matplotlib.pyplot as plt

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = {} if matches is None else dict(zip(matches["filter"], matches["annotation"]))
    written = []
    for name, pfm in pwms.motifs().items():
        f = pwms.names.index(name)
        title = f"{name}  n={pwms.nsites[f]}  IC={pwms.ic[f]:.1f}"
        if names.get(name, ".") not in (".", None) and not pd.isna(names.get(name)):
            title += f"  {names[name]}"
        with style():
            fig, ax = plt.subplots(figsize=(max(2.5, 0.2 * pfm.shape[1]), 1.3))
            plot_logo(pfm, ax=ax, ic_scale=True, title=title)
            written += save_figure(fig, outdir / name, formats=formats)
    return written


def plot_filter_weights(pwms: FilterPWMs, stem: str | os.PathLike, columns: int = 8,
                        formats=("pdf", "png")) -> list[Path]:
    """Heat maps of every filter's weights (4 x w, PRGn, symmetric limits) in one grid."""
    from motifscope.plot import save_figure, style

    import matplotlib.pyplot as plt

    weights = pwms.weights
    n = weights.shape[0]
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    width = weights.shape[2]
    with style():
        fig, axes = plt.subplots(rows, columns, squeeze=False,
                                 figsize=(columns * max(1.0, 0.09 * width), rows * 0.75))
        for ax in axes.ravel():
            ax.axis("off")
        for f, ax in zip(range(n), axes.ravel()):
            limit = float(np.abs(weights[f]).max()) or 1.0
            ax.imshow(weights[f], cmap="PRGn", vmin=-limit, vmax=limit, aspect="auto",
                      interpolation="nearest")
            ax.set_title(pwms.names[f], fontsize=6)
            ax.set_yticks(range(4), list(ALPHABET), fontsize=5)
            ax.set_xticks([])
            ax.axis("on")
        fig.tight_layout()
        return save_figure(fig, stem, formats=formats)


def cluster_order(matrix: np.ndarray) -> np.ndarray:
    """Row order from average-linkage hierarchical clustering (Euclidean; stable for <3 rows)."""
    from scipy.cluster.hierarchy import leaves_list, linkage

    m = np.nan_to_num(np.asarray(matrix, float))
    if m.shape[0] < 3:
        return np.arange(m.shape[0])
    return leaves_list(linkage(m, method="average", metric="euclidean"))


def plot_influence_heatmap(influence: pd.DataFrame, stem: str | os.PathLike,
                           value: str = "score", labels=None,
                           formats=("pdf", "png")) -> list[Path]:
    """Filters x targets heat map of influence, rows and columns clustered.

    Parameters
    ----------
    influence : pandas.DataFrame
        From :func:`filter_influence`.
    stem : path
        Output stem (``<stem>.pdf`` and ``<stem>.png``).
    value : str, default "score"
        The column shown (``score``, ``delta_mean`` or ``delta_loss``).
    labels : mapping, optional
        Filter name -> row label (e.g. ``filter3 CTCF``).
    """
    from motifscope.plot import save_figure, style

    import matplotlib.pyplot as plt

    wide = influence_matrix(influence, value)
    rows = cluster_order(wide.to_numpy())
    cols = cluster_order(wide.to_numpy().T)
    wide = wide.iloc[rows, cols]
    finite = np.abs(wide.to_numpy()[np.isfinite(wide.to_numpy())])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    n_rows, n_cols = wide.shape
    with style():
        fig, ax = plt.subplots(figsize=(1.5 + 0.35 * n_cols, 1.0 + 0.12 * n_rows))
        image = ax.imshow(wide.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit,
                          aspect="auto", interpolation="nearest")
        row_labels = [labels.get(f, f) if labels is not None else f for f in wide.index]
        ax.set_yticks(range(n_rows), row_labels, fontsize=5 if n_rows > 40 else 6)
        ax.set_xticks(range(n_cols), list(wide.columns), rotation=90)
        ax.set_xlabel("target")
        fig.colorbar(image, ax=ax, label=f"influence ({value})", shrink=0.6)
        return save_figure(fig, stem, formats=formats)
