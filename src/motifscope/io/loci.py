"""Fixed-length windows around peaks, read from a genome FASTA into one-hot arrays."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.io.fasta import bad_base, check_fai
from motifscope.io.peaks import read_peaks
from motifscope.sequence import one_hot_encode
from motifscope.utils import atomic_path, progress

LOCI_COLUMNS = ["idx", "chrom", "start", "end", "summit", "name", "score"]


def open_fasta(path: str | os.PathLike):
    """Open a FASTA with pyfaidx, building its ``.fai`` index if needed.

    Raises
    ------
    InputError
        When the file is missing, gzipped without bgzip, or has no index and its folder is
        not writable (the message says how to make the index).
    """
    import pyfaidx

    path = Path(path)
    if not path.exists():
        raise InputError(f"genome FASTA {path} does not exist; check the `genome` config key")
    fai = Path(f"{path}.fai")
    if not fai.exists() and not os.access(path.parent, os.W_OK):
        raise InputError(f"{path} has no index {fai.name} and its folder is read-only; run "
                         f"`samtools faidx {path}` where you can write, or copy the FASTA to a "
                         "writable folder")
    check_fai(path)
    try:
        return pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=True,
                             rebuild=False, build_index=True)
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise InputError(f"{path} is gzip- but not bgzip-compressed; recompress it with "
                         "`bgzip` or decompress it") from err
    except (OSError, pyfaidx.FastaIndexingError) as err:
        raise InputError(f"{path}: cannot index the FASTA ({err}); check the file or run "
                         "`samtools faidx` on it") from err


def _summit_centres(peaks: pd.DataFrame, center: str) -> np.ndarray:
    start = peaks["start"].to_numpy()
    end = peaks["end"].to_numpy()
    interval_mid = start + (end - start) // 2
    if center == "interval":
        return interval_mid
    summit = peaks["summit"].to_numpy()
    if center == "summit" and (summit < 0).any():
        line = int(peaks["line"].to_numpy()[np.argmax(summit < 0)])
        raise InputError(f"peak on line {line} has no summit but `loci.center` is 'summit'; "
                         "use a narrowPeak file or set loci.center to 'auto'")
    return np.where(summit >= 0, start + summit, interval_mid)


def _check_contigs(peaks: pd.DataFrame, sizes: dict[str, int], peaks_name: str,
                   fasta_name: str) -> None:
    missing = sorted(set(peaks["chrom"]) - set(sizes))
    if not missing:
        return
    bad = peaks[peaks["chrom"] == missing[0]].iloc[0]
    examples = ", ".join(list(sizes)[:3])
    hint = ""
    if missing[0].startswith("chr") and missing[0][3:] in sizes:
        hint = " (strip the 'chr' prefix from the peak file)"
    elif f"chr{missing[0]}" in sizes:
        hint = " (add a 'chr' prefix to the peak file)"
    raise InputError(f"{peaks_name} line {int(bad['line'])}: contig '{missing[0]}' is not in "
                     f"{fasta_name} (its contigs are named like {examples}; {len(missing)} "
                     f"peak contig(s) missing, e.g. {', '.join(missing[:3])}){hint}")


def plan_loci(peaks: pd.DataFrame, chrom_sizes: dict[str, int], window: int,
              off_chrom: str = "drop", center: str = "auto", peaks_name: str = "peaks",
              fasta_name: str = "genome") -> tuple[pd.DataFrame, dict]:
    """Place a ``window``-bp window on every peak, drop duplicates and off-chromosome ones.

    Parameters
    ----------
    peaks : DataFrame
        From :func:`motifscope.io.read_peaks`.
    chrom_sizes : dict[str, int]
        Contig lengths of the genome.
    window : int
        Window length L.
    off_chrom : {"drop", "pad"}, default "drop"
        Windows running off a contig end are dropped, or kept and padded with N (all-zero
        columns) when read.
    center : {"auto", "summit", "interval"}, default "auto"
        Centre on the narrowPeak summit when there is one (auto), always (summit), or on the
        interval midpoint ``start + (end - start) // 2`` (interval).
    peaks_name, fasta_name : str
        File names used in messages.

    Returns
    -------
    loci : DataFrame
        Columns idx (0..n-1), chrom, start, end (the window, 0-based half-open; may extend
        past the contig when padded), summit (the centre, genome coordinate), name, score.
    stats : dict
        n_peaks, n_duplicates, n_off_chrom (dropped or padded), n_loci.

    Raises
    ------
    InputError
        Contig names absent from the FASTA (with examples of both namings), or a peak on a
        contig shorter than the window, or a peak interval ending past its contig (a truncated
        FASTA or another assembly).
    """
    if window < 1:
        raise InputError(f"config key window: {window} must be a positive number of bases")
    if off_chrom not in ("drop", "pad"):
        raise InputError(f"config key loci.off_chrom: '{off_chrom}' must be 'drop' or 'pad'")
    _check_contigs(peaks, chrom_sizes, peaks_name, fasta_name)
    lengths = peaks["chrom"].map(chrom_sizes).to_numpy()
    past = (peaks["end"].to_numpy() > lengths)
    if past.any():
        bad = peaks[past].iloc[0]
        raise InputError(f"{peaks_name} line {int(bad['line'])}: peak {bad['chrom']}:"
                         f"{int(bad['start'])}-{int(bad['end'])} ends past the end of contig "
                         f"'{bad['chrom']}' ({chrom_sizes[bad['chrom']]} bp in {fasta_name}; "
                         f"{int(past.sum())} peak(s) do); is the FASTA truncated or of another "
                         "assembly than the peaks?")
    short = lengths < window
    if short.any():
        bad = peaks[short].iloc[0]
        raise InputError(f"{peaks_name} line {int(bad['line'])}: contig '{bad['chrom']}' "
                         f"({chrom_sizes[bad['chrom']]} bp in {fasta_name}) is shorter than "
                         f"window {window}; lower `window` or remove peaks on short contigs")
    mid = _summit_centres(peaks, center)
    start = mid - window // 2
    end = start + window
    loci = pd.DataFrame({"chrom": peaks["chrom"].to_numpy(), "start": start, "end": end,
                         "summit": mid, "name": peaks["name"].to_numpy(),
                         "score": peaks["score"].to_numpy()})
    n_peaks = len(loci)
    duplicated = loci.duplicated(subset=["chrom", "start"], keep="first").to_numpy()
    off = ((start < 0) | (end > lengths)) & ~duplicated
    keep = ~duplicated & (~off if off_chrom == "drop" else True)
    loci = loci[keep].reset_index(drop=True)
    loci.insert(0, "idx", np.arange(len(loci)))
    stats = {"n_peaks": n_peaks, "n_duplicates": int(duplicated.sum()),
             "n_off_chrom": int(off.sum()), "off_chrom": off_chrom, "n_loci": len(loci)}
    if not len(loci):
        raise InputError(f"{peaks_name}: no window of {window} bp fits on its contigs "
                         f"({stats['n_off_chrom']} run off a contig end); set "
                         "loci.off_chrom to 'pad' or lower `window`")
    return loci, stats


def _fetch_window(fasta, chrom: str, start: int, end: int, length: int) -> np.ndarray:
    lo, hi = max(start, 0), min(end, length)
    X = np.zeros((4, end - start), dtype=np.uint8)
    if hi > lo:
        seq = fasta[chrom][lo:hi]
        name = getattr(fasta, "filename", "genome")
        if len(seq) != hi - lo:
            raise InputError(f"{name}: contig '{chrom}' [{lo}, {hi}) gave {len(seq)} bases "
                             f"instead of {hi - lo} (the index disagrees with the file); delete "
                             f"{name}.fai so that it is rebuilt")
        found = bad_base(seq)
        if found:
            raise InputError(f"{name}: character {found[1]!r} at {chrom}:{lo + found[0]} "
                             "(0-based) is not DNA (expected A, C, G, T or an IUPAC code such "
                             "as N); clean the FASTA")
        X[:, lo - start:hi - start] = one_hot_encode(seq)
    return X


def iter_onehot(loci: pd.DataFrame, fasta, chunk_size: int = 256, verbose=None):
    """Yield ``(first_idx, X_chunk)`` with X_chunk uint8 (n, 4, L) for consecutive loci."""
    sizes = {name: len(fasta[name]) for name in fasta.keys()}
    n = len(loci)
    rows = loci[["chrom", "start", "end"]].itertuples(index=False)
    bar = progress(total=n, desc="one-hot windows", unit="loci", verbose=verbose)
    for first in range(0, n, chunk_size):
        batch = [next(rows) for _ in range(min(chunk_size, n - first))]
        X = np.stack([_fetch_window(fasta, c, int(s), int(e), sizes[c]) for c, s, e in batch])
        bar.update(len(batch))
        yield first, X
    bar.close()


def extract_loci(peaks, fasta, window: int, off_chrom: str = "drop", center: str = "auto",
                 verbose=None) -> tuple[pd.DataFrame, np.ndarray]:
    """Windows around peaks as one-hot arrays, in memory.

    Parameters
    ----------
    peaks : DataFrame or path
        Peaks (from :func:`read_peaks`) or a peak file path.
    fasta : path or pyfaidx.Fasta
    window, off_chrom, center
        As in :func:`plan_loci`.

    Returns
    -------
    loci : DataFrame
        As in :func:`plan_loci`.
    X : numpy.ndarray of uint8, shape (n, 4, window)
        N and padding are all-zero columns.
    """
    peaks_name = str(peaks) if not isinstance(peaks, pd.DataFrame) else "peaks"
    if not isinstance(peaks, pd.DataFrame):
        peaks = read_peaks(peaks)
    fasta_name = str(fasta) if isinstance(fasta, (str, os.PathLike)) else "genome"
    if isinstance(fasta, (str, os.PathLike)):
        fasta = open_fasta(fasta)
    sizes = {name: len(fasta[name]) for name in fasta.keys()}
    loci, _ = plan_loci(peaks, sizes, window, off_chrom, center, peaks_name, fasta_name)
    chunks = [X for _, X in iter_onehot(loci, fasta, verbose=verbose)]
    return loci, np.concatenate(chunks) if chunks else np.zeros((0, 4, window), np.uint8)


def write_onehot(loci: pd.DataFrame, fasta, path: str | os.PathLike, window: int,
                 chunk_size: int = 256, genome_name: str = "", verbose=None,
                 attrs: dict | None = None) -> Path:
    """Stream the one-hot windows of ``loci`` into an HDF5 file (atomically).

    The dataset ``X`` (uint8, (n, 4, window)) is chunked by ``min(n, chunk_size)`` loci and
    gzip-compressed, so readers can load one shard at a time; attributes ``window`` and
    ``genome`` record provenance, and ``attrs`` (e.g. the counts of
    :func:`motifscope.io.ncontent.drop_n_windows`) are added to the file's attributes.
    """
    path = Path(path)
    n = len(loci)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            ds = h5.create_dataset("X", shape=(n, 4, window), dtype=np.uint8,
                                   chunks=(max(1, min(n, chunk_size)), 4, window),
                                   compression="gzip", compression_opts=4, shuffle=True)
            ds.attrs["window"] = window
            ds.attrs["genome"] = genome_name
            h5.attrs.update(attrs or {})
            for first, X in iter_onehot(loci, fasta, chunk_size, verbose=verbose):
                ds[first:first + len(X)] = X
    return path


def read_onehot(path: str | os.PathLike, start: int | None = None,
                end: int | None = None) -> np.ndarray:
    """Read loci ``[start, end)`` of ``X`` from a ``loci/onehot.h5`` file.

    Returns
    -------
    numpy.ndarray of uint8, shape (end - start, 4, L)
    """
    with h5py.File(path, "r") as h5:
        if "X" not in h5:
            raise InputError(f"{path} has no dataset 'X'; it is not a motifscope onehot.h5 file")
        return h5["X"][start:end]


def window_offsets(loci: pd.DataFrame, example_idx) -> tuple[np.ndarray, np.ndarray]:
    """Where windows lie on the genome: (chrom, window start) of each of ``example_idx``.

    A position ``p`` (0-based) within window ``i`` is at ``start[i] + p`` on ``chrom[i]``;
    half-open spans map the same way. This is the one place windows are put on the genome.

    Parameters
    ----------
    loci : pandas.DataFrame
        ``loci/loci.tsv`` (idx, chrom, start, ...): example ``i`` is the row whose ``idx`` is
        i (or row i when there is no idx column).
    example_idx : array of int, shape (n,)

    Returns
    -------
    chrom : numpy.ndarray of str, shape (n,)
    start : numpy.ndarray of int64, shape (n,)
        0-based window starts (negative for windows padded past a contig's start).
    """
    for col in ("chrom", "start"):
        if col not in loci.columns:
            raise InputError(f"loci table has no '{col}' column; expected loci/loci.tsv "
                             "(idx, chrom, start, end, summit, name, score)")
    loci = loci.set_index("idx", drop=False) if "idx" in loci.columns else loci.reset_index(drop=True)
    example = np.asarray(example_idx)
    missing = ~np.isin(example, loci.index.to_numpy())
    if missing.any():
        raise InputError(f"example_idx {int(example[missing][0])} has no row in the loci "
                         f"table ({len(loci)} loci); the attributions and loci/loci.tsv must "
                         "come from the same run")
    windows = loci.loc[example]
    return windows["chrom"].to_numpy(), windows["start"].to_numpy().astype(np.int64)


def read_loci(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``loci/loci.tsv`` (columns idx, chrom, start, end, summit, name, score)."""
    return pd.read_csv(path, sep="\t", dtype={"chrom": str, "name": str},
                       keep_default_na=False, na_values={"score": ["", "NaN", "nan"]})


# --- per-target peak sets (config `peaks` as a mapping target -> file) --------------------

def target_peak_files(config: dict) -> dict[str, str]:
    """The targets that have their own peak file: config ``peaks`` when it is a mapping
    target -> file (and the run is not simulated), else empty."""
    peaks = config.get("peaks")
    if config.get("simulate", {}).get("enabled") or not isinstance(peaks, dict):
        return {}
    return dict(peaks)


def loci_folder(config: dict, target: str | None = None) -> str:
    """Where the windows of ``target`` are, relative to ``results/<run>/``.

    ``loci/targets/<target>`` when config ``peaks`` gives the target its own peak file,
    else ``loci`` (every peak: the one file, or the union of the per-target files, which is
    also what target-independent stages such as predict and filters read). Every per-target
    output row (attributions, seqlets, patterns, hits, tracks) indexes the windows of this
    folder's ``loci.tsv`` and ``onehot.h5``.
    """
    if target is not None and target in target_peak_files(config):
        return f"loci/targets/{target}"
    return "loci"


def plan_union(peak_paths, chrom_sizes: dict[str, int], window: int, off_chrom: str = "drop",
               center: str = "auto", fasta_name: str = "genome") -> tuple[pd.DataFrame, dict]:
    """:func:`plan_loci` over several peak files: their windows, in file order, each window
    once (a window in several files keeps the first file's name and score).

    Parameters
    ----------
    peak_paths : list of path
        Peak files (each checked on its own, so messages name the file and line).
    chrom_sizes, window, off_chrom, center, fasta_name
        As in :func:`plan_loci`.

    Returns
    -------
    loci : DataFrame
        As in :func:`plan_loci` (idx 0..n-1).
    stats : dict
        Summed over the files; ``n_duplicates`` also counts windows repeated across files.
    """
    tables, stats = [], {"n_peaks": 0, "n_duplicates": 0, "n_off_chrom": 0,
                         "off_chrom": off_chrom}
    for path in peak_paths:
        loci, file_stats = plan_loci(read_peaks(path), chrom_sizes, window, off_chrom, center,
                                     peaks_name=str(path), fasta_name=fasta_name)
        tables.append(loci)
        for key in ("n_peaks", "n_duplicates", "n_off_chrom"):
            stats[key] += file_stats[key]
    union = pd.concat(tables, ignore_index=True)
    repeated = union.duplicated(subset=["chrom", "start"], keep="first").to_numpy()
    union = union[~repeated].reset_index(drop=True)
    union["idx"] = np.arange(len(union))
    stats["n_duplicates"] += int(repeated.sum())
    stats["n_loci"] = len(union)
    return union, stats


def union_rows(target_loci: pd.DataFrame, union_loci: pd.DataFrame,
               target_file: str = "the target's peaks") -> np.ndarray:
    """Row (``idx``) in the union loci table of each of a target's windows, matched on
    (chrom, start).

    Returns
    -------
    numpy.ndarray of int64, shape (len(target_loci),)

    Raises
    ------
    InputError
        A window of the target is not among the union's (the two tables come from different
        configs: rerun extract_loci).
    """
    key = pd.MultiIndex.from_frame(union_loci[["chrom", "start"]].astype({"start": np.int64}))
    rows = key.get_indexer(pd.MultiIndex.from_frame(
        target_loci[["chrom", "start"]].astype({"start": np.int64})))
    if (rows < 0).any():
        bad = target_loci.iloc[int(np.argmax(rows < 0))]
        raise InputError(f"{target_file}: window {bad['chrom']}:{int(bad['start'])}-"
                         f"{int(bad['end'])} is not in loci/loci.tsv (the union of the peak "
                         "files); the two were made with different settings, delete "
                         "results/<run>/loci and rerun")
    return union_loci["idx"].to_numpy(np.int64)[rows]


def on_target_windows(table: pd.DataFrame, target_loci: pd.DataFrame | None,
                      column: str = "example_idx") -> pd.DataFrame:
    """Rows of a table indexed by ``loci/loci.tsv`` windows (``column``) that fall in a
    target's own windows, renumbered to them.

    ``target_loci`` is the target's ``loci/targets/<target>/loci.tsv`` (column
    ``union_idx``); without that column (or None) the table is returned unchanged.
    """
    if target_loci is None or "union_idx" not in target_loci.columns:
        return table
    to_target = pd.Series(target_loci["idx"].to_numpy(),
                          index=target_loci["union_idx"].to_numpy())
    mapped = table[column].map(to_target)
    kept = table[mapped.notna().to_numpy()].copy()
    kept[column] = mapped.dropna().astype(np.int64).to_numpy()
    return kept.reset_index(drop=True)
