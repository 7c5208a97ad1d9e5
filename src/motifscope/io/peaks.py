"""Peak files: BED3, BED6 and ENCODE narrowPeak, plain or gzipped."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd

from motifscope.errors import InputError

PEAK_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "summit", "line"]


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def read_peaks(path: str | os.PathLike) -> pd.DataFrame:
    """Read a BED3, BED6 or narrowPeak file (optionally gzipped).

    The format is taken from the number of columns of the first data line: 3 (BED3),
    4-9 (BED with name, score, strand) or 10 (narrowPeak, whose 10th column is the summit
    offset from ``start``; -1 means no summit). ``track``, ``browser`` and ``#`` lines are
    skipped.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pandas.DataFrame
        Columns chrom, start, end (0-based, half-open), name ("." when absent), score (NaN
        when absent), strand ("." when absent), summit (offset from start, -1 when absent)
        and line (1-based line number in the file, for messages).

    Raises
    ------
    InputError
        Naming the file and line for malformed lines (too few columns, non-integer
        coordinates, start >= end, negative start, a summit offset below -1 or outside the
        peak) and for a file
        without peaks.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"peak file {path} does not exist; check the `peaks` config key")
    records = []
    n_fields = None
    try:
        with _open_text(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                text = raw.rstrip("\n\r")
                if not text.strip() or text.startswith(("#", "track", "browser")):
                    continue
                fields = text.split("\t") if "\t" in text else text.split()
                if n_fields is None:
                    n_fields = len(fields)
                    if n_fields < 3:
                        raise InputError(f"{path} line {lineno}: {n_fields} column(s); a peak "
                                         "file needs at least chrom, start, end (BED3)")
                if len(fields) < n_fields:
                    raise InputError(f"{path} line {lineno}: {len(fields)} columns but the "
                                     f"first peak line has {n_fields}; fix or remove the line")
                records.append(_parse_fields(fields, n_fields, path, lineno))
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not a text BED/narrowPeak file ({err.reason}); give a plain "
                         "or gzipped BED file") from err
    except (OSError, EOFError) as err:
        raise InputError(f"{path}: cannot be read ({err}); is it a truncated gzip file?") from err
    if not records:
        raise InputError(f"peak file {path} has no peaks; give a BED or narrowPeak file with "
                         "at least one line")
    df = pd.DataFrame.from_records(records, columns=PEAK_COLUMNS)
    return df.astype({"start": np.int64, "end": np.int64, "summit": np.int64,
                      "score": np.float64, "line": np.int64})


def _parse_fields(fields, n_fields, path, lineno):
    chrom = fields[0]
    try:
        start, end = int(fields[1]), int(fields[2])
    except ValueError:
        raise InputError(f"{path} line {lineno}: start '{fields[1]}' and end '{fields[2]}' "
                         "must be integers (BED columns 2 and 3)") from None
    if start < 0 or end <= start:
        raise InputError(f"{path} line {lineno}: interval {start}-{end} is empty or negative; "
                         "BED needs 0 <= start < end")
    name = fields[3] if n_fields >= 4 else "."
    score = np.nan
    if n_fields >= 5 and fields[4] not in (".", ""):
        try:
            score = float(fields[4])
        except ValueError:
            raise InputError(f"{path} line {lineno}: score '{fields[4]}' (column 5) is not a "
                             "number") from None
    strand = fields[5] if n_fields >= 6 else "."
    summit = -1
    if n_fields >= 10:
        try:
            summit = int(fields[9])
        except ValueError:
            raise InputError(f"{path} line {lineno}: narrowPeak summit '{fields[9]}' (column "
                             "10) is not an integer") from None
        if summit < -1:
            raise InputError(f"{path} line {lineno}: summit offset {summit} (column 10) is "
                             "negative; give the summit's offset from start, or -1 for none")
        if summit >= end - start:
            raise InputError(f"{path} line {lineno}: summit offset {summit} lies outside the "
                             f"peak of width {end - start}; column 10 is relative to start")
    return chrom, start, end, name, score, strand, summit, lineno
