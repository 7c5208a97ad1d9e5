"""Default DeepLIFT/SHAP references for sequences that may contain N.

A real peak window can hold N (assembly gaps, or padding where a window runs off a contig
end; both are all-zero columns in the one-hot layout). Such a column carries no base, so
it cannot be part of a dinucleotide shuffle. :func:`shuffle_keeping_n` shuffles the bases
of every sequence and leaves each N column where it is in *every* reference: the
difference ``x - ref`` is then zero there, the column gets no attribution (its projected
attribution is exactly zero), and the rest of the window is explained as usual. This is
how tangermeme and bpnet-lite treat N when the references are given with the N kept in
place.
"""

from __future__ import annotations

import warnings

import torch

from motifscope.errors import InputError
from motifscope.ersatz import dinucleotide_shuffle

# Fewer bases than this cannot be dinucleotide-shuffled (first and last are kept).
_MIN_BASES = 3


def n_columns(X: torch.Tensor) -> torch.Tensor:
    """Boolean (N, L): True where a column of the one-hot ``X`` (N, 4, L) is all zero."""
    return X.amax(dim=1) == 0


def shuffle_keeping_n(X, n: int, random_state: int, example_ids) -> torch.Tensor:
    """Dinucleotide shuffles of ``X`` with every N column kept in place.

    Sequences without N get :func:`motifscope.ersatz.dinucleotide_shuffle` (deeplift
    scheme), identical to calling it directly. For a sequence with N, its bases are taken
    out in order (the N columns removed), that base string is shuffled by the same
    function with the same seed and example id, and the shuffled bases are put back into
    the non-N positions; so the dinucleotide counts of the base string are kept (pairs
    across an N run count as adjacent) and the first and last bases stay.

    A sequence with fewer than 3 bases, or whose base string has no shuffle other than
    itself (e.g. a homopolymer), cannot be shuffled; its references are copies of the
    sequence (zero attributions) and a RuntimeWarning names it. Windows that are mostly N
    are better dropped before attribution (config ``loci.max_n_fraction``).

    Parameters
    ----------
    X : torch.Tensor, shape (B, 4, L)
        One-hot sequences; N is an all-zero column.
    n : int
        Shuffles per sequence.
    random_state : int
        Seed; shuffle ``j`` of the sequence with id ``i`` depends only on
        ``(random_state, i, j)``.
    example_ids : torch.Tensor of int, shape (B,)
        Global ids of the sequences (seed their shuffles).

    Returns
    -------
    torch.Tensor, shape (B, n, 4, L)
        Dtype and device of ``X``.
    """
    ids = torch.as_tensor(example_ids, dtype=torch.int64).reshape(-1)
    missing = n_columns(X)
    with_n = missing.any(dim=1)
    if not bool(with_n.any()):
        return dinucleotide_shuffle(X, n=n, random_state=random_state, example_ids=ids)
    refs = X.unsqueeze(1).repeat(1, n, 1, 1)
    clean = (~with_n).nonzero().flatten()
    if len(clean):
        refs[clean] = dinucleotide_shuffle(X[clean], n=n, random_state=random_state,
                                           example_ids=ids[clean])
    for row in with_n.nonzero().flatten().tolist():
        keep = (~missing[row]).nonzero().flatten()
        if len(keep) < _MIN_BASES:
            _unshuffled(int(ids[row]), f"it has only {len(keep)} bases outside N")
            continue
        bases = X[row][:, keep].unsqueeze(0)
        try:
            shuffled = dinucleotide_shuffle(bases, n=n, random_state=random_state,
                                            example_ids=ids[row:row + 1])
        except InputError as err:
            _unshuffled(int(ids[row]), str(err))
            continue
        refs[row][:, :, keep] = shuffled[0]
    return refs


def _unshuffled(example_id: int, why: str) -> None:
    warnings.warn(f"deep_lift_shap: sequence {example_id} cannot be dinucleotide-shuffled "
                  f"({why}); its references are copies of it, so its attributions are zero. "
                  "Drop such windows with loci.max_n_fraction", RuntimeWarning, stacklevel=4)
