"""The TF-MoDISco seqlet caller: windowed sums, a Laplace null fitted on the data, an
isotonic-regression FDR threshold, and greedy non-maximum suppression. Coordinates are
0-based half-open.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.seqlets._common import (
    TFMODISCO_COLUMNS,
    ShardSource,
    _as_track,
    _check_finite,
    _check_int,
    _iter_rows,
    _pick_device,
    _rows_per_batch,
)
from motifscope.seqlets.recursive import _empty_seqlets, _greedy_select, _span_sums
from motifscope.utils import progress


# ---------------------------------------------------------------------------------------
# the TF-MoDISco caller
# ---------------------------------------------------------------------------------------

_NULL_SAMPLES = 10_000
_MAX_THRESHOLD_VALUES = 1_000_000
_RANDOM_STATE = 1234


def _quantile(values: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``torch.quantile(values, q)`` (linear interpolation, same arithmetic) for any size:
    torch.quantile refuses inputs of more than 2**24 values."""
    ordered = torch.sort(values.reshape(-1))[0]
    ranks = q.to(values.dtype) * (ordered.numel() - 1)
    below = ranks.to(torch.long)
    above = ranks.ceil().to(torch.long)
    return torch.lerp(ordered[below], ordered[above], ranks - below.to(ranks.dtype))


def _histogram_mode(values: torch.Tensor) -> float:
    """The mode of the window sums, refined by a second 1000-bin histogram of the values
    strictly inside the most populated bin of the first (TF-MoDISco's estimate)."""
    hist, edges = torch.histogram(values, bins=1000)
    peak = int(torch.argmax(hist))
    left, right = edges[peak], edges[peak + 1]
    inside = values[(left < values) & (values < right)]
    if inside.numel() == 0:  # every value of the peak bin sits on an edge
        return (left + right).item() / 2
    hist, edges = torch.histogram(inside, bins=1000)
    peak = int(torch.argmax(hist))
    return (edges[peak] + edges[peak + 1]).item() / 2


def _laplace_null(values: torch.Tensor, n_samples: int = _NULL_SAMPLES,
                  random_state: int = _RANDOM_STATE) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples (float64) of a two-sided Laplace null fitted to the window sums: positive and
    negative samples. Each side's rate is the largest ``-log(1 - q) / |Q(q) - mu|`` over the
    quantiles q = 0.05..0.90 of that side, mu the histogram mode."""
    mu = _histogram_mode(values)
    pos, neg = values[values >= mu], values[values <= mu]
    # tangermeme's grid also has q = 0, whose term is 0 (or 0/0 = NaN when the smallest
    # value equals mu); leaving it out changes no rate that is a number
    q = torch.arange(1, 19) * 5.0 / 100
    lq = -torch.log(1 - q)
    inf = torch.tensor(float("inf"))
    pos_rate = torch.max(lq / (_quantile(pos, q) - mu)) if pos.numel() else inf
    neg_rate = torch.max(lq / torch.abs(_quantile(neg, 1 - q) - mu)) if neg.numel() else inf
    uniform = np.random.RandomState(random_state).uniform(size=(n_samples, 2))
    log_tail = torch.from_numpy(np.log(1 - uniform[:, 1]))  # numpy's log, as tangermeme
    uniform = torch.from_numpy(uniform)
    samples = torch.where(uniform[:, 0] < pos.numel() / values.numel(),
                          -log_tail / pos_rate + mu, mu + log_tail / neg_rate)
    return samples[samples >= 0], samples[samples < 0]


def _isotonic_fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, increasing: bool):
    """scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` fit, on scipy: sort by
    (x, y), merge x values closer than float64 resolution (weighted mean of y), pool
    adjacent violators, and keep the knots where the fit changes. Returns (knots, fit)."""
    from scipy.optimize import isotonic_regression

    order = np.lexsort((y, x))
    x, y, weight = x[order], y[order], weight[order]
    starts = _unique_starts(x, np.finfo(np.float64).resolution)
    w = np.add.reduceat(weight, starts)
    ux, uy = x[starts], np.add.reduceat(y * weight, starts) / w
    fit = np.asarray(isotonic_regression(uy, weights=w, increasing=increasing).x)
    keep = np.ones(fit.shape[0], dtype=bool)
    keep[1:-1] = (fit[1:-1] != fit[:-2]) | (fit[1:-1] != fit[2:])
    return ux[keep], fit[keep]


def _unique_starts(x: np.ndarray, eps: float) -> np.ndarray:
    """First index of each group of sorted x, a group running while ``x - x[first] < eps``."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(x) >= eps) + 1])
    ends = np.append(starts[1:], x.shape[0]) - 1
    wide = np.flatnonzero(x[ends] - x[starts] >= eps)  # chains of tiny steps: rare
    if wide.size == 0:
        return starts
    extra = []
    for g in wide:
        first = starts[g]
        for j in range(starts[g] + 1, ends[g] + 1):
            if x[j] - x[first] >= eps:
                extra.append(j)
                first = j
    return np.union1d(starts, extra)


def _isotonic_predict(knots: np.ndarray, fit: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The fitted isotonic function at t (clipped to the knots' range, linear in between)."""
    from scipy.interpolate import interp1d

    t = np.clip(t, knots[0], knots[-1])
    if knots.shape[0] == 1:
        return np.full(t.shape, fit[0])
    return interp1d(knots, fit, kind="linear", bounds_error=False)(t)


def _isotonic_threshold(values: torch.Tensor, null: torch.Tensor, increasing: bool,
                        target_fdr: float, min_frac_neg: float = 0.95) -> float:
    """The smallest-magnitude window sum whose estimated precision against the null reaches
    ``1 - target_fdr`` (TF-MoDISco's isotonic rule); +-inf when there are no values."""
    if values.numel() == 0:
        return math.inf if increasing else -math.inf
    values = torch.sort(values, descending=not increasing)[0]
    n1, n2 = values.numel(), null.numel()
    x = np.concatenate([values.numpy().astype(np.float64), null.numpy().astype(np.float64)])
    y = np.concatenate([np.ones(n1), np.zeros(n2)])
    # the null's weight is a float32 in tangermeme (torch.ones(n2) * w)
    weight = np.concatenate([np.ones(n1), np.full(n2, float(np.float32(n1 / max(n2, 1))))])
    knots, fit = _isotonic_fit(x, y, weight, increasing)
    end = knots[0] if increasing else knots[-1]
    min_precision = max(float(_isotonic_predict(knots, fit, np.array([end]))[0]), 1e-7)
    implied_frac_neg = -1 / (1 - (1 / min_precision)) if min_precision != 1 else math.inf
    implied_frac_neg = max(min(1.0, implied_frac_neg), min_frac_neg)
    y_hat = torch.from_numpy(_isotonic_predict(knots, fit, values.numpy().astype(np.float64)))
    precision = torch.clamp(1 + implied_frac_neg * (1 - 1 / torch.clamp(y_hat, min=1e-7)),
                            0.0, 1.0)
    precision[-1] = 1
    return values[precision >= (1 - target_fdr)][0].item()


def _subsample(values: torch.Tensor) -> torch.Tensor:
    """tangermeme's subsample of the window sums for the isotonic fit (1e6, seeded)."""
    if values.numel() <= _MAX_THRESHOLD_VALUES:
        return values
    return torch.from_numpy(np.random.RandomState(_RANDOM_STATE).choice(
        a=values.numpy(), size=_MAX_THRESHOLD_VALUES, replace=False))


def _tfmodisco_thresholds(null_values: torch.Tensor, values: torch.Tensor, target_fdr: float,
                          min_passing_frac: float, max_passing_frac: float
                          ) -> tuple[float, float]:
    """Positive and negative window-sum thresholds (CPU tensors in, floats out).

    ``null_values`` are the window sums the Laplace null is fitted on, ``values`` those the
    isotonic regression and the passing fractions use (a subsample when there are many).
    """
    pos_values, neg_values = values[values >= 0], values[values < 0]
    pos_null, neg_null = _laplace_null(null_values)
    pos = _isotonic_threshold(pos_values, pos_null, True, target_fdr)
    neg = _isotonic_threshold(neg_values, neg_null, False, target_fdr)
    values = torch.cat([pos_values, neg_values])
    frac_passing = float(((values >= pos).sum() + (values <= neg).sum()) / values.numel())
    magnitude = values.abs()
    if frac_passing < min_passing_frac:
        pos = _quantile(magnitude, torch.tensor(1 - min_passing_frac)).item()
        neg = -pos
    if frac_passing > max_passing_frac:
        pos = _quantile(magnitude, torch.tensor(1 - max_passing_frac)).item()
        neg = -pos
    return pos, neg


def _window_sums(X: torch.Tensor, window_size: int) -> torch.Tensor:
    return X.unfold(-1, window_size, 1).sum(dim=-1)


def _extract_windows(X: torch.Tensor, window_sums: torch.Tensor, pos: float, neg: float,
                     window_size: int, flank: int) -> dict[str, torch.Tensor]:
    """Greedy non-maximum suppression of the passing windows of one batch: per example, take
    the window with the largest |sum| (ties: leftmost), suppress every window within
    ``window_size // 2 + flank`` of it, repeat. Windows within ``flank`` of either end are
    never taken (their flanked seqlet would leave the sequence)."""
    n, d = window_sums.shape
    passing = (window_sums >= pos) | (window_sums <= neg)
    if flank > 0:
        passing[:, :flank] = False
        passing[:, -flank:] = False
    example, p = torch.nonzero(passing, as_tuple=True)
    score = window_sums[example, p].abs()
    suppress = int(0.5 * window_size) + flank
    stride = d + suppress + 1  # windows of different examples never suppress each other
    key = example * stride + p
    keep = _greedy_select(key, -score, reach=suppress)
    example, p, score = example[keep], p[keep], score[keep]
    order = torch.argsort(p, stable=True)
    order = order[torch.argsort(-score[order], stable=True)]
    order = order[torch.argsort(example[order], stable=True)]
    example, p = example[order], p[order]
    return {"example": example, "start": p - flank, "end": p + window_size + flank,
            "attribution": _span_sums(X, example, p, p + window_size)}


def _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac, max_passing_frac,
                     length: int) -> tuple[int, int]:
    window_size = _check_int(window_size, "window_size", 1)
    flank = _check_int(flank, "flank", 0)
    if window_size > length:
        raise InputError(f"seqlets window_size ({window_size}) is longer than the sequences "
                         f"({length} bp); lower window_size")
    if not 0 < target_fdr < 1:
        raise InputError(f"seqlets target_fdr must be strictly between 0 and 1; got {target_fdr!r}")
    if not 0 <= min_passing_frac <= max_passing_frac <= 1:
        raise InputError("seqlets min_passing_frac and max_passing_frac must satisfy "
                         f"0 <= min <= max <= 1; got {min_passing_frac!r} and {max_passing_frac!r}")
    return window_size, flank


def tfmodisco_seqlets(X, window_size: int = 21, flank: int = 10, target_fdr: float = 0.2,
                      min_passing_frac: float = 0.03, max_passing_frac: float = 0.2,
                      device=None, batch_size: int | None = None) -> pd.DataFrame:
    """Call seqlets with TF-MoDISco's procedure (as ported by tangermeme), vectorised.

    1. Window sums ``S[i, p] = X[i, p:p+window_size].sum()``, shape (N, L - window_size + 1).
    2. A two-sided Laplace null fitted on all window sums: the mode mu from two nested
       1000-bin histograms, each side's rate the steepest over its quantiles 0.05..0.90;
       10,000 samples drawn with a fixed seed (1234).
    3. Per sign, an isotonic regression of "real (1) vs null (0)" on the window sums (a
       seeded subsample of 1e6 when there are more) gives a precision for each value; the
       threshold is the smallest magnitude reaching precision ``1 - target_fdr``. If the
       windows passing are fewer than ``min_passing_frac`` or more than
       ``max_passing_frac`` of all, both thresholds become the matching quantile of |S|.
    4. Per example, greedily take the passing window with the largest |S| and suppress every
       window within ``window_size // 2 + flank`` of it; each taken window at p gives the
       seqlet ``[p - flank, p + window_size + flank)``.

    Deviations from tangermeme 1.6's ``tfmodisco_seqlets``:

    - *Threshold choice.* tangermeme takes the first passing value in the (unsorted, or
      randomly subsampled) order of the window sums, so its threshold is an arbitrary
      passing value, usually above the smallest one: it calls fewer seqlets than its FDR
      target allows. Here the values are sorted first (ascending for the positive side,
      descending for the negative), as in TF-MoDISco (modisco-lite), so the threshold is
      the smallest passing magnitude. With that one change the two agree.
    - *Large inputs.* Quantiles are computed with torch.quantile's arithmetic but without its
      limit of 2**24 values, which makes tangermeme fail on large data sets.
    - *Degenerate inputs.* Constant windows sums give no seqlets (tangermeme fails), and a
      side with no values gets an infinite threshold. The quantile grid leaves out q = 0,
      whose term only matters when it is NaN.
    - The unused "weak threshold" is not computed; scikit-learn is replaced by scipy's
      isotonic regression with scikit-learn's tie handling and interpolation.
    - Attributions are float64 sums (tangermeme sums in the track's dtype).

    Parameters
    ----------
    X : numpy array or torch tensor, shape (N, L)
        Projected per-position attributions.
    window_size : int, default 21
    flank : int, default 10
        Added on each side of a window; windows whose flanked span would leave the sequence
        are not called.
    target_fdr : float, default 0.2
    min_passing_frac, max_passing_frac : float, default 0.03 and 0.2
    device : str or torch.device, optional
        Default: the device of X. The null and the isotonic fit always run on the CPU.
    batch_size : int, optional
        Examples per batch in the suppression step.

    Returns
    -------
    pandas.DataFrame
        Columns example_idx, start, end (0-based half-open, within the example, seqlets
        ``window_size + 2 * flank`` long), attribution (float64 sum over the central
        window); per example in order of decreasing |window sum|. Both signs are included.
    """
    X = _as_track(X)
    window_size, flank = _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac,
                                          max_passing_frac, X.shape[1])
    dev = _pick_device(X, device)
    X = X.to(dev)
    lo, hi = torch.aminmax(X)
    _check_finite(lo, hi, "X")
    sums = _window_sums(X, window_size)
    values = sums.reshape(-1).cpu()
    if bool(values.min() == values.max()):
        return _empty_tfmodisco()
    pos, neg = _tfmodisco_thresholds(values, _subsample(values), target_fdr,
                                     min_passing_frac, max_passing_frac)
    rows = _rows_per_batch(X.shape[1], dev, batch_size)
    parts = []
    for first, batch in _iter_rows(X, rows):
        found = _extract_windows(batch, sums[first:first + batch.shape[0]], pos, neg,
                                 window_size, flank)
        found["example"] = found["example"] + first
        parts.append({k: v.cpu() for k, v in found.items()})
    return _tfmodisco_frame(parts)


def _empty_tfmodisco() -> pd.DataFrame:
    return _empty_seqlets()[TFMODISCO_COLUMNS]


def _tfmodisco_frame(parts: list[dict[str, torch.Tensor]]) -> pd.DataFrame:
    if not parts:
        return _empty_tfmodisco()
    cols = {k: torch.cat([p[k] for p in parts]).numpy() for k in parts[0]}
    return pd.DataFrame({"example_idx": cols["example"].astype(np.int64),
                         "start": cols["start"].astype(np.int64),
                         "end": cols["end"].astype(np.int64),
                         "attribution": cols["attribution"]})


def _streamed_tfmodisco(source: ShardSource, n: int, length: int, device, batch_size,
                        window_size: int = 21, flank: int = 10, target_fdr: float = 0.2,
                        min_passing_frac: float = 0.03, max_passing_frac: float = 0.2
                        ) -> pd.DataFrame:
    window_size, flank = _check_tfmodisco(window_size, flank, target_fdr, min_passing_frac,
                                          max_passing_frac, length)
    n_windows = length - window_size + 1
    total = n * n_windows
    picked = None
    if total > _MAX_THRESHOLD_VALUES:
        # Generator.choice draws without replacement in O(size); RandomState.choice (what
        # tangermeme uses on the values themselves) would permute all the windows
        picked = np.sort(np.random.default_rng(_RANDOM_STATE).choice(
            total, _MAX_THRESHOLD_VALUES, replace=False))
    kept = []
    for first, X in progress(source(), desc="seqlets: window sums", unit="shard"):
        lo, hi = torch.aminmax(X)
        _check_finite(lo, hi, "the attribution track")
        sums = _window_sums(X.to(device), window_size).reshape(-1).cpu()
        if picked is None:
            kept.append(sums)
        else:
            base = first * n_windows
            sel = picked[(picked >= base) & (picked < base + sums.numel())] - base
            kept.append(sums[torch.from_numpy(sel)])
    values = torch.cat(kept)
    if bool(values.min() == values.max()):
        return _empty_tfmodisco()
    pos, neg = _tfmodisco_thresholds(values, values, target_fdr, min_passing_frac,
                                     max_passing_frac)
    rows = _rows_per_batch(length, device, batch_size)
    parts = []
    for first, shard in progress(source(), desc="seqlets: calling", unit="shard"):
        for offset, X in _iter_rows(shard.to(device), rows):
            found = _extract_windows(X, _window_sums(X, window_size), pos, neg, window_size,
                                     flank)
            found["example"] = found["example"] + first + offset
            parts.append({k: v.cpu() for k, v in found.items()})
    return _tfmodisco_frame(parts)
