"""Input checks and model handling shared by DeepLIFT/SHAP and saturation mutagenesis."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Mapping

import torch

from motifscope.errors import InputError
from motifscope.utils import as_tensor, resolve_device


def onehot_batch(X, name: str = "X") -> torch.Tensor:
    """Return ``X`` as an (N, 4, L) tensor (any dtype, not copied) or raise InputError."""
    X = as_tensor(X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"{name} must be one-hot sequences of shape (N, 4, L); got shape "
                         f"{tuple(X.shape)}")
    if X.shape[0] == 0:
        raise InputError(f"{name} holds no sequences (shape {tuple(X.shape)})")
    return X


def extra_inputs(args, n: int) -> tuple[torch.Tensor, ...]:
    """Check ``args`` (extra model inputs, one row per example) and return them as tensors."""
    if args is None:
        return ()
    if isinstance(args, torch.Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    tensors = tuple(as_tensor(a) for a in args)
    for i, a in enumerate(tensors):
        if a.ndim == 0 or a.shape[0] != n:
            raise InputError(f"args[{i}] has shape {tuple(a.shape)} but must have one row per "
                             f"sequence ({n}); pass e.g. args=(control,) with control of shape "
                             f"({n}, ...)")
    return tensors


def model_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (float32 if it has none)."""
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


@contextlib.contextmanager
def attribution_state(model: torch.nn.Module, device):
    """Put ``model`` on ``device`` in eval mode with frozen parameters; restore afterwards.

    Yields the resolved ``torch.device``. Parameters stop requiring grad (DeepLIFT only needs
    gradients with respect to the input, and this makes "requires grad" mean "depends on
    the input"); every module's train/eval flag, the parameters' flags and the device are put
    back even when the body raises.
    """
    device = resolve_device(device)
    params = list(model.parameters())
    home = params[0].device if params else None
    grad_flags = [p.requires_grad for p in params]
    training = [(m, m.training) for m in model.modules()]
    try:
        if home is not None and home != device:
            model.to(device)
        model.eval()
        for p in params:
            p.requires_grad_(False)
        yield device
    finally:
        for p, flag in zip(params, grad_flags):
            p.requires_grad_(flag)
        for m, flag in training:
            m.training = flag
        if home is not None and home != device:
            model.to(home)


def _describe(y) -> str:
    if isinstance(y, torch.Tensor):
        return f"a tensor of shape {tuple(y.shape)}"
    if isinstance(y, Mapping):
        return f"a dict with keys {list(y)}"
    if isinstance(y, (tuple, list)):
        return f"{len(y)} outputs"
    return type(y).__name__


def output_matrix(y, batch: int) -> torch.Tensor:
    """Return the model output as (B, T), or raise InputError saying how to wrap the model."""
    if not isinstance(y, torch.Tensor):
        raise InputError(f"the model returns {_describe(y)}; wrap it with "
                         "motifscope.models.ModelAdapter(model, output=...) (config key "
                         "model.output) to pick the output to attribute")
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim > 2 and y.shape[2:].numel() == 1:
        y = y.reshape(y.shape[0], y.shape[1])
    if y.ndim != 2 or y.shape[0] != batch:
        raise InputError(f"the model returns a tensor of shape {tuple(y.shape)} for a batch of "
                         f"{batch}; attribution needs (batch, n_outputs): wrap the model with "
                         "motifscope.models.ModelAdapter, which flattens extra axes")
    return y


def check_target(target, n_outputs: int) -> int:
    """Validate an output index against the number of model outputs; return it as an int."""
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) and not (
            isinstance(target, torch.Tensor) and target.ndim == 0):
        raise InputError(f"target must be an output index (int), got {target!r}")
    target = int(target)
    if not -n_outputs <= target < n_outputs:
        raise InputError(f"target index {target} is out of range for the model's {n_outputs} "
                         f"output(s); use 0..{n_outputs - 1} (config key targets)")
    return target % n_outputs
