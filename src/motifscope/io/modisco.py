"""TF-MoDISco results files: the one place that knows modisco-lite's h5 layout.

Layout (modisco-lite 3.0 ``modiscolite.io.save_hdf5``; arrays ``(w, 4)``, rows A C G T as
columns)::

    attrs: window_size [, window_offset (motifscope: first base of the cropped window)]
    pos_patterns/ , neg_patterns/            (absent when the metacluster had no pattern)
      pattern_<k>/  sequence (PPM), contrib_scores (CWM), hypothetical_contribs (hCWM)
        seqlets/    n_seqlets [1], example_idx, start, end, is_revcomp (in the cropped
                    window), sequence, contrib_scores, hypothetical_contribs (n, w, 4)
        subpattern_<j>/ (the same)

Patterns are named ``<group>.pattern_<k>`` (``pos_patterns.pattern_0``), as ``modisco meme``
and Fi-NeMo name them; within a group they are sorted by seqlet count, largest first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from modiscolite import io as modisco_io

from motifscope.errors import InputError
from motifscope.utils import atomic_path

PATTERN_GROUPS = ("pos_patterns", "neg_patterns")
SEQLET_COLUMNS = ["example_idx", "start", "end", "is_revcomp"]


@dataclass
class Pattern:
    """One TF-MoDISco pattern, matrices as (4, w).

    name : ``<group>.pattern_<k>``; group : ``pos_patterns`` or ``neg_patterns``;
    ppm, cwm, hcwm : (4, w) float64; seqlets : DataFrame (example_idx, start, end,
    is_revcomp), positions in the cropped window; n_seqlets : ``seqlets/n_seqlets`` (the
    table's length when the file lacks it).
    """

    name: str
    group: str
    ppm: np.ndarray
    cwm: np.ndarray
    hcwm: np.ndarray
    seqlets: pd.DataFrame
    n_seqlets: int

    @property
    def sign(self) -> int:
        return 1 if self.group == "pos_patterns" else -1


def _pattern_number(name: str) -> int:
    match = re.fullmatch(r"pattern_(\d+)", name)
    return int(match.group(1)) if match else 1 << 30


def pattern_names(path: str | os.PathLike) -> list[str]:
    """Names of the patterns of a modisco-lite h5 (``pos_patterns.pattern_0``, ...), in the
    order of :func:`read_modisco`, without reading their data."""
    with h5py.File(path, "r") as h5:
        return [f"{group}.{name}" for group in PATTERN_GROUPS if group in h5
                for name in sorted(h5[group].keys(), key=_pattern_number)]


def read_modisco(path: str | os.PathLike) -> tuple[list[Pattern], dict]:
    """Read a modisco-lite h5.

    Returns
    -------
    patterns : list of Pattern
        Positive patterns first, each group by pattern number.
    attrs : dict
        ``window_size`` and ``window_offset`` (0 when the file does not record it; then
        seqlet positions are relative to modisco's own crop).
    """
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"{path} is not a readable HDF5 file ({err}); expected a "
                         "modisco-lite results h5 (`modisco motifs` or rule modisco)") from None
    patterns = []
    with h5:
        attrs = {"window_size": int(h5.attrs.get("window_size", 0)),
                 "window_offset": int(h5.attrs.get("window_offset", 0))}
        for group in PATTERN_GROUPS:
            if group not in h5:
                continue
            for pname in sorted(h5[group].keys(), key=_pattern_number):
                pat = h5[group][pname]
                for dataset in ("sequence", "contrib_scores", "hypothetical_contribs"):
                    if dataset not in pat:
                        raise InputError(f"{path}: {group}/{pname} has no {dataset}; write the "
                                         "file with modisco-lite (`modisco motifs`)")
                seq = pat["seqlets"] if "seqlets" in pat else {}
                seqlets = pd.DataFrame({c: np.asarray(seq[c][:]) if c in seq else np.zeros(0)
                                        for c in SEQLET_COLUMNS})
                count = (int(np.ravel(seq["n_seqlets"][:])[0]) if "n_seqlets" in seq
                         else len(seqlets))
                patterns.append(Pattern(
                    name=f"{group}.{pname}", group=group,
                    ppm=np.asarray(pat["sequence"][:], dtype=np.float64).T,
                    cwm=np.asarray(pat["contrib_scores"][:], dtype=np.float64).T,
                    hcwm=np.asarray(pat["hypothetical_contribs"][:], dtype=np.float64).T,
                    seqlets=seqlets.astype({"example_idx": np.int64, "start": np.int64,
                                            "end": np.int64, "is_revcomp": bool}),
                    n_seqlets=count))
    return patterns, attrs


def write_modisco(path: str | os.PathLike, pos_patterns, neg_patterns, window_size: int,
                  window_offset: int) -> None:
    """Write modisco-lite SeqletSets with modisco-lite's own ``save_hdf5`` (so its tools
    read the file unchanged), atomically, recording ``window_offset``. ``None`` for both
    gives a valid file holding only the attributes."""
    with atomic_path(path) as tmp:
        modisco_io.save_hdf5(str(tmp), pos_patterns or None, neg_patterns or None,
                             int(window_size))
        with h5py.File(tmp, "a") as h5:
            h5.attrs["window_offset"] = int(window_offset)
