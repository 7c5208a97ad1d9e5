"""Input handling shared by TOMTOM, FIMO and seqlet annotation.

Motif collections arrive as a MEME file path, a :class:`motifscope.io.MotifSet`, a dict
``name -> (4, w)`` array, a list of ``(4, w)`` arrays (named by index) or an ``(n, 4, w)``
array. They are turned into a list of names and a list of float64 ``(4, w)`` numpy arrays,
with one-line :class:`motifscope.errors.InputError` messages for anything unusable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from motifscope.errors import InputError
from motifscope.io import read_meme
from motifscope.utils import as_numpy

ALPHABET = "ACGT"
# MEME's DEFAULT_SITE_COUNT: the number of sites assumed when a motif file gives none.
DEFAULT_NSITES = 20


@dataclass
class MotifList:
    """Motifs in a fixed order: ``names[i]`` and its ``(4, w_i)`` float64 ``matrices[i]``.

    ``alt_ids`` and ``nsites`` come from a MotifSet's metadata when there is one (empty
    strings and None otherwise); ``background`` is the file's background, or None.
    """

    names: list[str]
    matrices: list[np.ndarray]
    alt_ids: list[str] = field(default_factory=list)
    nsites: list[float | None] = field(default_factory=list)
    background: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.names)

    @property
    def widths(self) -> np.ndarray:
        """Widths of the motifs, int64 array of shape (n,)."""
        return np.array([m.shape[1] for m in self.matrices], dtype=np.int64)


def as_motif_list(motifs, what: str = "motifs", probabilities: bool = False) -> MotifList:
    """Normalise a motif collection.

    Parameters
    ----------
    motifs : str, path-like, MotifSet, dict, list or array
        A MEME file (read with :func:`motifscope.io.read_meme`), ``{name: (4, w)}``, a
        list of ``(4, w)`` arrays or tensors (named ``"0"``, ``"1"``, ...), or an
        ``(n, 4, w)`` array.
    what : str, default "motifs"
        How error messages name the collection (e.g. ``"queries"``).
    probabilities : bool, default False
        Require non-negative columns and rescale every column to sum to 1 (FIMO); without
        it any finite values are accepted (TOMTOM queries may be CWMs).

    Returns
    -------
    MotifList

    Raises
    ------
    InputError
        For an empty collection, a matrix that is not ``(4, w)`` (a ``(w, 4)`` matrix is
        named as transposed), a zero-width motif, non-finite values, or (with
        ``probabilities``) negative values or an all-zero column.
    """
    background = None
    alt_ids: list[str] = []
    nsites: list[float | None] = []
    if isinstance(motifs, (str, os.PathLike)):
        motifs = read_meme(motifs)
    if isinstance(motifs, dict):
        names = [str(k) for k in motifs]
        raw = list(motifs.values())
        info = getattr(motifs, "info", {}) or {}
        for key in motifs:
            meta = info.get(key)
            alt_ids.append(getattr(meta, "alt_id", "") or "")
            nsites.append(getattr(meta, "nsites", None))
        if hasattr(motifs, "background"):
            background = np.asarray(motifs.background, dtype=np.float64)
    elif isinstance(motifs, (np.ndarray, torch.Tensor)) and motifs.ndim == 3:
        raw = list(as_numpy(motifs))
        names = [str(i) for i in range(len(raw))]
    elif isinstance(motifs, (list, tuple)):
        raw = list(motifs)
        names = [str(i) for i in range(len(raw))]
    else:
        raise InputError(f"{what}: expected a MEME file, a dict of (4, w) matrices or a list of "
                         f"them, got {type(motifs).__name__}")
    if not raw:
        raise InputError(f"{what}: no motifs were given; pass at least one (4, w) matrix")
    matrices = [_check_matrix(name, m, what, probabilities) for name, m in zip(names, raw)]
    n = len(names)
    return MotifList(names, matrices, alt_ids or [""] * n, nsites or [None] * n, background)


def _check_matrix(name: str, matrix, what: str, probabilities: bool) -> np.ndarray:
    m = np.array(as_numpy(matrix), dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != 4:
        hint = " (it looks transposed: pass (4, w), rows A C G T)" if (
            m.ndim == 2 and m.shape[1] == 4) else ""
        raise InputError(f"{what}: motif '{name}' has shape {m.shape}, not (4, w){hint}")
    if m.shape[1] == 0:
        raise InputError(f"{what}: motif '{name}' has width 0; every motif needs at least "
                         "one column")
    if not np.isfinite(m).all():
        raise InputError(f"{what}: motif '{name}' has NaN or infinite values")
    if probabilities:
        if (m < 0).any():
            raise InputError(f"{what}: motif '{name}' has negative values; pass letter "
                             "probabilities or counts")
        totals = m.sum(axis=0)
        if (totals <= 0).any():
            raise InputError(f"{what}: motif '{name}' has an all-zero column "
                             f"{int(np.flatnonzero(totals <= 0)[0])}; every column needs a "
                             "letter probability")
        m = m / totals
    return m


def apply_pseudocount(matrix: np.ndarray, pseudocount: float, nsites: float | None,
                      background: np.ndarray) -> np.ndarray:
    """MEME's motif pseudocount: ``(p * n + pseudocount * bg) / (n + pseudocount)``.

    Parameters
    ----------
    matrix : numpy.ndarray, shape (4, w)
        Letter probabilities.
    pseudocount : float
        MEME's ``--motif-pseudo`` (0 leaves the matrix unchanged).
    nsites : float or None
        The motif's number of sites, truncated to an integer as MEME does; None (or
        <= 0) means MEME's default of 20.
    background : numpy.ndarray, shape (4,)

    Returns
    -------
    numpy.ndarray, shape (4, w)
    """
    if pseudocount == 0:
        return matrix
    if pseudocount < 0:
        raise InputError(f"pseudocount {pseudocount} is negative; use 0 or more")
    sites = int(nsites) if nsites is not None and nsites > 0 else DEFAULT_NSITES
    return (matrix * sites + pseudocount * background[:, None]) / (sites + pseudocount)


def consensus(matrix: np.ndarray) -> str:
    """The consensus string of a ``(4, w)`` matrix: the first most likely letter per column.

    Columns are compared in float32, as MEME's ``get_cons`` does, so near-ties resolve the
    same way; an all-zero (or all-equal) column gives ``A``.
    """
    values = np.asarray(matrix, dtype=np.float32)
    return "".join(np.array(list(ALPHABET))[values.argmax(axis=0)].tolist())


def check_background(background, what: str = "background") -> np.ndarray:
    """Validate a background: None gives uniform; else 4 positive numbers, normalised."""
    if background is None:
        return np.full(4, 0.25)
    bg = np.asarray(as_numpy(background), dtype=np.float64).ravel()
    if bg.shape != (4,) or not np.isfinite(bg).all() or (bg <= 0).any():
        raise InputError(f"{what}: expected 4 positive letter frequencies (A C G T), "
                         f"got {bg.tolist()}")
    return bg / bg.sum()


def bh_qvalues(p_values: torch.Tensor, n_tests: torch.Tensor | int | None = None,
               dim: int = -1) -> torch.Tensor:
    """Benjamini-Hochberg q-values along one dimension.

    Parameters
    ----------
    p_values : torch.Tensor
        P-values; NaN entries (padding) are ignored and stay NaN.
    n_tests : int or torch.Tensor, optional
        The number of tests each row stands for (broadcast over ``dim``); default: the
        number of non-NaN values in the row. When it is larger than the number of values
        given (only the smallest p-values are known), the q-values are the BH values
        monotonised over the known ones, an upper bound on the full BH q-values.
    dim : int, default -1

    Returns
    -------
    torch.Tensor
        Same shape, q = min over j >= rank of p_(j) * n / j, capped at 1.
    """
    p = p_values.movedim(dim, -1)
    nan = torch.isnan(p)
    filled = torch.where(nan, torch.full_like(p, float("inf")), p)
    order = torch.argsort(filled, dim=-1, stable=True)
    sorted_p = torch.gather(filled, -1, order)
    ranks = torch.arange(1, p.shape[-1] + 1, device=p.device, dtype=p.dtype)
    if n_tests is None:
        n = (~nan).sum(-1, keepdim=True).to(p.dtype)
    else:
        n = torch.as_tensor(n_tests, dtype=p.dtype, device=p.device)
        if n.ndim:
            n = n.reshape(n.shape + (1,) * (p.ndim - n.ndim))
    q = sorted_p * n / ranks
    q = torch.flip(torch.cummin(torch.flip(q, [-1]), -1).values, [-1]).clamp(max=1.0)
    out = torch.empty_like(q).scatter_(-1, order, q)
    out = torch.where(nan, torch.full_like(out, float("nan")), out)
    return out.movedim(-1, dim)
