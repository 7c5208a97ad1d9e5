"""Filter PWMs by the Basset and DanQ recipes (:func:`filter_pwms`); coordinates 0-based,
partial windows at padded edges never counted.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.filters._hooks import _batches, _evaluating, _fill_n, _Hooks
from motifscope.filters.layers import ALPHABET, first_layer, FirstLayer, METHOD_DEFAULTS, METHODS
from motifscope.io import MotifInfo, write_meme
from motifscope.plot import information_content
from motifscope.utils import resolve_device

log = logging.getLogger("motifscope.filters")


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
