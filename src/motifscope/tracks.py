"""Genome tracks: projected attribution at base resolution and predictions per peak.

Windows of nearby peaks overlap, so a base can be covered by several windows. The rule used
here: **each base takes its value from the window whose centre is nearest to it** (ties go
to the window that comes first in genome order, then in ``loci.tsv`` order). With windows
of one length this splits the genome between neighbouring windows at the midpoint of their
centres, so every covered base has exactly one value and it always comes from the window in
which it sits most centrally (where the model sees the most context on both sides). Bases
no window covers have no value.

Tracks are written with pybigtools (bigWig) and, for predictions, also as bedGraph text.
Coordinates are 0-based half-open throughout.
"""

from __future__ import annotations

import itertools
import os
import struct
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pybigtools

from .errors import InputError
from .io import open_fasta
from .utils import atomic_path


def window_cells(loci: pd.DataFrame, chrom_order: list | None = None) -> pd.DataFrame:
    """The genome interval each window owns under the nearest-centre rule.

    Parameters
    ----------
    loci : DataFrame with ``chrom``, ``start``, ``end`` (one row per window).
    chrom_order : chroms in output order (default: sorted by name).

    Returns
    -------
    DataFrame with ``row`` (row of ``loci``), ``chrom``, ``start``, ``end`` (the owned
    interval, non-empty, inside the window), in genome order; windows that own nothing
    (a duplicate of an earlier window) are left out.
    """
    if chrom_order is None:
        chrom_order = sorted(loci["chrom"].unique())
    order = {c: i for i, c in enumerate(chrom_order)}
    missing = set(loci["chrom"]) - set(order)
    if missing:
        raise InputError(f"loci on {sorted(missing)[0]}, which the genome FASTA does not have; "
                         "use the FASTA the loci were extracted from")
    df = pd.DataFrame({"row": np.arange(len(loci)), "chrom": loci["chrom"].to_numpy(),
                       "wstart": loci["start"].to_numpy(np.int64),
                       "wend": loci["end"].to_numpy(np.int64)})
    df["twice_centre"] = df["wstart"] + df["wend"]
    df["o"] = df["chrom"].map(order)
    df = df.sort_values(["o", "twice_centre", "row"], kind="stable", ignore_index=True)
    parts = []
    for _, g in df.groupby("o", sort=True):
        # a window centred where an earlier one is owns nothing (the earlier one wins)
        g = g[np.concatenate([[True], np.diff(g["twice_centre"].to_numpy()) != 0])]
        c2 = g["twice_centre"].to_numpy()
        # base b (centre b + 0.5) stays with the left of two consecutive windows (centres
        # c = C / 2) when b + 0.5 - c_i <= c_j - b - 0.5, i.e. 4b + 2 <= C_i + C_j (ties
        # left); ``mid`` is the first base of the right one
        mid = (c2[:-1] + c2[1:] - 2) // 4 + 1
        lo = np.concatenate([[np.iinfo(np.int64).min], mid])
        hi = np.concatenate([mid, [np.iinfo(np.int64).max]])
        start = np.maximum(g["wstart"].to_numpy(), lo)
        end = np.minimum(g["wend"].to_numpy(), hi)
        # a later window may reach back past an earlier one's right edge only if it is
        # longer; keep cells disjoint by clipping to the previous cell's end
        prev_end = np.maximum.accumulate(np.concatenate([[np.iinfo(np.int64).min], end[:-1]]))
        start = np.maximum(start, prev_end)
        parts.append(pd.DataFrame({"row": g["row"].to_numpy(), "chrom": g["chrom"].to_numpy(),
                                   "start": start, "end": end, "wstart": g["wstart"].to_numpy()}))
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["row", "chrom", "start", "end", "wstart"])
    return cells[cells["end"] > cells["start"]].reset_index(drop=True)


def write_bbi(path: str | os.PathLike, chrom_sizes: dict, records, autosql: str | None = None):
    """Write a bigWig (``.bw``) or bigBed (``.bb``) with pybigtools, atomically.

    pybigtools picks the format from the file extension, so the temporary file keeps it;
    it is renamed onto ``path`` only when writing succeeded. ``records`` are
    ``(chrom, start, end, value)`` (bigWig) or ``(chrom, start, end, rest)`` (bigBed), in
    the order of ``chrom_sizes`` then position.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = iter(records)
    first = next(records, None)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        sizes = {c: int(n) for c, n in chrom_sizes.items()}
        if first is None and path.suffix == ".bb":
            _write_empty_bigbed(tmp, sizes, autosql)
        elif first is None:
            raise InputError(f"{path}: no values to write; a bigWig needs at least one")
        else:
            writer = pybigtools.open(tmp, "w")
            records = itertools.chain([first], records)
            if autosql is None:
                writer.write(sizes, records)
            else:
                writer.write(sizes, records, autosql=autosql)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _bed_field_count(autosql: str | None) -> int:
    """Fields of a bigBed's records: the autoSql's declarations (3 without one)."""
    if not autosql:
        return 3
    body = autosql[autosql.index("(") + 1:autosql.rindex(")")]
    return sum(1 for line in body.splitlines() if line.strip().endswith('"') and ";" in line)


def _write_empty_bigbed(path, chrom_sizes: dict, autosql: str | None = None) -> None:
    """A valid bigBed (version 4) with no records, which pybigtools does not write.

    Layout (UCSC bbiFile): the 64-byte header, the autoSql text, the 40-byte total summary,
    the chromosome B+ tree (one leaf holding every contig), the data section (a record count
    of 0) and an R-tree index with one empty leaf; no zoom levels, no compression.
    """
    fields = _bed_field_count(autosql)
    names = [c.encode() for c in chrom_sizes][:0xFFFF]
    key_size = max([len(n) for n in names] + [1])
    auto = (autosql or "").encode() + b"\0" if autosql else b""
    header_size, summary_size = 64, 40
    auto_offset = header_size if auto else 0
    summary_offset = header_size + len(auto)
    tree_offset = summary_offset + summary_size
    tree = struct.pack("<IIIIQQ", 0x78CA8C91, max(len(names), 1), key_size, 8, len(names), 0)
    tree += struct.pack("<BBH", 1, 0, len(names))
    for index, (name, size) in enumerate(zip(names, chrom_sizes.values())):
        tree += name.ljust(key_size, b"\0") + struct.pack("<II", index, int(size))
    data_offset = tree_offset + len(tree)
    data = struct.pack("<Q", 0)
    index_offset = data_offset + len(data)
    index = struct.pack("<IIQIIIIQII", 0x2468ACE0, 256, 0, 0, 0, 0, 0, index_offset, 512, 0)
    index += struct.pack("<BBH", 1, 0, 0)
    header = struct.pack("<IHHQQQHHQQIQ", 0x8789F2EB, 4, 0, tree_offset, data_offset,
                         index_offset, fields, min(fields, 12), auto_offset, summary_offset,
                         0, 0)
    summary = struct.pack("<Qdddd", 0, 0.0, 0.0, 0.0, 0.0)
    with open(path, "wb") as fh:
        fh.write(header + auto + summary + tree + data + index + struct.pack("<I", 0x8789F2EB))


def _write_bigwig(path, chrom_sizes: dict, records) -> None:
    write_bbi(path, chrom_sizes, records)


def attribution_records(attributions: str | os.PathLike, onehot: str | os.PathLike,
                        cells: pd.DataFrame, chunk: int = 256):
    """Yield ``(chrom, start, start + 1, value)`` per covered base: the projected attribution
    ``sum_c attr[i, c, p] * X[i, c, p]`` of the window owning the base (``cells`` from
    :func:`window_cells`). Reads ``attr`` and ``X`` ``chunk`` windows at a time."""
    with h5py.File(attributions, "r") as ha, h5py.File(onehot, "r") as hx:
        if "attr" not in ha or "X" not in hx:
            raise InputError(f"{attributions} needs dataset attr and {onehot} dataset X; rerun "
                             "merge_attributions / extract_loci")
        attr, X = ha["attr"], hx["X"]
        if attr.shape != X.shape:
            raise InputError(f"{attributions} has shape {attr.shape} but {onehot} {X.shape}; "
                             "rerun the attribution stage")
        for lo in range(0, len(cells), chunk):
            part = cells.iloc[lo:lo + chunk]
            rows = part["row"].to_numpy()
            uniq = np.unique(rows)
            proj = (attr[uniq] * X[uniq]).sum(axis=1)  # (n, L) in uniq order
            at = {r: k for k, r in enumerate(uniq)}
            for row, chrom, start, end, wstart in zip(rows, part["chrom"], part["start"],
                                                      part["end"], part["wstart"]):
                values = proj[at[row], start - wstart:end - wstart]
                for k, v in enumerate(values.tolist()):
                    yield chrom, int(start + k), int(start + k + 1), float(v)


def write_attribution_bigwig(attributions, onehot, loci: pd.DataFrame, chrom_sizes: dict,
                             path: str | os.PathLike) -> pd.DataFrame:
    """Write the projected attribution of every window as a base-resolution bigWig.

    Overlaps are resolved by :func:`window_cells` (nearest window centre). Returns the cells.
    """
    cells = window_cells(loci, list(chrom_sizes))
    _write_bigwig(path, chrom_sizes, attribution_records(attributions, onehot, cells))
    return cells


def write_prediction_tracks(values: np.ndarray, loci: pd.DataFrame, chrom_sizes: dict,
                            bigwig: str | os.PathLike, bedgraph: str | os.PathLike,
                            name: str = "prediction") -> pd.DataFrame:
    """Write one prediction per window as bedGraph and bigWig over the window's cell.

    ``values`` (N,) is the model output of each row of ``loci``. Each base of a window's
    cell (:func:`window_cells`) carries that window's value. Returns the bedGraph table.
    """
    values = np.asarray(values, dtype=np.float64)
    cells = window_cells(loci, list(chrom_sizes))
    table = pd.DataFrame({"chrom": cells["chrom"], "start": cells["start"],
                          "end": cells["end"], "value": values[cells["row"].to_numpy()]})
    with atomic_path(bedgraph) as tmp, open(tmp, "w") as fh:
        fh.write(f'track type=bedGraph name="{name}"\n')
        table.to_csv(fh, sep="\t", index=False, header=False, float_format="%.6g")
    _write_bigwig(bigwig, chrom_sizes, ((c, int(s), int(e), float(v)) for c, s, e, v in
                                        table.itertuples(index=False)))
    return table


def track_hub(targets: list, hits: bool, attribution: bool = True,
              prediction: bool = True) -> str:
    """A UCSC ``trackDb.txt`` for the files of ``tracks/`` (and ``../hits/``), one
    composite per target; paths are relative to the tracks folder."""
    lines = []
    for t in targets:
        if attribution:
            lines += [f"track {t}_attribution", f"bigDataUrl {t}.bw",
                      f"shortLabel {t} attribution",
                      f"longLabel {t}: projected attribution (base resolution)",
                      "type bigWig", "visibility full", "autoScale on", "maxHeightPixels 64:48:16",
                      "color 40,90,160", "altColor 180,50,50", ""]
        if prediction:
            lines += [f"track {t}_prediction", f"bigDataUrl {t}.prediction.bw",
                      f"shortLabel {t} prediction", f"longLabel {t}: model prediction per peak",
                      "type bigWig", "visibility dense", ""]
        if hits:
            lines += [f"track {t}_hits", f"bigDataUrl ../hits/{t}.bb", f"shortLabel {t} hits",
                      f"longLabel {t}: motif instances (sparse CWM fit)", "type bigBed 9 .",
                      "itemRgb on", "visibility pack", ""]
    return "\n".join(lines)


TRACKS_README = """Genome tracks of motifscope (0-based half-open coordinates, genome of the run)

<target>.bw              projected attribution (sum over bases of attribution x one-hot)
                         at base resolution; where windows overlap, each base takes the value
                         of the window whose centre is nearest (ties: the earlier window)
<target>.prediction.bw   model prediction of each peak over the bases its window owns
<target>.prediction.bedGraph   the same as text
../hits/<target>.bb      motif instances (bigBed 9, one colour per pattern)
trackDb.txt              UCSC track-hub stanzas for these files

IGV: File > Load from File..., pick the .bw/.bb files (choose the run's genome first).
UCSC: put the files on a web server, then either paste
  track type=bigWig name=<target> bigDataUrl=https://<server>/<target>.bw
into "Custom Tracks", or add trackDb.txt to a hub (hub.txt + genomes.txt next to it).
"""


def chrom_sizes_of(fasta: str | os.PathLike) -> dict:
    """Contig lengths of a FASTA, in file order (through its .fai index)."""
    fa = open_fasta(Path(fasta))
    return {name: len(fa[name]) for name in fa.keys()}
