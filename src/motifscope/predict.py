"""Batched model predictions on any device."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from motifscope.utils import as_tensor, progress, resolve_device


def _slice_args(args: Sequence | None, lo: int, hi: int, device, dtype):
    if not args:
        return ()
    return tuple(as_tensor(a)[lo:hi].to(device=device, dtype=dtype) for a in args)


@torch.no_grad()
def predict(model: torch.nn.Module, X, args: Sequence | None = None, batch_size: int = 64,
            device: str | torch.device | None = "auto", func: Callable | None = None,
            dtype: torch.dtype = torch.float32, verbose=None):
    """Run ``model`` over ``X`` in batches without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        Typically a :class:`motifscope.models.ModelAdapter` (returns (B, n_outputs)); any
        module works, including ones returning tuples or lists of tensors.
    X : array or tensor, shape (N, 4, L)
        One-hot sequences (uint8 is fine: each batch is cast to ``dtype`` on the device).
    args : sequence of arrays, optional
        Extra inputs, each with N rows, sliced alongside X (e.g. a control track).
    batch_size : int, default 64
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
    func : callable, optional
        Applied to each batch's output before it is moved to the CPU.
    dtype : torch.dtype, default torch.float32

    Returns
    -------
    torch.Tensor of shape (N, ...) on the CPU, or a list of them when the model returns a
    tuple or list. The model's device and train/eval mode are restored afterwards.
    """
    X = as_tensor(X)
    dev = resolve_device(device)
    first_param = next(iter(model.parameters()), None)
    old_device = first_param.device if first_param is not None else torch.device("cpu")
    was_training = model.training
    model.eval().to(dev)
    outputs = []
    try:
        for lo in progress(range(0, len(X), batch_size), desc="predict", unit="batch",
                           verbose=verbose):
            hi = min(lo + batch_size, len(X))
            xb = X[lo:hi].to(device=dev, dtype=dtype)
            y = model(xb, *_slice_args(args, lo, hi, dev, dtype))
            if func is not None:
                y = func(y)
            if isinstance(y, (tuple, list)):
                outputs.append([t.detach().cpu() for t in y])
            else:
                outputs.append(y.detach().cpu())
    finally:
        model.to(old_device).train(was_training)
    if not outputs:
        return torch.zeros(0)
    if isinstance(outputs[0], list):
        return [torch.cat(parts) for parts in zip(*outputs)]
    return torch.cat(outputs)
