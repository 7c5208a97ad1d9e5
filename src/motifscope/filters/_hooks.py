"""Running the network in batches with forward hooks on the first layer."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from motifscope.errors import InputError
from motifscope.filters.layers import _eval_mode, _StopForward, FirstLayer
from motifscope.utils import as_tensor, progress


# --------------------------------------------------------------------------------------
# Running the network with hooks
# --------------------------------------------------------------------------------------


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
def _evaluating(layer: FirstLayer, device: torch.device):
    layer.model.to(device)
    with _eval_mode(layer.model):
        yield


def _fill_n(x: torch.Tensor) -> torch.Tensor:
    """Count an all-zero (N) column as 0.25 of each base, as Basset's PWM builder does."""
    return x + 0.25 * (x.sum(dim=1, keepdim=True) == 0).to(x.dtype)
