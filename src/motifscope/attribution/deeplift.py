"""DeepLIFT/SHAP attributions (rescale rule) with dinucleotide-shuffled references."""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings

import numpy as np
import torch

from motifscope.attribution._common import (attribution_state, check_target, extra_inputs,
                                            model_dtype, onehot_batch, output_matrix)
from motifscope.attribution._passes import DeepLiftPasses, FunctionalNonlinearityRecorder
from motifscope.attribution._pruning import DeadBranchPruner
from motifscope.attribution._rules import build_rules
from motifscope.attribution.references import shuffle_keeping_n
from motifscope.attribution.transformer import (AttentionDecomposer, refuse,
                                                unsupported_layers)
from motifscope.errors import InputError
from motifscope.utils import as_tensor, progress

# References are generated for this many batches of pairs at a time: enough to amortise
# the generator's per-call cost, small enough that memory stays at a few batches.
_REFERENCE_BATCHES_PER_CHUNK = 4


def _accepts_keyword(func, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class _ReferenceSource:
    """Hands out the references of examples ``[e0, e1)`` chunk by chunk, on the device.

    Whatever the source, references depend only on the example (its global id) and the
    shuffle index, so results do not depend on ``batch_size`` or on how a data set is
    split into shards.
    """

    def __init__(self, references, X, n_shuffles, random_state, example_ids, batch_size,
                 device, dtype):
        self.X, self.device, self.dtype = X, device, dtype
        self.example_ids = example_ids
        self._window = (0, 0, None)
        if references is None or callable(references):
            if int(n_shuffles) < 1:
                raise InputError(f"n_shuffles must be >= 1, got {n_shuffles}")
            self.n = int(n_shuffles)
            self.function = references
            self.tensor = None
            if random_state is None:  # one seed for the whole call keeps chunks consistent
                random_state = int(np.random.default_rng().integers(2 ** 31 - 1))
            self.random_state = random_state
        else:
            tensor = as_tensor(references)
            if tensor.ndim != 4 or tensor.shape[0] != X.shape[0] or tensor.shape[2:] != X.shape[1:]:
                raise InputError(f"references must have shape (N, R, 4, L) = ({X.shape[0]}, R, "
                                 f"{X.shape[1]}, {X.shape[2]}); got {tuple(tensor.shape)}")
            if tensor.shape[1] < 1:
                raise InputError("references has no reference per sequence (R = 0)")
            self.n, self.tensor, self.function = tensor.shape[1], tensor, None
        self.chunk = max(1, math.ceil(_REFERENCE_BATCHES_PER_CHUNK * batch_size / self.n))

    def get(self, e0: int, e1: int) -> torch.Tensor:
        lo, hi, block = self._window
        if not (lo <= e0 and e1 <= hi):
            hi = min(self.X.shape[0], max(e1, e0 + self.chunk))
            block = self._generate(e0, hi)
            self._window = (e0, hi, block)
            lo = e0
        return block[e0 - lo:e1 - lo]

    def _generate(self, e0, e1):
        if self.tensor is not None:
            return self.tensor[e0:e1].to(self.device, self.dtype)
        X = self.X[e0:e1].to(self.device)
        ids = self.example_ids[e0:e1]
        if self.function is None:
            refs = shuffle_keeping_n(X, self.n, self.random_state, ids)
        elif _accepts_keyword(self.function, "example_ids"):
            refs = self.function(X, n=self.n, random_state=self.random_state, example_ids=ids)
        else:  # no way to tell it which examples these are: seed each one separately
            refs = torch.cat([as_tensor(self.function(X[i:i + 1], n=self.n,
                                                      random_state=self.random_state + int(j)))
                              for i, j in enumerate(ids.tolist())])
        refs = as_tensor(refs)
        expected = (e1 - e0, self.n, *X.shape[1:])
        if tuple(refs.shape) != expected:
            raise InputError(f"the references function returned shape {tuple(refs.shape)}; "
                             f"expected (N, n, 4, L) = {expected}")
        return refs.to(self.device, self.dtype)


def _rows(X, args, rows, device, dtype):
    """Rows of X and of the extra inputs, on the device in the model's dtype."""
    return X[rows].to(device, dtype), tuple(
        a[rows].to(device, dtype) if a.is_floating_point() else a[rows].to(device)
        for a in args)


def _probe_target(model, X, args, target, device, dtype) -> int:
    """Check the model output shape and the target index on two sequences."""
    with torch.no_grad():
        Xp, argsp = _rows(X, args, slice(0, 2), device, dtype)
        return check_target(target, output_matrix(model(Xp, *argsp), len(Xp)).shape[1])


def _pruner(model, X, args, source, target, rules, device, dtype):
    """Skip layers that cannot change output ``target``, verified on examples and refs."""
    Xp, argsp = _rows(X, args, slice(0, 2), device, dtype)
    refs = source.get(0, 1)[0, :2]
    refs_args = tuple(a[:1].expand(len(refs), *a.shape[1:]) for a in
                      _rows(X, args, slice(0, 1), device, dtype)[1])

    def select(raw):
        return output_matrix(raw, raw.shape[0])[:, target]

    return DeadBranchPruner(model, select, [(Xp, argsp), (refs, refs_args)],
                            skip=tuple(rules))


def _pair_multipliers(passes, model, Xb, refs, argsb, target, recorder):
    """DeepLIFT multipliers (B, 4, L) of one batch of pairs, and f(x) - f(ref) (B,)."""
    y_ref = output_matrix(passes.reference_pass(model, refs, argsb), len(refs))[:, target]
    Xb = Xb.detach().requires_grad_(True)
    y = output_matrix(passes.example_pass(model, Xb, argsb, recorder), len(Xb))[:, target]
    if not y.requires_grad:
        raise InputError(f"output {target} of the model does not depend on the input "
                         "sequence, so it has no attributions")
    (multipliers,) = torch.autograd.grad(y.sum(), Xb)
    return multipliers, y.detach() - y_ref


def _hypothetical_sums(multipliers, refs, local, n_examples):
    """Sum over each example's pairs of the hypothetical contributions
    ``m[b] - sum_c ref[c] m[c]`` (the multipliers are overwritten)."""
    hypothetical = multipliers.sub_((refs * multipliers).sum(dim=1, keepdim=True))
    sums = torch.zeros((n_examples, *hypothetical.shape[1:]), dtype=hypothetical.dtype,
                       device=hypothetical.device)
    return sums.index_add_(0, local, hypothetical)


def _pair_batches(n_pairs: int, batch_size: int):
    for p0 in range(0, n_pairs, batch_size):
        yield p0, min(n_pairs, p0 + batch_size)


def _check_functional(recorder: FunctionalNonlinearityRecorder, allow_approximate) -> None:
    """Stop (InputError) when the first example pass met nonlinear functions outside
    rule-carrying layers; with ``allow_approximate`` only warn."""
    if not recorder.found:
        return
    what = f"the nonlinear functions {recorder.describe()}"
    if not allow_approximate:
        raise refuse(what)
    warnings.warn(
        f"deep_lift_shap: allow_approximate is set, so {what} are treated as linear (no "
        "exact DeepLIFT rule); check the convergence deltas.", RuntimeWarning, stacklevel=3)


def _check_layers(model, rules, allow_approximate) -> None:
    """Stop before any work at layers known to have no exact rule (LSTM, GRU, ...)."""
    layers = unsupported_layers(model, rules)
    if not layers:
        return
    what = f"the layer(s) {', '.join(layers)}"
    if not allow_approximate:
        raise refuse(what)
    warnings.warn(f"deep_lift_shap: allow_approximate is set, so {what} get their ordinary "
                  "gradients (no exact DeepLIFT rule); check the convergence deltas.",
                  RuntimeWarning, stacklevel=3)


def _warn_deltas(deltas, output_change, warning_threshold, recorder) -> None:
    worst = float(deltas.abs().max())
    scale = float(output_change)
    if worst > warning_threshold * max(scale, torch.finfo(deltas.dtype).tiny):
        hint = f" Functional nonlinearities seen: {recorder.describe()}." if recorder.found \
            else ""
        warnings.warn(
            f"deep_lift_shap: convergence deltas up to {worst:.3g}, which is "
            f"{worst / max(scale, 1e-300):.3g} of the mean |f(x) - f(ref)| ({scale:.3g}): "
            "the attributions do not add up to the output change; some layer has no correct "
            f"DeepLIFT rule (see additional_nonlinear_ops).{hint}", RuntimeWarning,
            stacklevel=3)


def deep_lift_shap(model, X, args=None, target=0, references=None, n_shuffles=20,
                   batch_size=64, device="auto", random_state=None, hypothetical=False,
                   return_deltas=False, additional_nonlinear_ops=None, warning_threshold=0.01,
                   verbose=None, example_ids=None, prune_unused=True,
                   allow_approximate=False):
    """DeepLIFT/SHAP attributions: DeepLIFT (rescale rule) averaged over references.

    For each example x and reference r the multipliers m(x, r) satisfy
    ``sum((x - r) * m) == f(x) - f(r)`` (summation to delta). The hypothetical
    attribution of base b at position l is ``m[b, l] - sum_c r[c, l] m[c, l]`` (the
    contribution had base b been there), averaged over the references.

    Parameters
    ----------
    model : torch.nn.Module
        Called as ``model(X, *args)``; must return ``(batch, n_outputs)`` (wrap multi-head
        models with :class:`motifscope.models.ModelAdapter`, e.g. BPNet's counts head).
        Nonlinear layers must be modules (see Notes); it is run in eval mode on ``device``
        and put back as it was.
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L)
        One-hot sequences, any dtype (uint8 is fine; cast per batch to the model's dtype).
    args : tuple of arrays, optional
        Extra model inputs with one row per sequence, e.g. ``(control,)`` for BPNet.
    target : int, default 0
        Output column to explain.
    references : None, tensor or callable, default None
        None: ``n_shuffles`` dinucleotide shuffles of each sequence, every N (all-zero
        column) kept in place in every reference, so N gets no attribution
        (:func:`motifscope.attribution.references.shuffle_keeping_n`).
        A tensor of shape (N, R, 4, L): fixed references. A callable
        ``f(X, n, random_state[, example_ids]) -> (N, n, 4, L)``.
    n_shuffles : int, default 20
        References per sequence when ``references`` is None or a callable.
    batch_size : int, default 64
        Example-reference *pairs* per forward/backward pass, so any number of references
        fits in memory. Results do not depend on it beyond float rounding.
    device : {"auto", "cpu", "cuda", ...}, default "auto"
        ``auto`` uses CUDA when available; ``cuda`` without CUDA raises InputError.
    random_state : int, optional
        Seed of the default/callable references. Reference j of sequence i depends only
        on ``(random_state, example_ids[i], j)``.
    hypothetical : bool, default False
        Return hypothetical attributions (every base) instead of projected ones
        (hypothetical times ``X``).
    return_deltas : bool, default False
        Also return the convergence deltas.
    additional_nonlinear_ops : dict, optional
        ``{module class: rule}``; rules are ``"rescale"``, ``"maxpool"``, ``"softmax"``,
        ``"linear"`` or callables (see :mod:`motifscope.attribution._rules`). Overrides
        the built-in table.
    warning_threshold : float, default 0.01
        Warn (RuntimeWarning) when the largest |delta| exceeds this fraction of the mean
        |f(x) - f(ref)| over all pairs.
    verbose : bool, optional
        Progress bar over pairs (None: see :func:`motifscope.utils.progress`).
    example_ids : array of int, shape (N,), optional
        Global indices of the sequences (default ``arange(N)``), used to seed their
        references; pass them when attributing one shard of a larger set so that shards
        reproduce a single run.
    prune_unused : bool, default True
        Skip layers whose outputs cannot reach output ``target`` (e.g. BPNet's profile head
        when its counts head is explained): found by gradient flow on two sequences and two
        references, and kept only if the target values there are unchanged with those
        layers returning zeros. Purely a speed-up; the skipped layers are logged.
    allow_approximate : bool, default False
        What to do with computations that have no exact rule (see Notes): False raises
        InputError naming them; True treats them as linear and warns.

    Returns
    -------
    attributions : torch.Tensor, shape (N, 4, L)
        On the CPU, in the model's dtype (float32 for a float32 model).
    deltas : torch.Tensor, shape (N, R)
        Only with ``return_deltas=True``: ``sum((x - r) * m) - (f(x) - f(r))`` for every pair
        (signed). Their mean over references is what the averaged attributions miss of
        ``f(x) - mean f(r)``.

    Raises
    ------
    InputError
        Bad shapes, target out of range, an unusable model output, ``device="cuda"``
        without CUDA.

    Notes
    -----
    Built-in rules: rescale for ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, SELU, CELU,
    GELU, SiLU, Mish, Sigmoid, Tanh, Softplus, LogSigmoid, Hardtanh, Hardsigmoid,
    Hardswish, Softshrink, Hardshrink, Tanhshrink, Softsign, Threshold; routing rule for
    MaxPool1d/2d and AdaptiveMaxPool1d/2d (overlapping windows accumulate); exact rules
    for Softmax, LayerNorm and RMSNorm, and the midpoint product rule for
    :class:`motifscope.attribution.BilinearOp` (attention scores and weighted values; also
    tangermeme's ``BilinearOp``); ``F.scaled_dot_product_attention`` is run as its
    definition through those modules. Convolutions (any dilation/padding), linear layers,
    BatchNorm in eval mode, average pooling, residual additions and crops are linear and
    need nothing. Everything else nonlinear has no exact rule: recurrent layers (LSTM,
    GRU, RNN), ``nn.MultiheadAttention`` and torch's Transformer layers are refused before
    any work, and nonlinear *functions* applied to input-dependent tensors outside a
    rule-carrying layer (``F.relu``, ``torch.exp``, products of two input-dependent
    tensors, ...) are found during the first batch; both raise InputError naming the
    layer or function and its call site, unless ``allow_approximate=True``.
    """
    X = onehot_batch(X)
    n_examples = X.shape[0]
    args = extra_inputs(args, n_examples)
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    ids = torch.arange(n_examples) if example_ids is None else torch.as_tensor(
        np.asarray(example_ids), dtype=torch.int64).reshape(-1)
    if ids.shape[0] != n_examples:
        raise InputError(f"example_ids has {ids.shape[0]} entries for {n_examples} sequences")
    rules = build_rules(additional_nonlinear_ops)
    _check_layers(model, rules, allow_approximate)
    dtype = model_dtype(model)
    names = {id(m): name for name, m in model.named_modules()}

    with contextlib.ExitStack() as stack:
        device = stack.enter_context(attribution_state(model, device))
        passes = stack.enter_context(DeepLiftPasses(rules))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(AttentionDecomposer())
        source = _ReferenceSource(references, X, n_shuffles, random_state, ids, batch_size,
                                  device, dtype)
        n_refs = source.n
        target = _probe_target(model, X, args, target, device, dtype)
        if prune_unused:
            stack.enter_context(_pruner(model, X, args, source, target, rules, device, dtype))
        attributions = torch.zeros((n_examples, *X.shape[1:]), dtype=dtype)
        deltas = torch.empty(n_examples * n_refs, dtype=dtype)
        output_change = torch.zeros((), dtype=torch.float64)
        recorder = FunctionalNonlinearityRecorder(names)
        bar = progress(total=n_examples * n_refs, desc="deep_lift_shap", unit="pair",
                       verbose=verbose)
        for batch_index, (p0, p1) in enumerate(_pair_batches(n_examples * n_refs, batch_size)):
            e0, e1 = p0 // n_refs, (p1 - 1) // n_refs + 1
            local = torch.arange(p0, p1, device=device) // n_refs - e0  # example of each pair
            refs = source.get(e0, e1).reshape(-1, *X.shape[1:])[p0 - e0 * n_refs:p1 - e0 * n_refs]
            Xb, argsb = _rows(X, args, slice(e0, e1), device, dtype)
            Xb, argsb = Xb[local], tuple(a[local] for a in argsb)
            multipliers, change = _pair_multipliers(
                passes, model, Xb, refs, argsb, target,
                recorder if batch_index == 0 else None)
            if batch_index == 0:
                _check_functional(recorder, allow_approximate)
            deltas[p0:p1] = ((Xb - refs) * multipliers).sum(dim=(1, 2)).sub_(change).cpu()
            output_change += change.abs().sum().double().cpu()
            attributions[e0:e1] += _hypothetical_sums(multipliers, refs, local, e1 - e0).cpu()
            bar.update(p1 - p0)
        bar.close()

    attributions /= n_refs
    if not hypothetical:
        for e0 in range(0, n_examples, 1024):
            attributions[e0:e0 + 1024] *= X[e0:e0 + 1024].to(dtype)
    deltas = deltas.reshape(n_examples, n_refs)
    _warn_deltas(deltas, output_change / (n_examples * n_refs), warning_threshold, recorder)
    return (attributions, deltas) if return_deltas else attributions
