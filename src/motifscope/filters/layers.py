"""Locating a model's first convolution and the activation that follows it.

Every output position ``j`` maps back to its receptive window in the sequence,
``[j * stride - left_pad, j * stride - left_pad + span)`` (0-based; a window may start
before 0 or end past ``L`` at the edges of a padded convolution).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from motifscope.errors import InputError
from motifscope.models import ModelAdapter
from motifscope.utils import as_numpy, as_tensor

log = logging.getLogger("motifscope.filters")


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


def _check_sequences(X):
    shape = tuple(getattr(X, "shape", ()))
    if len(shape) != 3 or shape[1] != 4:
        raise InputError(f"sequences must be one-hot of shape (N, 4, L), got shape {shape}")
    if shape[0] == 0:
        raise InputError("no sequences were given (N = 0); check the loci file")
    return X


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
