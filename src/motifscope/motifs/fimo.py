"""FIMO motif scanning with MEME's exact scores and p-values, as a batched convolution.

Scoring follows MEME FIMO (``pssm.c``) step by step, so scores and p-values are MEME's:

1. **Pseudocount.** ``p' = (p * nsites + pseudocount * bg) / (nsites + pseudocount)`` with
   the motif's nsites truncated to an integer (20 when the file gives none).
2. **Log-odds.** ``LO = log(p' / bg) * 1.44269504`` (MEME's ``my_log2``; a probability of 0,
   possible only without pseudocount, gets MEME's log of ~0).
3. **Integer matrix.** ``offset = floor(min LO)``, ``scale = floor(1000 / (max LO - offset))``
   and every entry is rounded to ``nint((LO - offset) * scale)``, so a site's score is an
   integer in ``[0, 1000 w]``.
4. **P-values.** The exact distribution of the integer score of a random site (letters
   drawn from the background) by dynamic programming, and ``p = P(S >= s)``.
5. **Reported score.** ``s / scale + w * offset`` (bits, as FIMO prints it).

Sites whose window contains N (an all-zero one-hot column) are not scored, as in MEME.
Hits have ``p-value < threshold`` (pymemesuite's rule). Every window is scanned, including
the one ending at the last base (pymemesuite 0.1.0a4 skips that one). The reverse strand
uses the reverse-complemented integer matrix; with both strands the background is made
symmetric (A/T and C/G averaged), as MEME does for complementable alphabets.

The scan is a convolution of the one-hot sequences with the integer matrices, written as
one matrix product (windows x matrices, float32, exact for these integers) per group of
motifs of similar width, in chunks that keep the score block to ~64 MB, on CPU or GPU.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from motifscope.errors import InputError
from motifscope.motifs._motif_list import MotifList, apply_pseudocount, as_motif_list, bh_qvalues, \
    check_background
from motifscope.sequence import one_hot_encode, reverse_complement
from motifscope.utils import as_numpy, full_float32_matmul, progress, resolve_device

PSSM_RANGE = 1000
# MEME's my_log2 multiplies the natural log by this truncated 1/ln(2).
_MEME_LOG2E = 1.44269504
# MEME's my_log2(0) returns SMALL_POS instead of -infinity.
_SMALL_POS = 1e-300
FIMO_COLUMNS = ["motif_id", "motif_alt_id", "sequence_name", "start", "end", "strand",
                "score", "p-value", "q-value", "matched_sequence"]
# Bytes of the float32 score block of one convolution call.
_BLOCK_BYTES = 64 * 2**20


class PSSM:
    """A motif's MEME integer scoring matrix and its exact p-value table.

    Attributes
    ----------
    matrix : numpy.ndarray of int64, shape (4, w)
        Integer scores, rows A, C, G, T.
    scale : float
    offset : float
    pvalues : numpy.ndarray of float64, shape (w * 1000 + 1,)
        ``pvalues[s] = P(S >= s)`` for a random site under the background.
    """

    def __init__(self, matrix: np.ndarray, background: np.ndarray):
        log_odds = _meme_log2(matrix / background[:, None])
        small, large = float(log_odds.min()), float(log_odds.max())
        if large == small:
            small = large - 1
        self.offset = float(np.floor(small))
        self.scale = float(np.floor(PSSM_RANGE / (large - self.offset)))
        scaled = (log_odds - self.offset) * self.scale
        self.matrix = np.floor(scaled + 0.5).astype(np.int64)  # nint of a non-negative value
        self.width = matrix.shape[1]
        self.pvalues = _pvalue_table(self.matrix, background)

    def raw_score(self, scaled: np.ndarray) -> np.ndarray:
        """Scores in bits from integer scores: ``s / scale + w * offset``."""
        return scaled / self.scale + self.width * self.offset

    def threshold(self, p_threshold: float) -> int:
        """The smallest integer score whose p-value is below ``p_threshold`` (or beyond)."""
        below = np.flatnonzero(self.pvalues < p_threshold)
        return int(below[0]) if below.size else len(self.pvalues)


def _meme_log2(x: np.ndarray) -> np.ndarray:
    out = np.full(x.shape, _SMALL_POS)
    positive = x > 0
    out[positive] = np.log(x[positive]) * _MEME_LOG2E
    return out


def _pvalue_table(matrix: np.ndarray, background: np.ndarray) -> np.ndarray:
    """MEME's ``get_pv_lookup``: exact P(S >= s) by dynamic programming over columns.

    The additions are done letter by letter in MEME's order, so the table is the one MEME
    builds, bit for bit.
    """
    width = matrix.shape[1]
    pdf = np.zeros(width * PSSM_RANGE + 1)
    pdf[0] = 1.0
    top = 0
    for i in range(width):
        new = np.zeros_like(pdf)
        for letter in range(4):
            s = matrix[letter, i]
            new[s:s + top + 1] += pdf[:top + 1] * background[letter]
        top += int(matrix[:, i].max())
        pdf = new
    return np.minimum(np.cumsum(pdf[::-1])[::-1], 1.0)


def build_pssms(motifs: MotifList, background: np.ndarray, pseudocount: float) -> list[PSSM]:
    """MEME PSSMs of every motif (pseudocount applied with the same background)."""
    return [PSSM(apply_pseudocount(m, pseudocount, n, background), background)
            for m, n in zip(motifs.matrices, motifs.nsites)]


def fimo(motifs, sequences, threshold: float = 1e-4, background=None,
         pseudocount: float = 0.1, reverse_complement: bool = True, qvalues: bool = True,
         attributions=None, sequence_names=None, batch_size: int | None = None,
         device: str | torch.device = "auto", verbose: bool | None = None) -> pd.DataFrame:
    """Scan sequences for motif sites, as MEME FIMO does.

    Parameters
    ----------
    motifs : str, MotifSet, dict, list or array
        A MEME file, ``{name: (4, w) probabilities}``, a list of ``(4, w)`` arrays or an
        ``(n, 4, w)`` array. Columns are rescaled to sum to 1.
    sequences : array or tensor of shape (N, 4, L), or dict name -> str, or list of str
        One-hot sequences (rows A C G T; N = an all-zero column) or DNA strings (any
        case; N and IUPAC codes are N). Strings may differ in length.
    threshold : float, default 1e-4
        Report sites with ``p-value < threshold``.
    background : None, array of 4 floats, or "file"
        Letter frequencies for the log-odds, the p-values and the pseudocount: uniform
        (None), given, or the motif file's background (``"file"``, needs a MEME file or
        MotifSet). Made symmetric when scanning both strands.
    pseudocount : float, default 0.1
        MEME's ``--motif-pseudo``.
    reverse_complement : bool, default True
        Also scan the reverse strand.
    qvalues : bool, default True
        Add Benjamini-Hochberg q-values per motif over every scored window of both
        strands, monotonised over the reported hits (an upper bound on MEME's q-values,
        which estimate pi0). NaN when False.
    attributions : array or tensor of shape (N, 4, L), optional
        Hypothetical attributions for one-hot ``sequences``; adds the column
        ``attribution``: the sum of projected attributions (attributions x one-hot) over
        each hit's span.
    sequence_names : sequence of str, optional
        Names for the rows of a one-hot array (default: their integer index).
    batch_size : int, optional
        Sequences per convolution call (default: from a ~64 MB score budget).
    device : str or torch.device, default "auto"
    verbose : bool, optional
        Progress bar over motif groups and sequence chunks.

    Returns
    -------
    pandas.DataFrame
        Columns motif_id, motif_alt_id, sequence_name, start, end (0-based, half-open),
        strand (``+``/``-``), score (bits), p-value, q-value, matched_sequence (on the hit's
        strand), plus attribution when given; sorted by motif (input order), sequence,
        start and strand.

    Raises
    ------
    InputError
        For malformed motifs, non-DNA sequences, a one-hot array that is not (N, 4, L) or
        not one-hot, attributions of another shape, a bad background or threshold.

    Examples
    --------
    >>> hits = fimo("motifs/database.meme", X, threshold=1e-4)  # doctest: +SKIP
    """
    if not 0 < threshold <= 1:
        raise InputError(f"threshold {threshold} must be in (0, 1]")
    motif_list = as_motif_list(motifs, "motifs", probabilities=True)
    bg = _resolve_background(background, motif_list, reverse_complement)
    X, names = _as_onehot(sequences, sequence_names)
    attr = None
    if attributions is not None:
        attr = torch.as_tensor(as_numpy(attributions))
        if tuple(attr.shape) != tuple(X.shape):
            raise InputError(f"attributions have shape {tuple(attr.shape)} but the sequences "
                             f"are {tuple(X.shape)}; pass the (N, 4, L) attributions of these "
                             "sequences")
    pssms = build_pssms(motif_list, bg, pseudocount)
    dev = resolve_device(device)
    raw = _scan(pssms, X, threshold, reverse_complement, batch_size, dev, verbose)
    return _hit_table(raw, pssms, motif_list, X, names, attr, reverse_complement, qvalues)


def _resolve_background(background, motifs: MotifList, both_strands: bool) -> np.ndarray:
    if isinstance(background, str):
        if background != "file":
            raise InputError(f"background '{background}' is not understood; use None "
                             "(uniform), 4 frequencies, or 'file'")
        if motifs.background is None:
            raise InputError("background='file' needs motifs from a MEME file or a MotifSet")
        background = motifs.background
    bg = check_background(background)
    if both_strands:
        bg = (bg + bg[::-1]) / 2
    return bg


def _as_onehot(sequences, names) -> tuple[torch.Tensor, list]:
    """One-hot uint8 (N, 4, L) tensor on the CPU and the sequence names."""
    if isinstance(sequences, dict):
        names = list(sequences)
        sequences = list(sequences.values())
    if isinstance(sequences, str):
        sequences = [sequences]
    if isinstance(sequences, (list, tuple)) and sequences and isinstance(sequences[0], str):
        encoded = [one_hot_encode(s) for s in sequences]
        length = max(e.shape[1] for e in encoded)
        X = np.zeros((len(encoded), 4, length), dtype=np.uint8)
        for i, e in enumerate(encoded):
            X[i, :, :e.shape[1]] = e  # shorter sequences are padded with N
        X = torch.from_numpy(X)
        names = list(names) if names is not None else list(range(len(encoded)))
        return X, names
    if isinstance(sequences, (list, tuple)):
        lengths = {np.shape(s)[-1] for s in sequences}
        if len(lengths) > 1:
            raise InputError(f"one-hot sequences have different lengths {sorted(lengths)[:5]}; "
                             "pass an (N, 4, L) array of equal-length sequences or DNA strings")
        sequences = np.stack([as_numpy(s) for s in sequences]) if sequences else \
            np.zeros((0, 4, 0))
    X = torch.as_tensor(as_numpy(sequences))
    if X.ndim == 2:
        X = X[None]
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"sequences have shape {tuple(X.shape)}; pass one-hot (N, 4, L) "
                         "(rows A C G T) or DNA strings")
    column_sums = X.sum(1)
    if ((X != 0) & (X != 1)).any() or (column_sums > 1).any():
        raise InputError("sequences are not one-hot: every column must be all zeros (N) or "
                         "have a single 1")
    names = list(names) if names is not None else list(range(len(X)))
    if len(names) != len(X):
        raise InputError(f"{len(names)} sequence_names for {len(X)} sequences")
    return X.to(torch.uint8), names


def _width_groups(widths: np.ndarray, min_size: int = 48) -> list[np.ndarray]:
    """Motif indices grouped by width: padding to the group's widest motif wastes at most
    ~25% of the product, except that groups take at least ``min_size`` motifs (small
    matrix products are inefficient)."""
    order = np.argsort(widths, kind="stable")
    groups, current = [], []
    for i in order:
        if len(current) >= min_size and widths[i] > 1.25 * widths[current[0]] + 1:
            groups.append(np.array(current))
            current = []
        current.append(i)
    if current:
        groups.append(np.array(current))
    return groups


def _scan(pssms: list[PSSM], X: torch.Tensor, threshold: float, both: bool,
          batch_size: int | None, dev: torch.device, verbose: bool | None) -> dict:
    """Every window scoring at or above its motif's threshold score, without N.

    Returns a dict of int64 numpy arrays: sequence, motif, strand (0 +, 1 -), start and
    integer score.
    """
    n_seq, _, length = X.shape
    widths = np.array([p.width for p in pssms])
    # Windows containing N: prefix counts of all-zero columns.
    n_count = torch.cat([torch.zeros((n_seq, 1), dtype=torch.int32),
                         torch.cumsum((X.sum(1) == 0).to(torch.int32), 1)], 1)
    found = {k: [] for k in ("sequence", "motif", "strand", "start", "score")}
    groups = _width_groups(widths)
    jobs = []
    for group in groups:
        group_width = int(widths[group].max())
        rows = len(group) * (2 if both else 1)
        # The score block (rows) and the unfolded windows (4 * W) both stay near the budget.
        per_sequence = 4 * max(1, length) * (rows + 4 * group_width)
        step = batch_size or max(1, _BLOCK_BYTES // per_sequence)
        jobs += [(group, group_width, lo, min(n_seq, lo + step)) for lo in range(0, n_seq, step)]
    weights_cache = {}
    for group, group_width, lo, hi in progress(jobs, desc="fimo", unit="block", verbose=verbose):
        key = id(group)
        if key not in weights_cache:
            weights_cache.clear()
            weights_cache[key] = _group_weights(pssms, group, group_width, threshold, both, dev)
        weight, thresholds, motif_of_row, strand_of_row, width_of_row = weights_cache[key]
        x = X[lo:hi].to(device=dev, dtype=torch.float32)
        x = F.pad(x, (0, group_width - 1))
        n = hi - lo
        # im2col + GEMM (faster than conv1d for 4 input channels on the CPU): every window
        # as a row of 4 * W one-hot values, times the integer matrices, exact in float32.
        windows = x.unfold(2, group_width, 1).permute(0, 2, 1, 3).reshape(n * length, -1)
        with full_float32_matmul():
            scores = windows @ weight  # (n * length, rows)
        flat, row = torch.nonzero(scores >= thresholds[None, :], as_tuple=True)
        value = scores[flat, row]
        seq, start = flat // length, flat % length
        seq, row, start, value = (t.cpu() for t in (seq, row, start, value))
        w = width_of_row[row]
        fits = start + w <= length
        seq, row, start, value, w = seq[fits], row[fits], start[fits], value[fits], w[fits]
        seq = seq + lo
        clean = (n_count[seq, start + w] - n_count[seq, start]) == 0
        found["sequence"].append(seq[clean])
        found["motif"].append(motif_of_row[row[clean]])
        found["strand"].append(strand_of_row[row[clean]])
        found["start"].append(start[clean])
        found["score"].append(value[clean].round().to(torch.int64))
    return {k: torch.cat(v).numpy().astype(np.int64) if v else np.zeros(0, np.int64)
            for k, v in found.items()}


def _group_weights(pssms, group, group_width, threshold, both, dev):
    """GEMM weights (4 * W, rows) and per-row thresholds for one width group."""
    mats, thresholds, motif, strand, width = [], [], [], [], []
    for k in group:
        p = pssms[k]
        threshold_score = p.threshold(threshold)
        oriented = [(0, p.matrix)] + ([(1, p.matrix[::-1, ::-1])] if both else [])
        for s, m in oriented:
            padded = np.zeros((4, group_width))
            padded[:, :p.width] = m
            mats.append(padded)
            thresholds.append(threshold_score)
            motif.append(k)
            strand.append(s)
            width.append(p.width)
    weight = torch.tensor(np.stack(mats), dtype=torch.float32, device=dev)
    weight = weight.reshape(len(mats), -1).T.contiguous()  # (4 * W, rows), rows A C G T
    return (weight, torch.tensor(thresholds, dtype=torch.float32, device=dev),
            torch.tensor(motif), torch.tensor(strand), torch.tensor(width))


def _hit_table(raw: dict, pssms: list[PSSM], motifs: MotifList, X: torch.Tensor, names: list,
               attr, both: bool, qvalues: bool) -> pd.DataFrame:
    motif, seq, start, strand, scaled = (raw[k] for k in
                                         ("motif", "sequence", "start", "strand", "score"))
    widths = np.array([p.width for p in pssms])
    w = widths[motif]
    order = np.lexsort((strand, start, seq, motif))
    motif, seq, start, strand, scaled, w = (a[order] for a in
                                            (motif, seq, start, strand, scaled, w))
    p_values = np.empty(len(motif))
    score = np.empty(len(motif))
    for k in np.unique(motif):
        sel = motif == k
        p_values[sel] = pssms[k].pvalues[scaled[sel]]
        score[sel] = pssms[k].raw_score(scaled[sel])
    q = np.full(len(motif), np.nan)
    if qvalues and len(motif):
        q = _qvalues(p_values, motif, widths, X, both)
    table = pd.DataFrame({
        "motif_id": np.array(motifs.names, dtype=object)[motif],
        "motif_alt_id": np.array(motifs.alt_ids, dtype=object)[motif],
        "sequence_name": np.array(names, dtype=object)[seq] if len(seq) else [],
        "start": start,
        "end": start + w,
        "strand": np.where(strand == 1, "-", "+"),
        "score": score,
        "p-value": p_values,
        "q-value": q,
        "matched_sequence": _matched_sequences(X, seq, start, w, strand),
    })
    if attr is not None:
        table["attribution"] = _span_attributions(attr, X, seq, start, w)
    return table


def _qvalues(p_values, motif, widths, X, both) -> np.ndarray:
    """BH q-values per motif over all scored windows (both strands)."""
    n_seq, _, length = X.shape
    is_n = (X.sum(1) == 0).to(torch.int64)
    n_count = torch.cat([torch.zeros((n_seq, 1), dtype=torch.int64), torch.cumsum(is_n, 1)], 1)
    scored = {}  # windows without N, per motif width
    for w in np.unique(widths[np.unique(motif)]).tolist():
        scored[w] = int(((n_count[:, w:] - n_count[:, :length - w + 1]) == 0).sum()) \
            if w <= length else 0
    q = np.empty(len(p_values))
    for k in np.unique(motif):
        n_tests = scored[int(widths[k])] * (2 if both else 1)
        sel = motif == k
        q[sel] = bh_qvalues(torch.from_numpy(p_values[sel]), n_tests=n_tests).numpy()
    return q


def _matched_sequences(X, seq, start, w, strand) -> list[str]:
    letters = np.array(list("ACGTN"))
    index = (X.to(torch.int64) * torch.arange(1, 5)[None, :, None]).sum(1) - 1  # -1: N
    index = torch.where(index < 0, torch.full_like(index, 4), index).numpy()
    out = []
    for s, b, width, st in zip(seq, start, w, strand):
        text = "".join(letters[index[s, b:b + width]])
        out.append(reverse_complement(text) if st == 1 else text)
    return out


def span_attributions(hits: pd.DataFrame, attributions, X, first_example: int = 0) -> np.ndarray:
    """Sum of projected attributions over each hit's span, for hits in a block of loci.

    Parameters
    ----------
    hits : pandas.DataFrame
        Rows of :func:`fimo` whose ``sequence_name`` is an integer locus index in
        ``[first_example, first_example + N)``; columns start, end (0-based, half-open).
    attributions : array or tensor of shape (N, 4, L)
        Hypothetical attributions of the block.
    X : array or tensor of shape (N, 4, L)
        One-hot sequences of the block.
    first_example : int, default 0
        Locus index of the block's first row.

    Returns
    -------
    numpy.ndarray of float64, shape (len(hits),)
    """
    attr = torch.as_tensor(as_numpy(attributions))
    X = torch.as_tensor(as_numpy(X))
    if tuple(attr.shape) != tuple(X.shape):
        raise InputError(f"attributions have shape {tuple(attr.shape)} but the sequences are "
                         f"{tuple(X.shape)}; they must come from the same loci")
    seq = hits["sequence_name"].to_numpy().astype(np.int64) - first_example
    start = hits["start"].to_numpy().astype(np.int64)
    width = hits["end"].to_numpy().astype(np.int64) - start
    return _span_attributions(attr, X, seq, start, width)


def _span_attributions(attr, X, seq, start, w) -> np.ndarray:
    """Sum of projected attributions over each hit's span (float64 prefix sums)."""
    track = (attr.to(torch.float64) * X.to(torch.float64)).sum(1)
    prefix = torch.cat([torch.zeros((len(track), 1), dtype=torch.float64),
                        torch.cumsum(track, 1)], 1).numpy()
    return prefix[seq, start + w] - prefix[seq, start]


def fimo_counts(hits: pd.DataFrame, attribution_threshold: float | None = None,
                motifs=None) -> pd.DataFrame:
    """Per-motif hit counts, optionally of hits whose attribution passes a threshold.

    Parameters
    ----------
    hits : pandas.DataFrame
        From :func:`fimo` (with an ``attribution`` column when thresholding).
    attribution_threshold : float, optional
        Also count hits with ``attribution >= attribution_threshold`` (``n_above``), the
        FIMO-plus-attribution-thresholding count of motif instances the model uses.
    motifs : str, MotifSet, dict or list, optional
        The scanned motifs: every motif gets a row, with zero counts when it had no hit.

    Returns
    -------
    pandas.DataFrame
        Columns motif_id, motif_alt_id, n_hits, n_sequences (distinct sequence_name), and
        with a threshold n_above, mean_attribution; sorted by n_above (or n_hits),
        descending, then motif_id.

    Raises
    ------
    InputError
        When a threshold is given but the hits have no attribution column.
    """
    if attribution_threshold is not None and "attribution" not in hits.columns:
        raise InputError("attribution_threshold needs hits with an attribution column; pass "
                         "attributions= to fimo()")
    grouped = hits.groupby("motif_id", sort=True)
    out = pd.DataFrame({
        "motif_alt_id": grouped["motif_alt_id"].first(),
        "n_hits": grouped.size(),
        "n_sequences": grouped["sequence_name"].nunique(),
    })
    if attribution_threshold is not None:
        above = hits["attribution"] >= attribution_threshold
        out["n_above"] = above.groupby(hits["motif_id"]).sum()
        out["mean_attribution"] = grouped["attribution"].mean()
    out.index.name = "motif_id"
    out = out.reset_index()
    if motifs is not None:
        listing = as_motif_list(motifs, "motifs")
        every = pd.DataFrame({"motif_id": listing.names, "alt": listing.alt_ids})
        out = every.merge(out, on="motif_id", how="left")
        out["motif_alt_id"] = out["motif_alt_id"].fillna(out["alt"])
        out = out.drop(columns="alt")
        for column in ("n_hits", "n_sequences", "n_above"):
            if column in out:
                out[column] = out[column].fillna(0).astype(np.int64)
    key = "n_above" if attribution_threshold is not None else "n_hits"
    out = out.sort_values([key, "motif_id"], ascending=[False, True], kind="mergesort")
    return out.reset_index(drop=True)
