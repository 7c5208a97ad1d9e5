"""N content of peak windows: count windows with N, drop those above ``loci.max_n_fraction``.

N (an all-zero one-hot column) comes from assembly gaps and from the padding of windows
that run off a contig end (``loci.off_chrom: pad``); both count here. Windows that are
kept are attributed with every N held in place in the references
(:func:`motifscope.attribution.references.shuffle_keeping_n`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.io.loci import iter_onehot


def n_fractions(X: np.ndarray) -> np.ndarray:
    """Fraction of N columns (all-zero) per window: (n, 4, L) one-hot -> (n,) float64."""
    X = np.asarray(X)
    return (X.max(axis=1) == 0).mean(axis=1) if X.shape[-1] else np.zeros(len(X))


def drop_n_windows(loci: pd.DataFrame, fasta, max_n_fraction: float = 1.0,
                   chunk_size: int = 256) -> tuple[pd.DataFrame, dict]:
    """Drop the windows whose fraction of N exceeds ``max_n_fraction``.

    Parameters
    ----------
    loci : DataFrame
        From :func:`motifscope.io.plan_loci` (columns idx, chrom, start, end, ...).
    fasta : pyfaidx.Fasta
        The genome (from :func:`motifscope.io.open_fasta`).
    max_n_fraction : float in [0, 1], default 1.0
        Windows with more N than this fraction of their length are dropped; 1.0 keeps all.
    chunk_size : int, default 256
        Windows read at a time (memory).

    Returns
    -------
    loci : DataFrame
        The kept windows, ``idx`` renumbered 0..n-1, order kept.
    stats : dict
        ``n_with_n`` (windows with at least one N, before dropping), ``n_dropped_n``,
        ``max_n_fraction``.

    Raises
    ------
    InputError
        ``max_n_fraction`` outside [0, 1], or every window dropped.
    """
    if not 0 <= float(max_n_fraction) <= 1:
        raise InputError(f"config key loci.max_n_fraction: {max_n_fraction} must be between "
                         "0 and 1")
    fractions = np.concatenate([n_fractions(X) for _, X in
                                iter_onehot(loci, fasta, chunk_size, verbose=False)]
                               or [np.zeros(0)])
    keep = fractions <= float(max_n_fraction)
    stats = {"n_with_n": int((fractions > 0).sum()), "n_dropped_n": int((~keep).sum()),
             "max_n_fraction": float(max_n_fraction)}
    if len(loci) and not keep.any():
        raise InputError(f"every one of the {len(loci)} windows has more than "
                         f"{max_n_fraction:.0%} N; raise loci.max_n_fraction or check that "
                         "the peaks belong to this genome")
    kept = loci[keep].reset_index(drop=True)
    kept["idx"] = np.arange(len(kept))
    return kept, stats
