"""Ranking metrics without a scikit-learn dependency: auROC and average precision."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from motifscope.utils import as_numpy


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties).

    Parameters
    ----------
    labels : array of {0, 1}, shape (n,)
    scores : array of float, shape (n,)

    Returns
    -------
    float
        NaN when only one class is present.
    """
    y = as_numpy(labels).astype(bool).ravel()
    s = as_numpy(scores).astype(np.float64).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels, scores) -> float:
    """Average precision (area under the precision-recall curve, step interpolation).

    Ties are broken pessimistically-neutrally by grouping equal scores, as scikit-learn does.

    Returns
    -------
    float
        NaN when there are no positives.
    """
    y = as_numpy(labels).astype(np.float64).ravel()
    s = as_numpy(scores).astype(np.float64).ravel()
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    # evaluate only at the last index of each block of tied scores
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
