"""In-silico marginalization: how much does planting a motif change the model's output?

A motif is substituted at the centre of background sequences that should carry no signal of
their own, and the model is run before and after; the mean change over backgrounds estimates
the motif's marginal effect, free of the confounders of genomic sites. Backgrounds
(:func:`make_backgrounds`) are uniform random, composition-matched to the genome,
dinucleotide-shuffled peaks, or genomic regions outside peaks. The motif goes in as its
consensus or as instances sampled from its PWM (one per background).

- :func:`marginalize`: one motif on a batch of sequences (tangermeme's ``marginalize``),
  with ``func`` = predictions or DeepLIFT/SHAP attributions;
- :func:`marginalize_motifs`: every motif of a database against one background set, batched
  across motifs, as a table sorted by effect (the workflow's ``marginalize`` rule);
- :func:`plot_marginalization`: the strongest effects as a bar chart.

Coordinates are 0-based half-open.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from motifscope import ersatz
from motifscope.attribution import deep_lift_shap
from motifscope.checks import check_finite
from motifscope.errors import InputError
from motifscope.io import open_fasta, read_peaks
from motifscope.plot import style
from motifscope.predict import predict
from motifscope.sequence import one_hot_encode
from motifscope.utils import as_tensor, progress

BACKGROUND_KINDS = ("uniform", "composition", "shuffled_peaks", "genomic")
INSTANCE_KINDS = ("consensus", "sampled")
FUNC_NAMES = ("predict", "deep_lift_shap")
TABLE_COLUMNS = ["motif", "motif_alt_id", "target", "delta_mean", "delta_sd", "n", "z"]
ATTRIBUTION_COLUMNS = ["attr_delta_mean", "attr_delta_sd"]

# Sequences (motifs x backgrounds) built per chunk in marginalize_motifs: bounds memory.
_MAX_CHUNK_SEQUENCES = 8192


# --------------------------------------------------------------------------------------
# motif instances
# --------------------------------------------------------------------------------------


def _pwm_array(motif, name: str = "motif") -> np.ndarray:
    """A (4, w) float array from a string, a one-hot or a probability matrix."""
    if isinstance(motif, str):
        return one_hot_encode(motif).astype(np.float64)
    pwm = np.asarray(motif.detach().cpu() if isinstance(motif, torch.Tensor) else motif,
                     dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] == 0 or (pwm < 0).any():
        raise InputError(f"motif '{name}' must be a DNA string or a (4, w) matrix with rows "
                         f"A, C, G, T, got shape {pwm.shape}")
    return pwm


def consensus(pwm) -> np.ndarray:
    """The consensus of a ``(4, w)`` PWM as a uint8 one-hot ``(4, w)`` (ties -> first base).

    All-zero columns (N) stay all-zero.
    """
    pwm = _pwm_array(pwm)
    out = np.zeros(pwm.shape, dtype=np.uint8)
    columns = np.flatnonzero(pwm.sum(axis=0) > 0)
    out[pwm[:, columns].argmax(axis=0), columns] = 1
    return out


def _motif_seed(random_state: int, name: str) -> list[int]:
    """A seed for a motif that depends on its name, not on its position in a database."""
    return [int(random_state) & 0xFFFFFFFF, zlib.crc32(name.encode())]


def sample_instances(pwm, n: int, random_state=0, name: str = "motif") -> np.ndarray:
    """Draw ``n`` instances from a PWM, each column independently.

    Parameters
    ----------
    pwm : array (4, w)
        Probabilities (columns are renormalised).
    n : int
    random_state : int, default 0
        Together with ``name``: the draws of a motif do not depend on which other motifs
        are sampled, or in which order.
    name : str, default "motif"

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 4, w)
    """
    pwm = _pwm_array(pwm, name)
    totals = pwm.sum(axis=0, keepdims=True)
    if (totals == 0).any():
        raise InputError(f"motif '{name}' has an all-zero column; it cannot be sampled")
    cumulative = np.cumsum(pwm / totals, axis=0)
    rng = np.random.default_rng(_motif_seed(0 if random_state is None else random_state, name))
    uniforms = rng.random((int(n), pwm.shape[1]))
    tokens = np.minimum((uniforms[:, None, :] >= cumulative[None, :, :]).sum(axis=1), 3)
    return (tokens[:, None, :] == np.arange(4)[:, None]).astype(np.uint8)


def motif_instances(motif, n: int, instance: str = "consensus", random_state=0,
                    name: str = "motif") -> np.ndarray:
    """The one-hot motif(s) to substitute: ``(1, 4, w)`` consensus or ``(n, 4, w)`` samples.

    A string or a one-hot matrix is used as it is whatever ``instance`` says; ``instance``
    decides only for probability matrices.
    """
    if instance not in INSTANCE_KINDS:
        raise InputError(f"marginalize: instance '{instance}' is unknown; use one of "
                         f"{', '.join(INSTANCE_KINDS)} (config key marginalize.instance)")
    pwm = _pwm_array(motif, name)
    if np.isin(pwm, (0.0, 1.0)).all() and (pwm.sum(axis=0) <= 1).all():
        return pwm.astype(np.uint8)[None]
    if instance == "consensus":
        return consensus(pwm)[None]
    return sample_instances(pwm, n, random_state, name)


# --------------------------------------------------------------------------------------
# backgrounds
# --------------------------------------------------------------------------------------


def _iid_backgrounds(rng: np.random.Generator, n: int, length: int, probs) -> np.ndarray:
    tokens = rng.choice(4, size=(n, length), p=np.asarray(probs, dtype=np.float64))
    return (tokens[:, None, :] == np.arange(4)[:, None]).astype(np.uint8)


def _open_genome(genome):
    """A genome as something indexable ``genome[chrom][lo:hi] -> str`` with ``keys()``."""
    if genome is None or (hasattr(genome, "keys") and hasattr(genome, "__getitem__")):
        return genome  # a mapping or an open pyfaidx.Fasta

    return open_fasta(genome)


def genome_composition(genome, random_state=0, max_bases: int = 20_000_000,
                       chunk: int = 10_000) -> np.ndarray:
    """Base frequencies (A, C, G, T) of a genome, ignoring N.

    Genomes up to ``max_bases`` are counted in full; larger ones from ``max_bases / chunk``
    random chunks of ``chunk`` bp (deterministic by ``random_state``).

    Parameters
    ----------
    genome : path to a FASTA, pyfaidx.Fasta, or mapping chrom -> sequence string

    Returns
    -------
    numpy.ndarray, shape (4,), sums to 1
    """
    genome = _open_genome(genome)
    sizes = {name: len(genome[name]) for name in genome.keys()}
    total = sum(sizes.values())
    counts = np.zeros(4)

    def add(seq):
        codes = np.frombuffer(str(seq).upper().encode("ascii", "replace"), dtype=np.uint8)
        counts[:] += [(codes == ord(base)).sum() for base in "ACGT"]

    if total <= max_bases:
        for name in sizes:
            add(genome[name][0:sizes[name]])
    else:
        rng = np.random.default_rng(random_state)
        names = list(sizes)
        weights = np.array([sizes[name] for name in names], dtype=np.float64)
        for k in rng.choice(len(names), size=max_bases // chunk, p=weights / weights.sum()):
            lo = int(rng.integers(0, max(1, sizes[names[k]] - chunk)))
            add(genome[names[k]][lo:lo + chunk])
    if counts.sum() == 0:
        raise InputError("the genome has no A, C, G or T; check the `genome` config key")
    return counts / counts.sum()


def _genomic_backgrounds(rng, n: int, length: int, genome, peaks) -> np.ndarray:
    """``n`` windows of the genome that overlap no peak (padded by ``length``) and hold no N."""
    sizes = {name: len(genome[name]) for name in genome.keys()}
    names = [name for name in sizes if sizes[name] >= length]
    if not names:
        raise InputError(f"no contig of the genome is at least {length} bp long; use "
                         "marginalize.background 'uniform' or 'composition'")
    blocked = {}
    if peaks is not None:
        if not isinstance(peaks, pd.DataFrame):
            peaks = read_peaks(peaks)
        for chrom, group in peaks.groupby("chrom"):
            order = np.argsort(group["start"].to_numpy())
            blocked[chrom] = (group["start"].to_numpy()[order] - length,
                              np.maximum.accumulate(group["end"].to_numpy()[order]))
    weights = np.array([sizes[name] - length + 1 for name in names], dtype=np.float64)
    windows = []
    for _ in range(200 * n):
        if len(windows) == n:
            break
        chrom = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        lo = int(rng.integers(0, sizes[chrom] - length + 1))
        if chrom in blocked:
            # a window [lo, lo+L) overlaps a peak [s, e) iff s - L < lo < e
            starts, ends = blocked[chrom]
            k = np.searchsorted(starts, lo, side="left") - 1
            if k >= 0 and lo < ends[k]:
                continue
        onehot = one_hot_encode(str(genome[chrom][lo:lo + length]))
        if (onehot.sum(axis=0) == 0).any():
            continue
        windows.append(onehot)
    if len(windows) < n:
        raise InputError(f"found only {len(windows)} of {n} genomic windows of {length} bp "
                         "outside peaks and without N; lower marginalize.n_backgrounds or use "
                         "another marginalize.background")
    return np.stack(windows)


def _shuffled_peak_backgrounds(rng, n: int, length: int, X_peaks) -> np.ndarray:
    if X_peaks is None:
        raise InputError("background 'shuffled_peaks' needs the peak windows (X_peaks); "
                         "pass them, or choose marginalize.background 'uniform'")
    if isinstance(X_peaks, torch.Tensor):
        X_peaks = X_peaks.detach().cpu().numpy()
    elif not hasattr(X_peaks, "shape"):
        X_peaks = np.asarray(X_peaks)
    # an h5py dataset stays on disk: only the chosen rows are read
    if len(X_peaks.shape) != 3 or X_peaks.shape[1] != 4 or X_peaks.shape[0] == 0:
        raise InputError(f"X_peaks must be a non-empty (N, 4, L) one-hot array, got shape "
                         f"{tuple(X_peaks.shape)}")
    if X_peaks.shape[-1] < length:
        raise InputError(f"peak windows are {X_peaks.shape[-1]} bp but backgrounds of {length} "
                         "bp were asked for; use a shorter length or wider windows")
    offset = (X_peaks.shape[-1] - length) // 2
    chosen = rng.choice(X_peaks.shape[0], size=n, replace=n > X_peaks.shape[0])
    seed = int(rng.integers(0, 2**62))
    rows, inverse = np.unique(chosen, return_inverse=True)
    windows = np.asarray(X_peaks[rows.tolist()])[inverse][:, :, offset:offset + length]
    try:
        # example_ids = draw index, so repeated peaks get different shuffles
        shuffled = ersatz.dinucleotide_shuffle(windows, n=1, random_state=seed,
                                               example_ids=np.arange(n))
    except InputError as err:
        raise InputError(f"background 'shuffled_peaks': {err} (peak index "
                         f"{_failing_peak(err, chosen)}); remove peaks with N or choose "
                         "marginalize.background 'genomic' or 'composition'") from None
    return shuffled[:, 0]


def _failing_peak(err: InputError, chosen: np.ndarray) -> str:
    import re

    match = re.search(r"example (\d+)", str(err))
    return str(int(chosen[int(match.group(1))])) if match else "?"


def make_backgrounds(kind: str, n: int, length: int, random_state=0, genome=None, peaks=None,
                     X_peaks=None) -> np.ndarray:
    """Background sequences for marginalization.

    Parameters
    ----------
    kind : {"uniform", "composition", "shuffled_peaks", "genomic"}
        ``uniform``: i.i.d. bases, 1/4 each; ``composition``: i.i.d. with the genome's base
        frequencies (``genome`` needed); ``shuffled_peaks``: a dinucleotide shuffle of
        ``n`` peak windows drawn from ``X_peaks`` (centre-cropped to ``length``; windows with
        N cannot be shuffled and raise); ``genomic``: random genome windows that overlap no
        peak and hold no N (``genome`` needed, ``peaks`` recommended).
    n : int
        Number of backgrounds.
    length : int
        Length L of each background (the model's input length).
    random_state : int, default 0
    genome : path, pyfaidx.Fasta or mapping chrom -> str, optional
    peaks : DataFrame (chrom, start, end) or path, optional
    X_peaks : array, tensor or h5py dataset (N, 4, L') with L' >= length, optional
        Peak windows; from an h5py dataset only the drawn rows are read.

    Returns
    -------
    numpy.ndarray of uint8, shape (n, 4, length)

    Raises
    ------
    InputError
        Unknown kind, missing inputs for the kind, N under the dinucleotide shuffle.
    """
    if kind not in BACKGROUND_KINDS:
        raise InputError(f"marginalize.background '{kind}' is unknown; use one of "
                         f"{', '.join(BACKGROUND_KINDS)}")
    if int(n) < 1 or int(length) < 1:
        raise InputError(f"marginalize: need n >= 1 backgrounds of length >= 1, got n={n}, "
                         f"length={length} (config key marginalize.n_backgrounds)")
    n, length = int(n), int(length)
    rng = np.random.default_rng(random_state)
    if kind == "uniform":
        return _iid_backgrounds(rng, n, length, [0.25] * 4)
    if kind == "shuffled_peaks":
        return _shuffled_peak_backgrounds(rng, n, length, X_peaks)
    genome = _open_genome(genome)
    if genome is None:
        raise InputError(f"background '{kind}' needs the genome FASTA; set the `genome` config "
                         "key or choose marginalize.background 'uniform'")
    if kind == "composition":
        return _iid_backgrounds(rng, n, length, genome_composition(genome, random_state))
    return _genomic_backgrounds(rng, n, length, genome, peaks)


# --------------------------------------------------------------------------------------
# one motif
# --------------------------------------------------------------------------------------


@dataclass
class MarginalizeResult:
    """Outputs of :func:`marginalize`.

    Attributes
    ----------
    y_before, y_after : torch.Tensor
        ``func`` on the original and on the edited sequences: predictions (N, T) or
        attributions (N, 4, L).
    start, end : int
        The substituted span ``[start, end)``.
    """

    y_before: torch.Tensor
    y_after: torch.Tensor
    start: int
    end: int

    @property
    def delta(self) -> torch.Tensor:
        """``y_after - y_before``: (N, T) for predictions, (N, 4, L) for attributions."""
        return self.y_after - self.y_before

    def span_delta(self) -> torch.Tensor:
        """Change of the attribution summed over the motif span and bases: shape (N,)."""
        if self.y_before.ndim != 3:
            raise InputError("span_delta() needs attributions (func='deep_lift_shap')")
        return self.delta[:, :, self.start:self.end].sum(dim=(1, 2))


def _resolve_func(func) -> tuple[Callable, bool]:
    """(callable, is_attribution) for "predict", "deep_lift_shap" or a callable."""
    if func is None or func == "predict" or func is predict:
        return predict, False
    if func == "deep_lift_shap":
        return deep_lift_shap, True
    if callable(func):
        return func, getattr(func, "__name__", "") in ("deep_lift_shap", "saturation_mutagenesis")
    raise InputError(f"marginalize: func '{func}' is unknown; use one of {', '.join(FUNC_NAMES)} "
                     "or a callable func(model, X, **kwargs) (config key marginalize.func)")


def _as_2d(y: torch.Tensor) -> torch.Tensor:
    if isinstance(y, (list, tuple)):
        raise InputError("marginalize: the model returns several outputs; wrap it with "
                         "motifscope.models.load_model so it returns one (N, T) tensor")
    return y.reshape(-1, 1) if y.ndim == 1 else y.reshape(y.shape[0], -1)


def marginalize(model, X, motif, func="predict", start: int | None = None,
                instance: str = "consensus", random_state=0, **func_kwargs) -> MarginalizeResult:
    """Run ``func`` on ``X`` and on ``X`` with ``motif`` substituted, and return both.

    Parameters
    ----------
    model : torch.nn.Module
        Returns (N, T) (wrap multi-head models with :func:`motifscope.models.load_model`).
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L)
        Background (or real) sequences.
    motif : str, or array (4, w) / (N, 4, w)
        A string, a one-hot, or a PWM (probabilities; see ``instance``).
    func : {"predict", "deep_lift_shap"} or callable, default "predict"
        ``func(model, X, **func_kwargs)``; predictions must come back (N, T) (a 1-D output
        is read as one target), attributions (N, 4, L).
    start : int, optional
        First substituted position; default centres the motif (``L // 2 - w // 2``).
    instance : {"consensus", "sampled"}, default "consensus"
        For a PWM: substitute its consensus, or one instance sampled per sequence.
    random_state : int, default 0
        Seeds sampled instances (and is passed to ``deep_lift_shap``).
    **func_kwargs
        Passed to ``func`` (e.g. ``batch_size``, ``device``, ``target``, ``args``).

    Returns
    -------
    MarginalizeResult
        ``y_before``, ``y_after`` (CPU tensors), ``start``, ``end``; ``.delta`` and, for
        attributions, ``.span_delta()``.

    Raises
    ------
    InputError
        If the motif is longer than the sequences or ``start`` puts it off the end.
    """
    X = as_tensor(X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"marginalize: X must have shape (N, 4, L), got {tuple(X.shape)}")
    call, is_attribution = _resolve_func(func)
    if np.ndim(motif) == 3:  # one one-hot motif per sequence: ersatz.substitute checks it
        instances = np.asarray(motif.detach().cpu() if isinstance(motif, torch.Tensor) else motif)
    else:
        instances = motif_instances(motif, X.shape[0], instance, random_state)
    width, length = instances.shape[-1], X.shape[-1]
    if width > length:
        raise InputError(f"marginalize: the motif ({width} bp) is longer than the background "
                         f"sequences ({length} bp); use longer backgrounds or a shorter motif")
    start = length // 2 - width // 2 if start is None else int(start)
    X_after = ersatz.substitute(X, torch.from_numpy(instances).to(X.dtype), start=start)
    if is_attribution and func == "deep_lift_shap":
        func_kwargs.setdefault("random_state", random_state)
    before, after = call(model, X, **func_kwargs), call(model, X_after, **func_kwargs)
    before, after = as_tensor(before).cpu(), as_tensor(after).cpu()
    if not (before.ndim == 3 and before.shape[1:] == X.shape[1:]):
        before, after = _as_2d(before), _as_2d(after)
    return MarginalizeResult(before, after, start, start + width)


# --------------------------------------------------------------------------------------
# every motif of a database
# --------------------------------------------------------------------------------------


def _resolve_targets(targets, target_names, n_outputs: int) -> tuple[list[str], list[int]]:
    """(names, output indices) of the targets to report.

    ``targets``: None (every output), a mapping name -> output index (the workflow's
    ``targets`` config), or a sequence of output indices; ``target_names`` names every
    output (length n_outputs) when ``targets`` is not a mapping.
    """
    if target_names is not None and len(list(target_names)) != n_outputs:
        raise InputError(f"the model has {n_outputs} outputs but {len(list(target_names))} "
                         "target names were given; list one name per model output")
    all_names = list(target_names) if target_names is not None else [
        f"target_{k}" for k in range(n_outputs)]
    if targets is None:
        names, indices = all_names, list(range(n_outputs))
    elif isinstance(targets, Mapping):
        names, indices = list(targets), [int(v) for v in targets.values()]
    else:
        indices = [int(t) for t in targets]
        names = [all_names[k] if 0 <= k < n_outputs else str(k) for k in indices]
    for name, index in zip(names, indices):
        if not 0 <= index < n_outputs:
            raise InputError(f"target '{name}' is output {index} but the model has {n_outputs} "
                             f"outputs; use 0..{n_outputs - 1} (config key targets)")
    return names, indices


def _edited_chunk(backgrounds: torch.Tensor, chunk: list, instances: dict) -> torch.Tensor:
    """(len(chunk) * B, 4, L): each motif of ``chunk`` centred in every background."""
    n_backgrounds, _, length = backgrounds.shape
    out = backgrounds.repeat(len(chunk), 1, 1)
    for k, name in enumerate(chunk):
        motif = torch.from_numpy(instances[name]).to(out.dtype)
        width = motif.shape[-1]
        start = length // 2 - width // 2
        rows = slice(k * n_backgrounds, (k + 1) * n_backgrounds)
        keep = motif.sum(dim=1, keepdim=True) == 0
        window = out[rows, :, start:start + width]
        out[rows, :, start:start + width] = torch.where(keep, window, motif.expand_as(window))
    return out


def _check_widths(motifs: Mapping, length: int) -> None:
    for name, pwm in motifs.items():
        width = np.shape(pwm)[-1] if not isinstance(pwm, str) else len(pwm)
        if width > length:
            raise InputError(f"marginalize: motif '{name}' ({width} bp) is longer than the "
                             f"backgrounds ({length} bp); use a longer window or drop the motif "
                             "(config key marginalize.motifs)")


def _summarise(deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sample sd and z = mean / standard error over the last axis of (..., B)."""
    count = deltas.shape[-1]
    mean = deltas.mean(axis=-1)
    sd = deltas.std(axis=-1, ddof=1) if count > 1 else np.zeros_like(mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, mean / (sd / np.sqrt(count)), 0.0)
    return mean, sd, z


def marginalize_motifs(model, backgrounds, motifs: Mapping, targets=None, target_names=None,
                       func="predict", instance: str = "consensus", random_state=0,
                       batch_size: int = 256, device="auto", alt_ids: Mapping | None = None,
                       verbose=None, **func_kwargs) -> pd.DataFrame:
    """Marginalize every motif of a database against one set of backgrounds.

    Each motif is substituted at the centre of every background (consensus, or one sampled
    instance per background) and the model's change is summarised per target. Predictions on
    the plain backgrounds are computed once; the edited sequences are built and predicted a
    chunk of motifs at a time (memory bounded by ``_MAX_CHUNK_SEQUENCES`` sequences), so all of
    JASPAR CORE vertebrates x 100 backgrounds is one pass of ~88,000 predictions.

    Parameters
    ----------
    model : torch.nn.Module
        Returns (N, T) (see :func:`motifscope.models.load_model`).
    backgrounds : array or tensor, shape (B, 4, L)
        From :func:`make_backgrounds`.
    motifs : mapping motif id -> (4, w) PWM (or string)
        E.g. a :class:`motifscope.io.MotifSet`; alternate names come from its ``alt_id``.
    targets : mapping name -> output index, or list of output indices, optional
        Which outputs to report (default all), e.g. the workflow's ``targets`` config.
    target_names : list of str, optional
        One name per model output (default ``target_0..``), when ``targets`` is not a mapping.
    func : {"predict", "deep_lift_shap"}, default "predict"
        With ``deep_lift_shap`` the table also holds the change in attribution summed over
        the motif span (``attr_delta_mean``, ``attr_delta_sd``), one attribution pass per
        target in ``targets``.
    instance : {"consensus", "sampled"}, default "consensus"
    random_state : int, default 0
        Seeds sampled instances (per motif, by its id) and the attribution references.
    batch_size : int, default 256
    device : str, default "auto"
    alt_ids : mapping id -> name, optional
        Overrides the names taken from ``motifs``.
    verbose : bool, optional
        Progress bar over motif chunks.
    **func_kwargs
        Passed to ``deep_lift_shap`` (e.g. ``n_shuffles``).

    Returns
    -------
    pandas.DataFrame
        One row per (target, motif): motif, motif_alt_id, target, delta_mean, delta_sd
        (sample sd over backgrounds), n (backgrounds), z (mean / standard error), plus
        attr_delta_mean, attr_delta_sd for attributions; rows of each target sorted by
        delta_mean, largest first (targets in the order given).
    """
    if func not in FUNC_NAMES:
        raise InputError(f"marginalize: func '{func}' is unknown; use one of "
                         f"{', '.join(FUNC_NAMES)} (config key marginalize.func)")
    if instance not in INSTANCE_KINDS:
        raise InputError(f"marginalize: instance '{instance}' is unknown; use one of "
                         f"{', '.join(INSTANCE_KINDS)} (config key marginalize.instance)")
    backgrounds = as_tensor(backgrounds)
    if backgrounds.ndim != 3 or backgrounds.shape[1] != 4 or backgrounds.shape[0] == 0:
        raise InputError(f"marginalize: backgrounds must be a non-empty (B, 4, L) one-hot array, "
                         f"got shape {tuple(backgrounds.shape)}")
    if not motifs:
        raise InputError("marginalize: no motifs to marginalize (config key marginalize.motifs)")
    n_backgrounds, _, length = backgrounds.shape
    _check_widths(motifs, length)
    names = list(motifs)
    instances = {name: motif_instances(motifs[name], n_backgrounds, instance, random_state, name)
                 for name in names}

    before = _as_2d(predict(model, backgrounds, batch_size=batch_size, device=device,
                            verbose=False)).numpy()
    check_finite(before, "marginalize", describe=lambda i: f"background sequence {i}")
    target_names, targets = _resolve_targets(targets, target_names, before.shape[1])
    deltas = np.empty((len(names), before.shape[1], n_backgrounds))
    attr_deltas = np.empty((len(names), len(targets), n_backgrounds)) if func != "predict" else None
    attr_before = _span_attributions(model, backgrounds, None, targets, random_state, batch_size,
                                     device, func_kwargs) if attr_deltas is not None else None

    chunk_size = max(1, _MAX_CHUNK_SEQUENCES // n_backgrounds)
    chunks = [names[i:i + chunk_size] for i in range(0, len(names), chunk_size)]
    first = 0
    for chunk in progress(chunks, desc="marginalize", unit="chunk", verbose=verbose):
        edited = _edited_chunk(backgrounds, chunk, instances)
        after = _as_2d(predict(model, edited, batch_size=batch_size, device=device,
                               verbose=False)).numpy()
        check_finite(after, "marginalize", describe=lambda i, chunk=chunk: (
            f"background {i % n_backgrounds} with motif {chunk[i // n_backgrounds]!r}"))
        after = after.reshape(len(chunk), n_backgrounds, -1).transpose(0, 2, 1)
        deltas[first:first + len(chunk)] = after - before.T[None]
        if attr_deltas is not None:
            spans = [_centre_span(instances[name].shape[-1], length) for name in chunk]
            after_attr = _span_attributions(model, edited, spans, targets, random_state,
                                            batch_size, device, func_kwargs, n_backgrounds)
            for k, span in enumerate(spans):
                rows = slice(k * n_backgrounds, (k + 1) * n_backgrounds)
                base = attr_before[:, :, span[0]:span[1]].sum(axis=-1)  # (T', B)
                attr_deltas[first + k] = after_attr[:, rows] - base
        first += len(chunk)
    return _table(names, motifs, alt_ids, target_names, targets, deltas, attr_deltas)


def _centre_span(width: int, length: int) -> tuple[int, int]:
    start = length // 2 - width // 2
    return start, start + width


def _span_attributions(model, X, spans, targets, random_state, batch_size, device, kwargs,
                       n_backgrounds: int | None = None) -> np.ndarray:
    """Projected DeepLIFT/SHAP per target.

    With ``spans`` None: the per-position attribution (T', B, L) of the backgrounds.
    Otherwise: the attribution summed over each motif's span, (T', rows).
    """
    # references seeded by background index, so chunking across motifs changes nothing
    rows = as_tensor(X).shape[0]
    example_ids = np.arange(rows) if n_backgrounds is None else np.arange(rows) % n_backgrounds
    out = []
    for target in targets:
        attr = deep_lift_shap(model, X, target=target, random_state=random_state,
                              batch_size=batch_size, device=device, example_ids=example_ids,
                              **kwargs)
        per_position = as_tensor(attr).detach().cpu().double().sum(dim=1).numpy()  # (rows, L)
        if spans is None:
            out.append(per_position)
            continue
        sums = np.empty(per_position.shape[0])
        for k, (lo, hi) in enumerate(spans):
            rows = slice(k * n_backgrounds, (k + 1) * n_backgrounds)
            sums[rows] = per_position[rows, lo:hi].sum(axis=1)
        out.append(sums)
    return np.stack(out)


def _table(names, motifs, alt_ids, target_names, targets, deltas, attr_deltas) -> pd.DataFrame:
    mean, sd, z = _summarise(deltas)  # (M, T)
    if attr_deltas is not None:
        attr_mean, attr_sd, _ = _summarise(attr_deltas)
    alt = [_alt_id(motifs, alt_ids, name) for name in names]
    frames = []
    for k, (target_name, target) in enumerate(zip(target_names, targets)):
        frame = pd.DataFrame({"motif": names, "motif_alt_id": alt,
                              "target": target_name, "delta_mean": mean[:, target],
                              "delta_sd": sd[:, target], "n": deltas.shape[-1],
                              "z": z[:, target]})
        if attr_deltas is not None:
            frame["attr_delta_mean"] = attr_mean[:, k]
            frame["attr_delta_sd"] = attr_sd[:, k]
        frames.append(frame.sort_values("delta_mean", ascending=False, kind="stable"))
    return pd.concat(frames, ignore_index=True)


def _alt_id(motifs, alt_ids, name) -> str:
    if alt_ids and name in alt_ids:
        return str(alt_ids[name])
    getter = getattr(motifs, "alt_id", None)
    return getter(name) if callable(getter) else ""


# --------------------------------------------------------------------------------------
# plot
# --------------------------------------------------------------------------------------


def plot_marginalization(table: pd.DataFrame, target: str | None = None, top: int = 15,
                         ax=None):
    """Bar chart of the ``top`` largest and ``top`` most negative mean effects of one target.

    Parameters
    ----------
    table : DataFrame from :func:`marginalize_motifs`
    target : str, optional
        Which target's rows (default: the first target in the table).
    top : int, default 15
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt


    if target is None:
        target = table["target"].iloc[0]
    rows = table[table["target"] == target].sort_values("delta_mean", ascending=False)
    if len(rows) > 2 * top:
        rows = pd.concat([rows.head(top), rows.tail(top)])
    labels = [f"{m} {a}".strip() for m, a in zip(rows["motif"], rows["motif_alt_id"])]
    standard_error = rows["delta_sd"] / np.sqrt(rows["n"].clip(lower=1))
    with style():
        if ax is None:
            fig, ax = plt.subplots(figsize=(4.5, 0.18 * len(rows) + 1.0))
        else:
            fig = ax.figure
        positions = np.arange(len(rows))[::-1]
        colors = np.where(rows["delta_mean"] >= 0, "#B2182B", "#2166AC")
        ax.barh(positions, rows["delta_mean"], xerr=standard_error, color=colors,
                error_kw={"elinewidth": 0.6, "capsize": 0})
        ax.set_yticks(positions, labels, fontsize=6)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_xlabel("mean change in output (motif - background), +/- s.e.")
        ax.set_title(f"marginalization: {target} ({int(rows['n'].iloc[0])} backgrounds)")
    return fig
