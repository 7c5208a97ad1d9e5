"""One-hot encoding of DNA, its inverse, and reverse complements.

Conventions used across motifscope: a sequence is a ``(4, L)`` array with rows A, C, G, T;
a batch is ``(N, 4, L)``; N (and every IUPAC ambiguity code) is an all-zero column.
"""

from __future__ import annotations

import numpy as np
import torch

from motifscope.errors import InputError

ALPHABET = "ACGT"
# IUPAC ambiguity codes: read from genomes without complaint, encoded like N (all zeros).
AMBIGUOUS = "NRYKMSWBDHV"

_LOOKUP = np.full(256, -2, dtype=np.int8)
for _i, _c in enumerate(ALPHABET):
    _LOOKUP[ord(_c)] = _i
    _LOOKUP[ord(_c.lower())] = _i
for _c in AMBIGUOUS:
    _LOOKUP[ord(_c)] = -1
    _LOOKUP[ord(_c.lower())] = -1


def sequence_to_indices(seq: str | bytes) -> np.ndarray:
    """Map a DNA string to base indices.

    Parameters
    ----------
    seq : str or bytes
        Letters ACGT (any case) and IUPAC ambiguity codes.

    Returns
    -------
    numpy.ndarray of int8, shape (L,)
        0..3 for A, C, G, T and -1 for N or another ambiguity code.

    Raises
    ------
    InputError
        On any other character, naming it and its 0-based position.
    """
    raw = np.frombuffer(seq.encode("ascii", "replace") if isinstance(seq, str) else bytes(seq),
                        dtype=np.uint8)
    idx = _LOOKUP[raw]
    bad = np.flatnonzero(idx == -2)
    if bad.size:
        pos = int(bad[0])
        char = chr(raw[pos]) if raw[pos] < 128 else repr(seq[pos])
        raise InputError(
            f"character {char!r} at position {pos} is not DNA (expected A, C, G, T or an "
            "IUPAC code such as N); clean the sequence or the FASTA it came from"
        )
    return idx


def one_hot_encode(seq: str | bytes, dtype=np.uint8) -> np.ndarray:
    """One-hot encode a DNA string.

    Parameters
    ----------
    seq : str or bytes
        Bases A, C, G, T in any case; N and other IUPAC codes become all-zero columns.
    dtype : numpy dtype, default numpy.uint8

    Returns
    -------
    numpy.ndarray, shape (4, L)
        Rows A, C, G, T.

    Examples
    --------
    >>> one_hot_encode("ACN").tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    """
    idx = sequence_to_indices(seq)
    out = np.zeros((4, idx.size), dtype=dtype)
    ok = idx >= 0
    out[idx[ok], np.flatnonzero(ok)] = 1
    return out


def one_hot_encode_batch(seqs: list[str], dtype=np.uint8) -> np.ndarray:
    """One-hot encode equal-length strings into an ``(N, 4, L)`` array.

    Raises
    ------
    InputError
        If the strings differ in length.
    """
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        raise InputError(f"sequences have different lengths {sorted(lengths)[:5]}; "
                         "pass sequences of one length (or pad them with N)")
    L = lengths.pop() if lengths else 0
    out = np.zeros((len(seqs), 4, L), dtype=dtype)
    for i, s in enumerate(seqs):
        out[i] = one_hot_encode(s, dtype=dtype)
    return out


def characters(X, force: bool = False) -> str:
    """Decode a ``(4, L)`` one-hot (or probability) matrix back to a string.

    Parameters
    ----------
    X : numpy.ndarray or torch.Tensor, shape (4, L)
        One-hot columns, or PWM columns when ``force=True``.
    force : bool, default False
        Allow columns that are not one-hot: take the highest row (ties go to the earliest
        letter). Without it, a column with a tie between non-zero rows is an error.

    Returns
    -------
    str
        Length L; all-zero columns are written as N.
    """
    X = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X)
    if X.ndim != 2 or X.shape[0] != 4:
        raise InputError(f"characters() needs a (4, L) matrix, got shape {X.shape}")
    best = X.argmax(axis=0)
    top = X.max(axis=0)
    zero = ~np.any(X != 0, axis=0)
    if not force:
        ties = ((X == top[None]).sum(axis=0) > 1) & ~zero
        if ties.any():
            raise InputError(f"column {int(np.flatnonzero(ties)[0])} has tied rows; "
                             "pass force=True to take the first letter")
    letters = np.array(list(ALPHABET))[best]
    letters[zero] = "N"
    return "".join(letters.tolist())


_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")


def reverse_complement(X):
    """Reverse complement a string, a ``(4, L)`` matrix or an ``(N, 4, L)`` batch.

    Works for numpy arrays and torch tensors; the last axis is reversed and the alphabet
    axis (second to last) flipped, which maps A<->T and C<->G for the ACGT row order.

    Returns
    -------
    Same type and shape as ``X``.
    """
    if isinstance(X, str):
        return X.translate(_COMPLEMENT)[::-1]
    if isinstance(X, torch.Tensor):
        return torch.flip(X, dims=(-2, -1))
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[-2] != 4:
        raise InputError(f"reverse_complement needs (..., 4, L) arrays, got shape {X.shape}")
    return X[..., ::-1, ::-1].copy()
