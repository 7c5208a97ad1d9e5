"""DragoNN's positional precision-recall: per-position scores of a method, window labels from
the planted instances, and the area under the precision-recall curve per motif.

1. every method's scores are collapsed to one value per position (:func:`position_scores`:
   ``max |ISM|`` over the four bases for ISM, the largest projected contribution for
   DeepLIFT, the PWM log-odds for the motif scan of :func:`motif_scan_scores`);
2. for every planted motif of width m, every window of m bp is scored by the sum of the
   position scores inside it; a window is positive when it covers at least 80 % of a planted
   instance, ambiguous (dropped) when it covers part of one, negative otherwise; only
   sequences that hold the motif contribute (:func:`window_labels`);
3. windows of all sequences are pooled and the area under the precision-recall curve is
   reported per motif (:func:`positional_prc`).

All coordinates are 0-based, half-open.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.metrics import average_precision as _ap
from motifscope.utils import as_numpy


METHOD_COLLAPSE = {"ism": "max_abs", "deeplift_shap": "max", "scan": "none"}
PRC_COLUMNS = ["method", "motif", "n_sequences", "n_instances", "n_windows", "n_positive",
               "auprc", "average_precision", "baseline"]


# --- ground truth scan -------------------------------------------------------------------


def pwm_log_odds(pwm, gc_fraction: float = 0.4, floor: float = 1e-4) -> np.ndarray:
    """Natural-log odds of a PWM against DragoNN's GC background.

    Parameters
    ----------
    pwm : array, shape (4, w)
        Probabilities, rows A, C, G, T.
    gc_fraction : float, default 0.4
        Background ``0.5 * [1 - gc, gc, gc, 1 - gc]``.
    floor : float, default 1e-4
        Probabilities are clipped below at this value so that zeros give finite scores.

    Returns
    -------
    numpy.ndarray of float64, shape (4, w)
    """
    pwm = np.asarray(as_numpy(pwm), dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] == 0:
        raise InputError(f"a motif must be a (4, w) matrix, got shape {pwm.shape}")
    if not 0 < gc_fraction < 1:
        raise InputError(f"gc_fraction must be in (0, 1), got {gc_fraction}")
    background = 0.5 * np.array([1 - gc_fraction, gc_fraction, gc_fraction, 1 - gc_fraction])
    return np.log(np.clip(pwm, floor, None)) - np.log(background)[:, None]


def motif_scan_scores(X, pwm, gc_fraction: float = 0.4, both_strands: bool = True,
                      floor: float = 1e-4, batch_size: int = 1024, device="cpu") -> np.ndarray:
    """Per-position motif scan scores, DragoNN's ground-truth-like baseline.

    The score at position i is the log-odds of the w bp window starting at
    ``i - (w - 1) // 2`` (the window centred on i, zero outside the sequence: SciPy's
    ``correlate2d(mode="same")``); with ``both_strands`` the larger of the PWM's and its
    reverse complement's score.

    Parameters
    ----------
    X : array or tensor, shape (N, 4, L)
        One-hot sequences (N columns are all zero and score 0).
    pwm : array, shape (4, w)
    gc_fraction : float, default 0.4
    both_strands : bool, default True
    floor : float, default 1e-4
        See :func:`pwm_log_odds`.
    batch_size : int, default 1024
        Sequences per convolution.
    device : str or torch.device, default "cpu"

    Returns
    -------
    numpy.ndarray of float32, shape (N, L)
    """
    weights = pwm_log_odds(pwm, gc_fraction, floor)
    kernels = [weights]
    if both_strands:
        kernels.append(weights[::-1, ::-1])
    kernel = torch.as_tensor(np.stack(kernels), dtype=torch.float64, device=device)
    width = weights.shape[1]
    left, right = (width - 1) // 2, width - 1 - (width - 1) // 2
    X = torch.as_tensor(as_numpy(X))
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"X must be one-hot of shape (N, 4, L), got {tuple(X.shape)}")
    out = np.empty((X.shape[0], X.shape[2]), dtype=np.float32)
    for lo in range(0, X.shape[0], batch_size):
        batch = X[lo:lo + batch_size].to(device=device, dtype=torch.float64)
        batch = torch.nn.functional.pad(batch, (left, right))
        scores = torch.nn.functional.conv1d(batch, kernel).amax(dim=1)
        out[lo:lo + batch_size] = scores.cpu().numpy()
    return out


# --- per-position scores and window labels -----------------------------------------------


def position_scores(attributions, collapse: str = "max") -> np.ndarray:
    """Collapse (N, 4, L) scores to one value per position, as DragoNN does.

    Parameters
    ----------
    attributions : array or tensor, shape (N, 4, L) or (N, L)
        Attributions (hypothetical or projected), or scores that are already per position.
    collapse : {"max", "max_abs", "sum", "none"}, default "max"
        ``max``: the largest value over the bases (for projected DeepLIFT, the observed
        base's contribution when positive, else 0); ``max_abs``: the largest absolute value
        (DragoNN's ``max |ISM|``); ``sum``: the sum over bases (the observed base's value for
        projected scores); ``none``: the input must already be (N, L).

    Returns
    -------
    numpy.ndarray of float64, shape (N, L)
    """
    scores = np.asarray(as_numpy(attributions), dtype=np.float64)
    if collapse == "none":
        if scores.ndim != 2:
            raise InputError(f"collapse='none' needs (N, L) scores, got shape {scores.shape}")
        return scores
    if scores.ndim != 3 or scores.shape[1] != 4:
        raise InputError(f"attributions must have shape (N, 4, L), got {scores.shape}")
    if collapse == "max":
        return scores.max(axis=1)
    if collapse == "max_abs":
        return np.abs(scores).max(axis=1)
    if collapse == "sum":
        return scores.sum(axis=1)
    raise InputError(f"collapse must be one of max, max_abs, sum, none; got '{collapse}'")


def window_sums(scores: np.ndarray, width: int, stride: int = 1) -> np.ndarray:
    """Sum of ``scores`` over every window of ``width`` positions.

    Parameters
    ----------
    scores : array, shape (N, L)
    width : int
    stride : int, default 1
        Distance between consecutive window starts.

    Returns
    -------
    numpy.ndarray, shape (N, n_windows)
        Window k starts at ``k * stride``; ``n_windows = (L - width) // stride + 1``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    prefix = np.concatenate([np.zeros((len(scores), 1)), np.cumsum(scores, axis=1)], axis=1)
    starts = np.arange(0, scores.shape[1] - width + 1, stride)
    return prefix[:, starts + width] - prefix[:, starts]


def window_labels(instances: pd.DataFrame, n_sequences: int, length: int, width: int,
                  coverage: float = 0.8, stride: int = 1) -> np.ndarray:
    """DragoNN's window labels for one motif.

    Parameters
    ----------
    instances : pandas.DataFrame
        Planted instances of the motif: example_idx, start, end.
    n_sequences, length : int
    width : int
        Window width (the motif's).
    coverage : float, default 0.8
        A window is positive (1) when it covers at least ``coverage * (end - start)`` bases
        of an instance, ambiguous (0.5) when it covers fewer but at least one, otherwise 0;
        labels of several instances combine by maximum.
    stride : int, default 1

    Returns
    -------
    numpy.ndarray of float64, shape (n_sequences, n_windows)
    """
    starts = np.arange(0, length - width + 1, stride)
    labels = np.zeros((n_sequences, len(starts)))
    for row in instances.itertuples(index=False):
        size = row.end - row.start
        overlap = np.clip(np.minimum(starts + width, row.end) - np.maximum(starts, row.start),
                          0, None)
        label = np.where(overlap >= coverage * size, 1.0, np.where(overlap > 0, 0.5, 0.0))
        labels[row.example_idx] = np.maximum(labels[row.example_idx], label)
    return labels


# --- precision-recall --------------------------------------------------------------------


def precision_recall_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold (scikit-learn's convention).

    Parameters
    ----------
    labels : array of {0, 1}, shape (n,)
    scores : array of float, shape (n,)

    Returns
    -------
    precision, recall : numpy.ndarray
        By decreasing recall, ending with the point (recall 0, precision 1).
    thresholds : numpy.ndarray
        Increasing; one fewer than precision and recall.
    """
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.sum() == 0:
        raise InputError("precision_recall_curve needs at least one positive label")
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    return (np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], s[last][::-1])


def pr_auc(labels, scores) -> float:
    """Area under the precision-recall curve by the trapezoidal rule (DragoNN's auPRC,
    ``sklearn.metrics.auc(recall, precision)``); NaN without positives."""
    if np.asarray(labels).sum() == 0:
        return float("nan")
    precision, recall, _ = precision_recall_curve(labels, scores)
    return float(-np.trapezoid(precision, recall))


def average_precision(labels, scores) -> float:
    """Average precision (step-wise area); NaN without positives."""
    return _ap(labels, scores)


# --- positional PRC ----------------------------------------------------------------------


def _check_embeddings(embeddings: pd.DataFrame, n: int, length: int) -> pd.DataFrame:
    needed = {"example_idx", "motif", "start", "end"}
    if not needed <= set(embeddings.columns):
        raise InputError(f"embeddings need columns {sorted(needed)}, got "
                         f"{list(embeddings.columns)}")
    table = embeddings.copy()
    for column in ("example_idx", "start", "end"):
        table[column] = table[column].astype(np.int64)
    bad = (table["example_idx"] < 0) | (table["example_idx"] >= n) | (table["start"] < 0) | (
        table["end"] > length) | (table["end"] <= table["start"])
    if bad.any():
        row = table[bad].iloc[0]
        raise InputError(f"embedding {dict(row)} lies outside the {n} sequences of {length} bp")
    return table


def positional_labels_and_scores(embeddings: pd.DataFrame, scores, motif: str,
                                 coverage: float = 0.8, stride: int = 1):
    """Pooled window labels and window scores of one motif (ambiguous windows dropped).

    Parameters
    ----------
    embeddings : pandas.DataFrame
        example_idx, motif, start, end of every planted instance.
    scores : array, shape (N, L)
        Per-position scores (see :func:`position_scores`).
    motif : str
    coverage : float, default 0.8
    stride : int, default 1

    Returns
    -------
    labels, window_scores : numpy.ndarray, shape (n_windows,)
        Only windows of sequences holding the motif, in sequence then position order.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n, length = scores.shape
    table = _check_embeddings(embeddings, n, length)
    rows = table[table["motif"] == motif]
    if rows.empty:
        raise InputError(f"no embedding of motif '{motif}'")
    width = int((rows["end"] - rows["start"]).max())
    holding = np.unique(rows["example_idx"].to_numpy())
    local = rows.assign(example_idx=np.searchsorted(holding, rows["example_idx"]))
    labels = window_labels(local, len(holding), length, width, coverage, stride)
    sums = window_sums(scores[holding], width, stride)
    keep = labels != 0.5
    return labels[keep], sums[keep]


def positional_prc(embeddings: pd.DataFrame, scores, coverage: float = 0.8, stride: int = 1,
                   method: str = "") -> pd.DataFrame:
    """DragoNN's positional precision-recall of one method's scores, per planted motif.

    Parameters
    ----------
    embeddings : pandas.DataFrame
        Planted instances: example_idx, motif, start, end (0-based, half-open).
    scores : array, shape (N, L)
        Per-position scores of the N sequences.
    coverage : float, default 0.8
    stride : int, default 1
    method : str, default ""
        Written in the ``method`` column.

    Returns
    -------
    pandas.DataFrame
        One row per motif: method, motif, n_sequences (holding the motif), n_instances,
        n_windows (unambiguous), n_positive, auprc (trapezoidal, as DragoNN),
        average_precision, baseline (the positive fraction: a random ranking's auPRC).
    """
    rows = []
    motifs = sorted(set(embeddings["motif"]))
    for motif in motifs:
        labels, sums = positional_labels_and_scores(embeddings, scores, motif, coverage,
                                                    stride)
        of_motif = embeddings[embeddings["motif"] == motif]
        rows.append((method, motif, of_motif["example_idx"].nunique(), len(of_motif),
                     len(labels), int(labels.sum()), pr_auc(labels, sums),
                     average_precision(labels, sums),
                     float(labels.mean()) if len(labels) else float("nan")))
    return pd.DataFrame(rows, columns=PRC_COLUMNS)
