"""Filter influence (Basset's ``basset_motifs_infl``): each filter's output replaced by its
mean, and the change in every target's prediction and in the loss recorded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.filters._hooks import _batches, _evaluating, _Hooks
from motifscope.filters.layers import first_layer
from motifscope.filters.pwms import _Moments
from motifscope.utils import as_numpy, as_tensor, resolve_device


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
