"""MEME v4 motif files: a faithful reader and writer.

The format (https://meme-suite.org/meme/doc/meme-format.html) holds a version line, an
alphabet (``ALPHABET= ACGT`` or a MEME 5 ``ALPHABET ... END ALPHABET`` block), strands,
background letter frequencies, and motifs: ``MOTIF <id> [<alt id>]``, a
``letter-probability matrix: alength= 4 w= W nsites= n E= e`` header, W rows of 4
probabilities, and an optional ``URL`` line. Everything is kept on a round trip.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motifscope.errors import InputError
from motifscope.utils import as_numpy, atomic_path

ROW_SUM_TOLERANCE = 0.02
_DNA_ALPHABETS = {"ACGT", "ACGTN"}


@dataclass
class MotifInfo:
    """Per-motif metadata from a MEME file (everything except the matrix)."""

    id: str
    alt_id: str = ""
    nsites: float | None = None
    evalue: str | None = None
    url: str | None = None


class MotifSet(dict):
    """Motifs by id: ``{id: (4, w) float64 array}`` with the file's metadata.

    Attributes
    ----------
    info : dict[str, MotifInfo]
        Alternate name, nsites, E-value and URL of each motif.
    background : numpy.ndarray, shape (4,)
        Background letter frequencies (A, C, G, T); uniform when the file gives none.
    alphabet : str
        ``"ACGT"``.
    strands : str
        ``"+ -"`` or ``"+"``.
    version : str
        The MEME version line's number (``"4"`` when written here).
    """

    def __init__(self, *args, info=None, background=None, strands="+ -", version="4", **kw):
        super().__init__(*args, **kw)
        self.info: dict[str, MotifInfo] = dict(info or {})
        self.background = np.full(4, 0.25) if background is None else np.asarray(background, float)
        self.alphabet = "ACGT"
        self.strands = strands
        self.version = version

    def alt_id(self, motif_id: str) -> str:
        """The alternate name of ``motif_id`` (empty when the file gives none)."""
        info = self.info.get(motif_id)
        return info.alt_id if info else ""

    def select(self, names, config_key: str) -> "MotifSet":
        """The motifs named by id or alternate name (case-insensitive), in the order given.

        Parameters
        ----------
        names : iterable of str
            Motif ids (``MA0139.2``) or alternate names (``CTCF``); repeats are dropped.
        config_key : str
            The config key the names came from, named in the error message.

        Raises
        ------
        InputError
            For a name that is neither an id nor an alternate name of this set.
        """
        by_alt = {self.alt_id(i).upper(): i for i in self}
        ids = []
        for name in names:
            motif_id = name if name in self else by_alt.get(str(name).upper())
            if motif_id is None:
                raise InputError(f"config key {config_key}: '{name}' is neither an id nor a "
                                 "name in the motif database; use ids or names from "
                                 "motifs/database.meme")
            ids.append(motif_id)
        return self.subset(dict.fromkeys(ids))

    def subset(self, ids) -> "MotifSet":
        """A MotifSet with only ``ids`` (in that order), keeping metadata."""
        ids = list(ids)
        return MotifSet({i: self[i] for i in ids}, info={i: self.info[i] for i in ids
                                                         if i in self.info},
                        background=self.background, strands=self.strands, version=self.version)


_HEADER_KEYS = re.compile(r"(alength|w|nsites|E)\s*=\s*(\S+)")



def select_motifs(motifs: MotifSet, wanted, config_key: str) -> MotifSet:
    """All of ``motifs`` when ``wanted`` is empty or ``"all"``, else the ones it names by id
    or alternate name (:meth:`MotifSet.select`; errors name ``config_key``)."""
    if not wanted or (isinstance(wanted, str) and wanted == "all"):
        return motifs
    return motifs.select(wanted, config_key)


def _fail(path, lineno, message):
    raise InputError(f"{path} line {lineno}: {message}")


def _parse_alphabet_block(lines, start, path):
    """Read a MEME 5 ``ALPHABET "name" ... END ALPHABET`` block; return (core letters, next i).

    Core symbols are the ones defined with a name and colour, possibly paired with their
    complement (``A "Adenine" CC0000 ~ T "Thymine" 008000``); aliases and wildcards are
    defined with ``=`` and ignored.
    """
    letters = set()
    for i in range(start + 1, len(lines)):
        text = lines[i].strip()
        if text.startswith("END ALPHABET"):
            return "".join(sorted(letters)), i + 1
        tokens = text.split()
        if not tokens or text.startswith("#") or "=" in tokens:
            continue
        letters.add(tokens[0].upper())
        if "~" in tokens and tokens.index("~") + 1 < len(tokens):
            letters.add(tokens[tokens.index("~") + 1].upper())
    _fail(path, start + 1, "ALPHABET block without 'END ALPHABET'")


def read_meme(path: str | os.PathLike, n_motifs: int | None = None) -> MotifSet:
    """Read a MEME v4 motif file.

    Parameters
    ----------
    path : str or path-like
        A MEME file (plain text; the minimal MEME format written by MEME, STREME,
        jaspar2meme, TF-MoDISco and Basset is accepted).
    n_motifs : int, optional
        Stop after this many motifs.

    Returns
    -------
    MotifSet
        ``{motif id: (4, w) float64}``, rows A, C, G, T, plus ``.info``, ``.background``,
        ``.strands``.

    Raises
    ------
    InputError
        With the file and line for: a non-DNA alphabet, a matrix row with the wrong number of
        columns or not summing to 1 (within 0.02), fewer rows than ``w=``, a zero-width motif,
        a duplicated motif id, or a file with no motifs.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"motif file {path} does not exist; check the `motif_db` config key")
    lines = path.read_text(errors="replace").splitlines()
    motifs = MotifSet()
    background = None
    i = 0
    current: MotifInfo | None = None
    while i < len(lines):
        raw = lines[i]
        text = raw.strip()
        lineno = i + 1
        if text.startswith("MEME version"):
            motifs.version = text.split()[2] if len(text.split()) > 2 else "4"
        elif text.startswith("ALPHABET="):
            alphabet = text.split("=", 1)[1].strip().upper()
            if alphabet not in _DNA_ALPHABETS:
                _fail(path, lineno, f"alphabet '{alphabet}' is not DNA (ACGT); motifscope "
                      "works on DNA motif files only")
        elif text.startswith("ALPHABET"):
            letters, i = _parse_alphabet_block(lines, i, path)
            if letters != "ACGT":
                _fail(path, lineno, f"alphabet with core letters '{letters}' is not DNA "
                      "(ACGT); motifscope works on DNA motif files only")
            continue
        elif text.startswith("strands:"):
            motifs.strands = " ".join(text.split()[1:]) or "+ -"
        elif text.startswith("Background letter frequencies"):
            values = {}
            j = i + 1
            while j < len(lines) and len(values) < 4:
                tokens = lines[j].split()
                if not tokens:
                    j += 1
                    continue
                if tokens[0] in ("MOTIF", "ALPHABET", "strands:"):
                    break
                for letter, value in zip(tokens[::2], tokens[1::2]):
                    try:
                        values[letter.upper()] = float(value)
                    except ValueError:
                        _fail(path, j + 1, f"background frequency '{value}' is not a number")
                j += 1
            if set(values) >= set("ACGT"):
                background = np.array([values[c] for c in "ACGT"])
            i = j
            continue
        elif text.startswith("MOTIF"):
            tokens = text.split()
            if len(tokens) < 2:
                _fail(path, lineno, "MOTIF line without an id")
            if tokens[1] in motifs:
                _fail(path, lineno, f"motif id '{tokens[1]}' appears twice; motif ids must be "
                      "unique")
            current = MotifInfo(id=tokens[1], alt_id=" ".join(tokens[2:]))
        elif text.startswith("letter-probability matrix"):
            if current is None:
                _fail(path, lineno, "letter-probability matrix before any MOTIF line")
            i = _read_matrix(lines, i, path, current, motifs)
            if n_motifs is not None and len(motifs) >= n_motifs:
                break
            continue
        elif text.startswith("URL") and current is not None and current.id in motifs:
            current.url = text[3:].strip()
        i += 1
    if not motifs:
        raise InputError(f"{path}: no motifs found (no 'MOTIF' with a 'letter-probability "
                         "matrix'); is this a MEME v4 file?")
    if background is not None:
        motifs.background = background / background.sum()
    return motifs


def _read_matrix(lines, i, path, info: MotifInfo, motifs: MotifSet) -> int:
    """Parse a letter-probability block starting at line ``i``; return the next line index."""
    header = dict(_HEADER_KEYS.findall(lines[i]))
    lineno = i + 1
    alength = int(float(header.get("alength", 4)))
    if alength != 4:
        _fail(path, lineno, f"motif {info.id} has alength= {alength}; only DNA (alength= 4) "
              "motifs are supported")
    width = int(float(header["w"])) if "w" in header else None
    if width is not None and width <= 0:
        _fail(path, lineno, f"motif {info.id} has width w= {width}; motifs need at least one "
              "column")
    if "nsites" in header:
        info.nsites = float(header["nsites"])
    if "E" in header:
        info.evalue = header["E"]
    rows = []
    i += 1
    while i < len(lines):
        tokens = lines[i].split()
        if not tokens:
            if rows:
                break
            i += 1  # blank lines between the header and the first row are tolerated
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            break
        if len(values) != 4:
            _fail(path, i + 1, f"motif {info.id} has a row with {len(values)} columns; "
                  "letter-probability rows need 4 (A C G T)")
        total = sum(values)
        if abs(total - 1) > ROW_SUM_TOLERANCE or min(values) < 0:
            _fail(path, i + 1, f"motif {info.id} has a row summing to {total:.4g}; rows must "
                  "be probabilities summing to 1 (divide counts by the column total)")
        rows.append(values)
        i += 1
        if width is not None and len(rows) == width:
            break
    if not rows:
        _fail(path, lineno, f"motif {info.id} has no matrix rows; motifs need at least one "
              "column")
    if width is not None and len(rows) != width:
        _fail(path, i + 1, f"motif {info.id} has {len(rows)} rows but its header says "
              f"w= {width}")
    matrix = np.asarray(rows, dtype=np.float64).T
    motifs[info.id] = matrix / matrix.sum(axis=0, keepdims=True)
    motifs.info[info.id] = info
    return i


def _format_float(x: float) -> str:
    return f"{x:.6f}"


def write_meme(motifs, path: str | os.PathLike, info: dict | None = None,
               background=None, strands: str | None = None, weights: bool = False) -> Path:
    """Write motifs as a MEME v4 file (atomically).

    Parameters
    ----------
    motifs : dict[str, array of shape (4, w)] or MotifSet
        Probability matrices, rows A, C, G, T; columns are renormalised to sum to 1.
        Ids must not contain whitespace.
    path : str or path-like
    info : dict[str, MotifInfo], optional
        Alternate names, nsites, E-values and URLs; taken from ``motifs.info`` for a MotifSet.
    background : array of 4 floats, optional
        Default: ``motifs.background`` for a MotifSet, else uniform.
    strands : str, optional
        Default ``"+ -"``.
    weights : bool, default False
        Write the matrices as given, signed and not renormalised: contribution weight
        matrices, as ``modisco meme -t CWM`` writes them (only tools that expect CWMs,
        such as Fi-NeMo, read such a file).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        For a matrix that is not (4, w) with w >= 1 (a (w, 4) matrix is recognised and named
        as such), negative values, or an id with whitespace.
    """
    info = dict(getattr(motifs, "info", {}) or {}) | dict(info or {})
    if background is None:
        background = getattr(motifs, "background", None)
    background = np.full(4, 0.25) if background is None else np.asarray(background, float)
    strands = strands or getattr(motifs, "strands", "+ -")
    out = ["MEME version 4", "", "ALPHABET= ACGT", "", f"strands: {strands}", "",
           "Background letter frequencies",
           " ".join(f"{c} {_format_float(v)}" for c, v in zip("ACGT", background)), ""]
    for motif_id, matrix in motifs.items():
        m = as_numpy(matrix).astype(np.float64)
        if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] < 1:
            hint = " (it looks transposed: pass (4, w))" if m.ndim == 2 and m.shape[1] == 4 else ""
            raise InputError(f"motif {motif_id}: matrix of shape {m.shape} is not (4, w){hint}")
        if not np.isfinite(m).all() or (not weights and (m < 0).any()):
            raise InputError(f"motif {motif_id}: matrix has negative or non-finite values; "
                             "write probabilities")
        if len(str(motif_id).split()) != 1:
            raise InputError(f"motif id '{motif_id}' contains whitespace; MEME ids are one word")
        if not weights:
            m = m / np.where(m.sum(axis=0) > 0, m.sum(axis=0), 1)
        meta = info.get(motif_id, MotifInfo(id=str(motif_id)))
        out.append(f"MOTIF {motif_id} {meta.alt_id}".rstrip())
        # nsites and E are optional in the format: written only when known, so that a
        # round trip does not invent them
        header = f"letter-probability matrix: alength= 4 w= {m.shape[1]}"
        if meta.nsites is not None:
            header += f" nsites= {meta.nsites:g}"
        if meta.evalue is not None:
            header += f" E= {meta.evalue}"
        out.append(header)
        out.extend(" " + "\t".join(_format_float(v) for v in col) for col in m.T)
        out.append("")
        if meta.url:
            out.append(f"URL {meta.url}")
            out.append("")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(out) + "\n")
    return path
