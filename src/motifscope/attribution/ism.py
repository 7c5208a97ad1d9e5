"""In-silico saturation mutagenesis (ISM): the effect of every single-base substitution."""

from __future__ import annotations

import contextlib

import torch

from motifscope.attribution._common import (attribution_state, check_target, extra_inputs,
                                            model_dtype, onehot_batch, output_matrix)
from motifscope.attribution._pruning import DeadBranchPruner
from motifscope.errors import InputError
from motifscope.utils import progress

# Edits are enumerated for this many batches' worth of examples at a time.
_EDIT_BATCHES_PER_CHUNK = 8


def _resolve_window(start, end, length: int) -> tuple[int, int]:
    start = 0 if start is None else int(start)
    end = length if end is None else int(end)
    if end < 0:  # the ersatz convention: -1 means L
        end = length + 1 + end
    if not 0 <= start < end <= length:
        raise InputError(f"saturation_mutagenesis: need 0 <= start < end <= L={length}, got "
                         f"start={start}, end={end}")
    return start, end


def _to_device(tensor, device, dtype):
    """Move an extra input to the device; floating-point ones also take the model dtype."""
    return tensor.to(device, dtype) if tensor.is_floating_point() else tensor.to(device)


def _predict(model, X, args, batch_size, device, dtype):
    """Model outputs (N, T) for one-hot X, batched, without autograd."""
    outputs = []
    for b0 in range(0, X.shape[0], batch_size):
        Xb = X[b0:b0 + batch_size].to(device, dtype)
        argsb = tuple(_to_device(a[b0:b0 + batch_size], device, dtype) for a in args)
        outputs.append(output_matrix(model(Xb, *argsb), Xb.shape[0]))
    return torch.cat(outputs)


def _pruner(model, X, args, target, device, dtype):
    """Skip layers that cannot change output ``target``, verified on two sequences and on
    their reverses (any one-hot input will do)."""
    rows = slice(0, 2)
    Xp = X[rows].to(device, dtype)
    argsp = tuple(_to_device(a[rows], device, dtype) for a in args)

    def select(raw):
        return output_matrix(raw, raw.shape[0])[:, target]

    return DeadBranchPruner(model, select, [(Xp, argsp), (Xp.flip(-1), argsp)])


def _editable(X, start, end) -> torch.Tensor:
    """(N, 4, W) bool: substitutions that change the sequence. A clean column has three; an
    N (or otherwise not one-hot) column has all four."""
    window = X[:, :, start:end]
    not_onehot = window.sum(dim=1, keepdim=True) != 1
    return (window == 0) | not_onehot


def _apply_edits(X_chunk, example, base, position):
    """Copies of ``X_chunk[example]`` with column ``position`` set to one-hot ``base``."""
    edited = X_chunk[example]
    rows = torch.arange(edited.shape[0], device=edited.device)
    edited[rows, :, position] = 0
    edited[rows, base, position] = 1
    return edited


def saturation_mutagenesis(model, X, args=None, target=0, start=None, end=None,
                           batch_size=256, device="auto", hypothetical=False,
                           raw_outputs=False, verbose=None, prune_unused=True):
    """Saturation mutagenesis: predict every single-base substitution in a window.

    All substitutions that change the sequence (3 per base, 4 at an N) in ``[start, end)``
    of every sequence are batched together across sequences; no-op edits are skipped.
    The attribution of base b at position l is the output change of substituting b,
    minus the mean change over the four bases at l (the DragoNN / tangermeme normalisation).

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(X, *args)``, returning ``(batch, n_outputs)``.
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L)
        One-hot sequences (any dtype; N = all-zero column).
    args : tuple of arrays, optional
        Extra model inputs, one row per sequence (e.g. ``(control,)``); each edited copy
        gets the row of its sequence.
    target : int, default 0
        Output column to explain.
    start, end : int, optional
        The window, 0-based half-open (default the whole sequence); a negative ``end``
        means ``L + 1 + end``.
    batch_size : int, default 256
        Edited sequences per forward pass.
    device : {"auto", "cpu", "cuda", ...}, default "auto"
    hypothetical : bool, default False
        Return the value for every base rather than only the observed one.
    raw_outputs : bool, default False
        Also return the per-substitution effects.
    verbose : bool, optional
        Progress bar over edits.
    prune_unused : bool, default True
        Skip layers whose outputs cannot reach output ``target`` (see
        :func:`motifscope.attribution.deep_lift_shap`).

    Returns
    -------
    attributions : torch.Tensor, shape (N, 4, L)
        Mean-centred ISM scores (times ``X`` unless ``hypothetical``); zero outside
        ``[start, end)``. CPU, model dtype.
    effects : torch.Tensor, shape (N, 4, L)
        With ``raw_outputs=True``: ``f(edited) - f(X)`` for each substitution (0 for the
        observed base and outside the window).

    Raises
    ------
    InputError
        Bad shapes or window, target out of range, an unusable model output,
        ``device="cuda"`` without CUDA.
    """
    X = onehot_batch(X)
    n_examples, _, length = X.shape
    args = extra_inputs(args, n_examples)
    start, end = _resolve_window(start, end, length)
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    dtype = model_dtype(model)
    width = end - start

    with contextlib.ExitStack() as stack:
        device = stack.enter_context(attribution_state(model, device))
        stack.enter_context(torch.no_grad())
        probe = _predict(model, X[:2], tuple(a[:2] for a in args), batch_size, device, dtype)
        target = check_target(target, probe.shape[1])
        if prune_unused:
            stack.enter_context(_pruner(model, X, args, target, device, dtype))
        reference = _predict(model, X, args, batch_size, device, dtype)[:, target]
        effects = torch.zeros((n_examples, 4, width), dtype=dtype)
        chunk = max(1, _EDIT_BATCHES_PER_CHUNK * batch_size // (3 * width))
        bar = progress(total=int(_editable(X, start, end).sum()), desc="ism", unit="edit",
                       verbose=verbose)
        for e0 in range(0, n_examples, chunk):
            X_chunk = X[e0:e0 + chunk].to(device, dtype)
            args_chunk = tuple(_to_device(a[e0:e0 + chunk], device, dtype) for a in args)
            edits = torch.nonzero(_editable(X_chunk, start, end))
            for b0 in range(0, edits.shape[0], batch_size):
                example, base, position = edits[b0:b0 + batch_size].unbind(1)
                edited = _apply_edits(X_chunk, example, base, position + start)
                y = output_matrix(model(edited, *(a[example] for a in args_chunk)),
                                  edited.shape[0])[:, target]
                delta = y - reference[e0:e0 + chunk].to(device)[example]
                effects[(example + e0).cpu(), base.cpu(), position.cpu()] = delta.cpu()
                bar.update(edited.shape[0])
        bar.close()

    scores = effects - effects.mean(dim=1, keepdim=True)
    if not hypothetical:
        scores *= X[:, :, start:end].to(dtype)
    attributions = torch.zeros((n_examples, 4, length), dtype=dtype)
    attributions[:, :, start:end] = scores
    if not raw_outputs:
        return attributions
    full_effects = torch.zeros_like(attributions)
    full_effects[:, :, start:end] = effects
    return attributions, full_effects
