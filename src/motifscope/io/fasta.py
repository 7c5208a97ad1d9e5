"""Checks of a genome FASTA against its ``.fai`` index, and of the sequence read from it.

pyfaidx trusts the index: a ``.fai`` left over from another (or an older, or a longer)
FASTA makes it return sequence from the wrong offsets, or shorter strings than the index
promises. :func:`check_fai` compares the index with the file before anything is read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from motifscope.errors import InputError


def _fai_rows(fai: Path):
    rows = []
    with open(fai) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                name = fields[0]
                length, offset, line_bases, line_width = (int(v) for v in fields[1:5])
            except (ValueError, IndexError):
                raise InputError(f"{fai} line {number} is not a FASTA index line (name, "
                                 f"length, offset, linebases, linewidth); delete {fai} so "
                                 "that it is rebuilt") from None
            rows.append((name, length, offset, line_bases, line_width))
    return rows


def _record_end(length: int, offset: int, line_bases: int, line_width: int) -> int:
    """File offset just past the last base of a record (before its final newline)."""
    if line_bases <= 0 or length <= 0:
        return offset
    full, rest = divmod(length, line_bases)
    end = offset + full * line_width
    if rest:
        end += rest
    else:
        end -= line_width - line_bases  # the last full line's newline is not a base
    return end


def check_fai(path: str | os.PathLike) -> None:
    """Check that ``<path>.fai`` describes ``path``: every record starts after a newline,
    where the index says, and the last record ends where the file ends.

    Parameters
    ----------
    path : path-like
        An uncompressed FASTA (bgzip files are indexed on their uncompressed bytes and are
        not checked here). Nothing is checked when there is no index yet.

    Raises
    ------
    InputError
        ``... does not match <fasta>: ...; delete <fasta>.fai (it is rebuilt on the next run)``.
    """
    path = Path(path)
    fai = Path(f"{path}.fai")
    if not fai.exists():
        return
    with open(path, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return
    rows = _fai_rows(fai)
    fix = f"delete {fai} (it is rebuilt on the next run) or run `samtools faidx {path}`"
    if not rows:
        raise InputError(f"{fai} is empty; {fix}")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        for name, length, offset, line_bases, line_width in rows:
            if offset <= 0 or offset > size:
                raise InputError(f"{fai} does not match {path}: contig '{name}' starts at "
                                 f"byte {offset} of a {size}-byte file; {fix}")
            fh.seek(offset - 1)
            before = fh.read(1)
            if before != b"\n":
                raise InputError(f"{fai} does not match {path}: contig '{name}' does not "
                                 f"start on a new line at byte {offset} (the index is stale "
                                 f"or from another FASTA); {fix}")
        name, length, offset, line_bases, line_width = max(rows, key=lambda r: r[2])
        end = _record_end(length, offset, line_bases, line_width)
        if end > size:
            raise InputError(f"{fai} does not match {path}: contig '{name}' should hold "
                             f"{length} bp and end at byte {end}, but the file has {size} "
                             f"bytes (truncated FASTA, or stale index); {fix}")
        fh.seek(end)
        tail = fh.read()
    if tail.strip():
        raise InputError(f"{fai} does not match {path}: {len(tail)} bytes follow the end of "
                         f"the last indexed contig '{name}' (the FASTA grew after it was "
                         f"indexed); {fix}")


_VALID = np.zeros(256, dtype=bool)
for _c in "ACGTNRYKMSWBDHVacgtnrykmswbdhv":
    _VALID[ord(_c)] = True


def bad_base(seq: str) -> tuple[int, str] | None:
    """First character of ``seq`` that is neither a base nor an IUPAC code, as
    ``(position, character)``, or None."""
    raw = np.frombuffer(seq.encode("latin-1", "replace"), dtype=np.uint8)
    bad = np.flatnonzero(~_VALID[raw])
    if not bad.size:
        return None
    return int(bad[0]), seq[int(bad[0])]


def all_n_loci(X) -> np.ndarray:
    """Indices of windows with no A, C, G or T (every column all-zero), from (n, 4, L)."""
    X = np.asarray(X)
    return np.flatnonzero(X.reshape(len(X), -1).max(axis=1, initial=0) == 0)
