"""The CWMs that hit calling fits: from a modisco-lite h5 or a MEME file.

A :class:`CWMSet` holds each pattern on both strands, normalised to unit L2 norm over its
full width, with a trim mask: the span whose per-position sum of |CWM| is at least
``trim_threshold`` times the largest (Fi-NeMo's and modisco-lite's trimming, default 0.3).
Patterns of different widths are padded on the right with zeros (masked out) to one width.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..denovo.patterns import trim_span
from ..io.modisco import PATTERN_GROUPS, read_modisco



@dataclass
class CWMSet:
    """Pattern CWMs on both strands.

    Attributes
    ----------
    names : list[str], length P
        Pattern names (``pos_patterns.pattern_0`` for modisco, the MOTIF id for MEME).
    cwms : (2P, 4, W) float32
        Row ``2k`` is pattern ``k`` forward, row ``2k + 1`` its reverse complement.
    masks : (2P, W) uint8
        Trimmed span of each row.
    n_seqlets : list[int]
        Seqlets behind each pattern (0 when unknown).
    """

    names: list
    cwms: np.ndarray
    masks: np.ndarray
    n_seqlets: list = field(default_factory=list)

    @property
    def strands(self) -> np.ndarray:
        """(2P,) ``+``/``-`` per row of ``cwms``."""
        return np.tile(np.array(["+", "-"]), len(self.names))

    @property
    def pattern_of_row(self) -> np.ndarray:
        """(2P,) index into ``names`` per row of ``cwms``."""
        return np.repeat(np.arange(len(self.names)), 2)

    def trim_bounds(self) -> np.ndarray:
        """(2P, 2) [start, end) of the trimmed span of each row."""
        out = np.zeros((len(self.masks), 2), dtype=np.int64)
        for i, m in enumerate(self.masks):
            on = np.flatnonzero(m)
            out[i] = (on[0], on[-1] + 1) if on.size else (0, 0)
        return out


def _pattern_key(name: str):
    m = re.fullmatch(r"pattern_(\d+)", name)
    return (0, int(m.group(1)), "") if m else (1, 0, name)


def cwm_set(named: dict, trim_threshold: float = 0.3, n_seqlets: dict | None = None) -> CWMSet:
    """Build a :class:`CWMSet` from ``{name: (4, w) CWM}`` (insertion order kept)."""
    if not named:
        raise InputError("no motifs to call hits with; check hits.motifs and that the "
                         "modisco stage found patterns")
    width = max(np.shape(m)[1] for m in named.values())
    cwms, masks = [], []
    for name, raw in named.items():
        raw = np.asarray(raw, dtype=np.float64)
        norm = np.sqrt((raw ** 2).sum())
        if not np.isfinite(norm) or norm == 0:
            raise InputError(f"motif {name} is all zero; remove it from the motif file")
        fwd = raw / norm
        rev = fwd[::-1, ::-1]
        w = fwd.shape[1]
        start, end = trim_span(fwd, trim_threshold)
        for mat, (a, b) in ((fwd, (start, end)), (rev, (w - end, w - start))):
            padded = np.zeros((4, width))
            padded[:, :w] = mat
            mask = np.zeros(width, dtype=np.uint8)
            mask[a:b] = 1
            cwms.append(padded)
            masks.append(mask)
    counts = n_seqlets or {}
    return CWMSet(list(named), np.stack(cwms).astype(np.float32), np.stack(masks),
                  [int(counts.get(n, 0)) for n in named])


def read_modisco_cwms(path: str | os.PathLike, trim_threshold: float = 0.3,
                      include: list | None = None) -> CWMSet:
    """CWMs of the patterns of a modisco-lite h5 (read by :mod:`motifscope.io.modisco`),
    positive patterns first, each group by pattern number.

    ``include`` keeps only the named patterns (``pos_patterns.pattern_0``, ...).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"modisco file {path} does not exist; check hits.motifs")
    patterns, _ = read_modisco(path)
    kept = [p for p in patterns if include is None or p.name in include]
    if not kept:
        raise InputError(f"{path} holds no modisco patterns (groups {', '.join(PATTERN_GROUPS)})")
    return cwm_set({p.name: p.cwm for p in kept}, trim_threshold,
                   {p.name: p.n_seqlets for p in kept})


def read_meme_cwms(path: str | os.PathLike, trim_threshold: float = 0.3) -> CWMSet:
    """CWMs from a MEME-format file.

    Matrices with negative entries (modisco-lite's ``modisco meme -t CWM`` output) are taken
    as CWMs as they are. Probability matrices (rows summing to 1, no negatives) become
    letter-height matrices ``p * IC`` (bits against a uniform background), the usual
    stand-in for a CWM when only a PWM is known.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"MEME file {path} does not exist; check hits.motifs")
    named, name, rows = {}, None, None
    lines = path.read_text().splitlines()

    def close(lineno):
        if name is not None and rows is not None:
            if not rows:
                raise InputError(f"{path}:{lineno}: motif {name} has no matrix rows")
            named[name] = _as_cwm(np.asarray(rows, dtype=np.float64).T)

    for lineno, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            if rows:
                close(lineno)
                name, rows = None, None
            continue
        if tokens[0] == "MOTIF":
            close(lineno)
            if len(tokens) < 2:
                raise InputError(f"{path}:{lineno}: MOTIF line without a name")
            name, rows = tokens[1], None
        elif line.startswith("letter-probability matrix") and name is not None:
            rows = []
        elif rows is not None:
            try:
                values = [float(t) for t in tokens]
            except ValueError:
                close(lineno)
                name, rows = None, None
                continue
            if len(values) != 4:
                raise InputError(f"{path}:{lineno}: motif {name} has a row of {len(values)} "
                                 "values; DNA matrices need 4 (A C G T)")
            rows.append(values)
    close(len(lines))
    if not named:
        raise InputError(f"{path} holds no MEME motifs (MOTIF + letter-probability matrix)")
    return cwm_set(named, trim_threshold)


def _as_cwm(matrix: np.ndarray) -> np.ndarray:
    """A (4, w) matrix as a CWM: as it is with negatives, else letter heights p * IC."""
    if (matrix < 0).any() or not np.allclose(matrix.sum(axis=0), 1, atol=0.02):
        return matrix
    p = np.clip(matrix / matrix.sum(axis=0, keepdims=True), 1e-9, 1)
    ic = 2 + (p * np.log2(p)).sum(axis=0)
    return p * ic


def read_cwms(path: str | os.PathLike, trim_threshold: float = 0.3) -> CWMSet:
    """CWMs from a modisco-lite h5 (``.h5``/``.hdf5``) or a MEME file (anything else)."""
    if str(path).endswith((".h5", ".hdf5")):
        return read_modisco_cwms(path, trim_threshold)
    return read_meme_cwms(path, trim_threshold)
