"""First-layer activations (:func:`filter_activations`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motifscope.filters._hooks import _batches, _evaluating, _Hooks
from motifscope.filters.layers import first_layer
from motifscope.utils import resolve_device


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
