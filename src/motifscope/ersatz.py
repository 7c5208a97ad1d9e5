"""Sequence edits for in-silico experiments: substitutions, insertions, deletions and shuffles.

Every function takes one-hot batches ``(N, 4, L)`` as torch tensors or numpy arrays (rows
A, C, G, T; N is an all-zero column) and returns the same kind of object with the same dtype
and on the same device. A plain DNA string is accepted too and a string comes back (a list of
``n`` strings for the random operations). Coordinates are 0-based half-open.

Random operations (``randomize``, ``shuffle``, ``dinucleotide_shuffle``) return
``(N, n, 4, L)``: ``n`` edited copies of every sequence. Their ``end`` follows tangermeme:
a negative ``end`` counts from one past the last position, so the default ``end=-1`` means L.

``dinucleotide_shuffle`` is counter-based: shuffle ``j`` of example ``i`` is a pure function
of ``(random_state, example_ids[i], j)``, computed with integer hashing in torch, so it does
not depend on the batch, on ``n`` beyond ``j``, or on the device (CPU and CUDA agree).
"""

from __future__ import annotations

import numpy as np
import torch

from motifscope.errors import InputError
from motifscope.sequence import characters, one_hot_encode
from motifscope.sequence import reverse_complement as reverse_complement  # re-export

__all__ = [
    "substitute",
    "multisubstitute",
    "insert",
    "delete",
    "randomize",
    "shuffle",
    "dinucleotide_shuffle",
    "reverse_complement",
]

# Rows of (N, n, S) work arrays per chunk in dinucleotide_shuffle: bounds memory to a few
# hundred MB whatever N is; results do not depend on it (shuffles are counter-based).
_MAX_CHUNK_ELEMENTS = 1 << 23


# --------------------------------------------------------------------------------------
# input / output plumbing
# --------------------------------------------------------------------------------------


def _as_batch(X, name: str = "X"):
    """Return ``(tensor (N, 4, L), restore)`` where ``restore`` maps a tensor result back.

    ``restore(Y, random=False)`` turns an (N, 4, L') or (N, n, 4, L') tensor back into the
    caller's kind: a tensor, a numpy array, or for a string input a string (or a list of
    ``n`` strings for random operations).
    """
    if isinstance(X, str):
        tensor = torch.from_numpy(one_hot_encode(X))[None]

        def restore(Y, random=False):
            if random:
                return [characters(y) for y in Y[0]]
            return characters(Y[0])

        return tensor, restore
    if isinstance(X, torch.Tensor):
        tensor = X

        def restore(Y, random=False):
            return Y
    else:
        array = np.asarray(X)
        if array.dtype == object:
            raise InputError(f"{name} must be a DNA string or an (N, 4, L) one-hot array; "
                             "for several strings use motifscope.sequence.one_hot_encode_batch")
        tensor = torch.from_numpy(np.ascontiguousarray(array))

        def restore(Y, random=False):
            return Y.numpy()
    if tensor.ndim != 3 or tensor.shape[1] != 4:
        raise InputError(f"{name} must have shape (N, 4, L) (rows A, C, G, T), got "
                         f"{tuple(tensor.shape)}; add a batch axis with X[None] for one sequence")
    return tensor, restore


def _resolve_span(start: int, end: int, length: int, name: str) -> tuple[int, int]:
    """Apply tangermeme's convention (negative end means ``length + 1 + end``) and check."""
    if end is None:
        end = length
    if end < 0:
        end = length + 1 + end
    if start is None:
        start = 0
    if not 0 <= start < end <= length:
        raise InputError(f"{name}: span [start={start}, end={end}) is empty or falls off a "
                         f"sequence of length {length}; pass 0 <= start < end <= {length}")
    return int(start), int(end)


def _draw_seed(random_state) -> int:
    """An integer seed from an int, a numpy RandomState/Generator, or None (fresh entropy)."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    raise InputError(f"random_state must be an int, a numpy RandomState/Generator or None, "
                     f"got {type(random_state).__name__}")


# --------------------------------------------------------------------------------------
# counter-based hashing (splitmix64 finaliser in wrapping int64 arithmetic)
# --------------------------------------------------------------------------------------

def _signed64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed64(0x9E3779B97F4A7C15)
_MIX1 = _signed64(0xBF58476D1CE4E5B9)
_MIX2 = _signed64(0x94D049BB133111EB)


def _logical_shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    # torch's >> on int64 is arithmetic; mask off the copied sign bits.
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _mix64(x: torch.Tensor) -> torch.Tensor:
    """splitmix64 of int64 tensor ``x`` (bit-identical to the uint64 reference, wrapping)."""
    z = x + _GOLDEN
    # in place: these tensors are (N, n, L) and each pass is memory bound
    for bits, multiplier in ((30, _MIX1), (27, _MIX2), (31, None)):
        shifted = z >> bits
        shifted &= (1 << (64 - bits)) - 1
        z ^= shifted
        if multiplier is not None:
            z *= multiplier
    return z


def _stream_keys(seed: int, example_ids: torch.Tensor, n: int, length: int,
                 domain: int = 0) -> torch.Tensor:
    """Random int64 keys ``(N, n, length)``: a pure function of (seed, domain, example id,
    draw, position). ``domain`` separates the streams of different operations."""
    device = example_ids.device
    root = _mix64(torch.tensor(_signed64(seed), dtype=torch.int64, device=device))
    if domain:
        root = _mix64(root + domain)
    per_example = _mix64(root ^ example_ids.to(torch.int64))
    shuffles = torch.arange(n, device=device, dtype=torch.int64)
    per_shuffle = _mix64(per_example[:, None] ^ shuffles[None, :])
    positions = torch.arange(length, device=device, dtype=torch.int64)
    return _mix64(per_shuffle[:, :, None] ^ positions)


# --------------------------------------------------------------------------------------
# deterministic edits: substitute, multisubstitute, insert, delete
# --------------------------------------------------------------------------------------


def _motif_batch(motif, X: torch.Tensor, name: str = "motif") -> torch.Tensor:
    """A motif as a (1 or N, 4, w) tensor in X's dtype/device; all-zero columns mean "keep".

    Accepts a string (N and other ambiguity codes become all-zero "keep" columns), a (4, w)
    one-hot matrix, or a (1, 4, w) / (N, 4, w) batch (one motif per sequence).
    """
    if isinstance(motif, str):
        tensor = torch.from_numpy(one_hot_encode(motif))[None]
    else:
        tensor = motif if isinstance(motif, torch.Tensor) else torch.from_numpy(
            np.ascontiguousarray(np.asarray(motif)))
        if tensor.ndim == 2:
            tensor = tensor[None]
    if tensor.ndim != 3 or tensor.shape[1] != 4:
        raise InputError(f"{name} must be a DNA string or a (4, w) / (N, 4, w) one-hot array, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.shape[0] not in (1, X.shape[0]):
        raise InputError(f"{name} has a batch of {tensor.shape[0]} but X has {X.shape[0]} "
                         "sequences; pass one motif, or one per sequence")
    column_sums = tensor.sum(dim=1)
    not_binary = bool(((tensor != 0) & (tensor != 1)).any())
    if not_binary or bool(((column_sums != 0) & (column_sums != 1)).any()):
        raise InputError(f"{name} has columns that are not one-hot; substitute a consensus "
                         "(motifscope.marginalize.consensus) or sampled instances of a PWM")
    return tensor.to(device=X.device, dtype=X.dtype)


def _check_start(start: int, width: int, length: int, name: str) -> int:
    if width > length:
        raise InputError(f"{name}: the motif ({width} bp) is longer than the sequences "
                         f"({length} bp); use longer sequences or a shorter motif")
    if not 0 <= start <= length - width:
        raise InputError(f"{name}: start={start} puts the {width} bp motif off the end of "
                         f"{length} bp sequences; use 0 <= start <= {length - width}")
    return int(start)


def substitute(X, motif, start: int | None = None):
    """Overwrite a span of every sequence with a motif (the sequence length is unchanged).

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
        One-hot sequences.
    motif : str, or array/tensor of shape (4, w), (1, 4, w) or (N, 4, w)
        One-hot motif; a batch of N pairs motif i with sequence i. N in a string motif (an
        all-zero column in an array) keeps the original base at that position.
    start : int, optional
        First overwritten position; default centres the motif: ``L // 2 - w // 2``.

    Returns
    -------
    Same kind as X, shape (N, 4, L)
        A copy; X is not modified.

    Raises
    ------
    InputError
        If the motif is longer than the sequences or ``start`` puts it off the end.
    """
    X, restore = _as_batch(X)
    motif = _motif_batch(motif, X)
    width, length = motif.shape[-1], X.shape[-1]
    start = _check_start(length // 2 - width // 2 if start is None else start, width, length,
                         "substitute")
    out = X.clone()
    window = out[:, :, start:start + width]
    keep = motif.sum(dim=1, keepdim=True) == 0
    out[:, :, start:start + width] = torch.where(keep, window, motif.expand_as(window))
    return restore(out)


def multisubstitute(X, motifs, spacing, start: int | None = None):
    """Substitute several motifs in a row, separated by given gaps.

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
    motifs : list of motifs (each as accepted by :func:`substitute`)
    spacing : int or list of int
        Gap (bp) from the end of motif i to the start of motif i+1; an int is used for every
        gap, a list must have ``len(motifs) - 1`` entries, each >= 0.
    start : int, optional
        Start of the first motif; default centres the whole arrangement:
        ``L // 2 - (sum(spacing) + sum(widths)) // 2``.

    Returns
    -------
    Same kind as X, shape (N, 4, L)
    """
    X, restore = _as_batch(X)
    motifs = [_motif_batch(m, X, name=f"motifs[{i}]") for i, m in enumerate(motifs)]
    if not motifs:
        raise InputError("multisubstitute needs at least one motif")
    gaps = [int(spacing)] * (len(motifs) - 1) if np.isscalar(spacing) else [int(g) for g in spacing]
    if len(gaps) != len(motifs) - 1 or any(g < 0 for g in gaps):
        raise InputError(f"multisubstitute: spacing must be one int >= 0 or {len(motifs) - 1} "
                         f"ints >= 0 (one per gap), got {spacing!r}")
    widths = [m.shape[-1] for m in motifs]
    total = sum(widths) + sum(gaps)
    if start is None:
        start = X.shape[-1] // 2 - total // 2
    _check_start(start, total, X.shape[-1], "multisubstitute")
    out = X
    for motif, width, gap in zip(motifs, widths, gaps + [0]):
        out = substitute(out, motif, start=start)
        start += width + gap
    return restore(out)


def insert(X, motif, start: int | None = None):
    """Insert a motif between positions ``start - 1`` and ``start`` (sequences grow by w).

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
    motif : str, or array/tensor (4, w), (1, 4, w) or (N, 4, w)
        One-hot; N (all-zero columns) are inserted as N.
    start : int, optional
        Insertion point, 0 <= start <= L; default ``L // 2``.

    Returns
    -------
    Same kind as X, shape (N, 4, L + w)
    """
    X, restore = _as_batch(X)
    motif = _motif_batch(motif, X)
    length = X.shape[-1]
    start = length // 2 if start is None else int(start)
    if not 0 <= start <= length:
        raise InputError(f"insert: start={start} is outside 0..{length} (the insertion point)")
    motif = motif.expand(X.shape[0], -1, -1)
    return restore(torch.cat([X[:, :, :start], motif, X[:, :, start:]], dim=-1))


def delete(X, start: int, end: int):
    """Remove positions ``[start, end)`` (sequences shrink by ``end - start``).

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
    start, end : int
        0 <= start < end <= L (no negative indexing).

    Returns
    -------
    Same kind as X, shape (N, 4, L - (end - start))
    """
    X, restore = _as_batch(X)
    length = X.shape[-1]
    if not 0 <= start < end <= length:
        raise InputError(f"delete: need 0 <= start < end <= {length}, got start={start}, "
                         f"end={end}")
    return restore(torch.cat([X[:, :, :start], X[:, :, end:]], dim=-1))


# --------------------------------------------------------------------------------------
# random edits: randomize, shuffle
# --------------------------------------------------------------------------------------


def _example_ids(example_ids, n_examples: int, device, name: str) -> torch.Tensor:
    if example_ids is None:
        return torch.arange(n_examples, device=device, dtype=torch.int64)
    if isinstance(example_ids, torch.Tensor):  # may live on another device
        ids = example_ids.detach().to(device=device, dtype=torch.int64).reshape(-1)
    else:
        ids = torch.as_tensor(np.asarray(example_ids), dtype=torch.int64, device=device).reshape(-1)
    if ids.shape[0] != n_examples:
        raise InputError(f"{name}: example_ids has {ids.shape[0]} entries but X has "
                         f"{n_examples} sequences; pass one id per sequence")
    return ids


def _uniform(keys: torch.Tensor) -> torch.Tensor:
    """Map int64 hash keys to float64 uniforms in [0, 1) (53 random bits)."""
    return _logical_shift_right(keys, 11).to(torch.float64) * (2.0 ** -53)


def _one_hot_tokens(tokens: torch.Tensor, dtype) -> torch.Tensor:
    """(..., S) base indices -> (..., 4, S) one-hot."""
    alphabet = torch.arange(4, device=tokens.device)
    return (tokens.unsqueeze(-2) == alphabet[:, None]).to(dtype)


def randomize(X, start: int, end: int, probs=((0.25, 0.25, 0.25, 0.25),), n: int = 1,
              random_state=None, example_ids=None):
    """Replace ``[start, end)`` with i.i.d. random bases, ``n`` times per sequence.

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
    start, end : int
        Span to replace; negative ``end`` means ``L + 1 + end``.
    probs : array-like, shape (4,), (1, 4) or (N, 4), default uniform
        Base probabilities (A, C, G, T) shared by all sequences or one row per sequence; each
        row must sum to 1 (within 1e-6).
    n : int, default 1
        Draws per sequence.
    random_state : int, numpy RandomState/Generator or None
        Seed; draw ``j`` of example ``i`` depends only on (seed, example_ids[i], j).
    example_ids : sequence of int, shape (N,), optional
        Stable example identifiers (default ``arange(N)``).

    Returns
    -------
    Same kind as X, shape (N, n, 4, L)
        Positions outside the span are copied.
    """
    X, restore = _as_batch(X)
    start, end = _resolve_span(start, end, X.shape[-1], "randomize")
    probs = torch.as_tensor(np.asarray(probs, dtype=np.float64)).reshape(-1, 4)
    if probs.shape[0] not in (1, X.shape[0]) or bool((probs < 0).any()) or \
            bool(((probs.sum(dim=1) - 1).abs() > 1e-6).any()):
        raise InputError("randomize: probs must be 4 non-negative numbers (A, C, G, T) summing "
                         "to 1, as one row or one row per sequence; got shape "
                         f"{tuple(probs.shape)}")
    if int(n) < 1:
        raise InputError(f"randomize: n must be >= 1, got {n}")
    ids = _example_ids(example_ids, X.shape[0], X.device, "randomize")
    keys = _stream_keys(_draw_seed(random_state), ids, int(n), end - start, domain=2)
    thresholds = torch.cumsum(probs / probs.sum(dim=1, keepdim=True), dim=1)[:, :3].to(X.device)
    tokens = (_uniform(keys)[..., None] >= thresholds[:, None, None, :]).sum(dim=-1)
    out = X.unsqueeze(1).repeat(1, int(n), 1, 1)
    out[:, :, :, start:end] = _one_hot_tokens(tokens, X.dtype)
    return restore(out, random=True)


def shuffle(X, start: int = 0, end: int = -1, n: int = 1, random_state=None, example_ids=None):
    """Permute the columns of ``[start, end)`` at random (mononucleotide shuffle), ``n`` times.

    Unlike tangermeme (one permutation per draw shared by all sequences), every (example,
    draw) gets its own permutation, a pure function of (seed, example id, draw). N columns
    inside the span are moved, not removed, so base and N counts are kept.

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
    start : int, default 0
    end : int, default -1
        Negative values mean ``L + 1 + end`` (so -1 is L).
    n : int, default 1
    random_state : int, numpy RandomState/Generator or None
    example_ids : sequence of int, shape (N,), optional

    Returns
    -------
    Same kind as X, shape (N, n, 4, L)
    """
    X, restore = _as_batch(X)
    start, end = _resolve_span(start, end, X.shape[-1], "shuffle")
    if int(n) < 1:
        raise InputError(f"shuffle: n must be >= 1, got {n}")
    ids = _example_ids(example_ids, X.shape[0], X.device, "shuffle")
    keys = _stream_keys(_draw_seed(random_state), ids, int(n), end - start, domain=1)
    permutation = torch.sort(keys, dim=-1, stable=True).indices  # (N, n, S)
    out = X.unsqueeze(1).repeat(1, int(n), 1, 1)
    span = out[:, :, :, start:end]
    index = permutation[:, :, None, :].expand_as(span)
    out[:, :, :, start:end] = torch.gather(span, 3, index)
    return restore(out, random=True)


# --------------------------------------------------------------------------------------
# dinucleotide shuffle
# --------------------------------------------------------------------------------------


def _span_tokens(X: torch.Tensor, start: int, end: int, example_ids) -> torch.Tensor:
    """Base indices (N, S) of the span, with one clear error for N or non-one-hot columns."""
    span = X[:, :, start:end]
    column_sums = span.sum(dim=1)
    top, tokens = span.max(dim=1)
    bad = (column_sums != 1) | (top != 1)
    if bool(bad.any()):
        example, position = (int(v) for v in torch.nonzero(bad)[0])
        label = _example_label(example, example_ids)
        if float(column_sums[example, position]) == 0:
            raise InputError(
                f"dinucleotide_shuffle: {label} has N (an all-zero column) at position "
                f"{start + position}; a dinucleotide shuffle cannot handle N: remove windows "
                "with N, or use a different background/reference kind")
        raise InputError(f"dinucleotide_shuffle: {label} is not one-hot at position "
                         f"{start + position}; pass 0/1 columns with exactly one 1")
    return tokens.to(torch.int64)


def _example_label(index: int, example_ids) -> str:
    if example_ids is None:
        return f"example {index}"
    return f"example {index} (id {int(example_ids[index])})"


def _last_edge_mask(edge_chars: torch.Tensor) -> torch.Tensor:
    """True where edge p is the last out-edge of its character (kept fixed by the walk)."""
    n_rows, n_edges = edge_chars.shape
    positions = torch.arange(n_edges, device=edge_chars.device).expand(n_rows, -1)
    last_position = torch.full((n_rows, 4), -1, dtype=torch.int64, device=edge_chars.device)
    last_position.scatter_reduce_(1, edge_chars, positions, reduce="amax")
    return positions == last_position.gather(1, edge_chars)


def _check_shuffleable(tokens: torch.Tensor, is_last: torch.Tensor, start: int,
                       example_ids) -> None:
    """Raise if some sequence has exactly one dinucleotide shuffle (itself).

    The walk's output is fixed by, for each character, the ordered list of characters that
    follow it; only the non-last entries are permuted, so a sequence can change iff some
    character has two different followers among its non-last out-edges.
    """
    pair = tokens[:, :-1] * 4 + tokens[:, 1:]
    seen = torch.zeros(tokens.shape[0], 16, dtype=torch.int64, device=tokens.device)
    seen.scatter_add_(1, pair, (~is_last).to(torch.int64))
    distinct_followers = (seen.view(-1, 4, 4) > 0).sum(dim=2)
    shuffleable = (distinct_followers >= 2).any(dim=1)
    if not bool(shuffleable.all()):
        example = int(torch.nonzero(~shuffleable)[0, 0])
        raise InputError(
            f"dinucleotide_shuffle: {_example_label(example, example_ids)} cannot be shuffled "
            f"(every dinucleotide shuffle of positions [{start}, {start + tokens.shape[1]}) is "
            "the sequence itself, e.g. a homopolymer or simple repeat); drop it or use "
            "another background/reference kind")


def _walk(tokens: torch.Tensor, is_last: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Shuffle each row of ``tokens`` (N, S) once per key row: keys (N, n, S-1) -> (N, n, S).

    Each character's successor list is ordered by the random keys, with its last edge
    (``is_last``, (N, S-1) or per shuffle (N, n, S-1)) forced to the end, then the Euler
    walk from the first base reads the lists in order. The loop is over positions only; each
    step is a few batched gathers over all N x n walks.
    """
    n_examples, n, n_edges = keys.shape
    rows = n_examples * n
    device = tokens.device
    edge_chars, next_chars = tokens[:, :-1], tokens[:, 1:]
    if is_last.ndim == 2:  # one last edge per character for all shuffles (deeplift scheme)
        is_last = is_last[:, None, :]
    # group edges by character, fixed last edges at the end of each group, random within
    sort_keys = (edge_chars << 61)[:, None, :] | (is_last.to(torch.int64) << 60)
    sort_keys = sort_keys | _logical_shift_right(keys, 4)
    order = torch.sort(sort_keys, dim=2, stable=True).indices
    follower = torch.gather(next_chars[:, None, :].expand(-1, n, -1), 2, order).reshape(-1)

    counts = torch.zeros(n_examples, 4, dtype=torch.int64, device=device)
    counts.scatter_add_(1, edge_chars, torch.ones_like(edge_chars))
    offsets = (torch.cumsum(counts, dim=1) - counts).repeat_interleave(n, dim=0)
    pointer = (offsets + torch.arange(rows, device=device)[:, None] * n_edges).reshape(-1)

    current = tokens[:, 0].repeat_interleave(n)
    steps = [current]
    row_base = torch.arange(rows, device=device) * 4
    for _ in range(n_edges):
        slot = row_base + current
        edge = torch.take(pointer, slot)
        pointer.index_put_((slot,), edge + 1)
        current = torch.take(follower, edge)
        steps.append(current)
    return torch.stack(steps, dim=1).view(n_examples, n, n_edges + 1)


# Every parent assignment of the 4 characters (row a: parent of character v is a[v]), and
# the same assignment iterated 3 times: a tree rooted at t sends every present character to
# t within 3 steps.
_PARENTS = torch.cartesian_prod(*[torch.arange(4)] * 4)
_PARENTS_3 = _PARENTS.gather(1, _PARENTS.gather(1, _PARENTS))


def _pair_counts(tokens: torch.Tensor) -> torch.Tensor:
    """(N, 4, 4) dinucleotide counts: c[i, v, w] = number of edges v -> w."""
    pairs = tokens[:, :-1] * 4 + tokens[:, 1:]
    counts = torch.zeros(tokens.shape[0], 16, dtype=torch.int64, device=tokens.device)
    counts.scatter_add_(1, pairs, torch.ones_like(pairs))
    return counts.view(-1, 4, 4)


def _tree_weights(tokens: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(N, 256) number of edge-level last-exit arborescences toward the last base per parent
    assignment: prod over present non-final characters v of c[v, parent(v)], 0 if not a tree."""
    device = tokens.device
    last = tokens[:, -1]
    out_degree = counts.sum(dim=2)
    eye = torch.eye(4, dtype=torch.bool, device=device)
    free = (out_degree > 0) & (torch.arange(4, device=device) != last[:, None])  # (N, 4)
    # free characters choose a parent among their followers (not themselves); the final
    # character and absent ones are fixed points
    weight = torch.where(free[:, :, None], counts.masked_fill(eye, 0), eye.to(torch.int64))
    parents = _PARENTS.to(device)
    per_vertex = weight.to(torch.float64).gather(
        2, parents.T[None].expand(len(tokens), -1, -1))  # (N, 4, 256)
    present = free | (torch.arange(4, device=device) == last[:, None])
    reaches_root = _PARENTS_3.to(device)[None] == last[:, None, None]  # (N, 256, 4)
    tree = (reaches_root | ~present[:, None, :]).all(dim=2)
    return per_vertex.prod(dim=1) * tree


def _check_uniform_shuffleable(tokens, counts, weights, start, example_ids) -> None:
    """Raise if some sequence is its only dinucleotide-preserving arrangement.

    Distinct Eulerian paths from the first to the last base (BEST theorem, parallel edges
    identified): W * prod_{v != t} (d_v - 1)! * d_t! / prod_{v,w} c_vw!, in log space.
    """
    last = tokens[:, -1]
    degree = counts.sum(dim=2).to(torch.float64)
    is_last_char = torch.arange(4, device=tokens.device) == last[:, None]
    log_orderings = torch.where(is_last_char, torch.lgamma(degree + 1),
                                torch.lgamma(degree.clamp(min=1))).sum(dim=1)
    log_paths = (torch.log(weights.sum(dim=1)) + log_orderings
                 - torch.lgamma(counts.to(torch.float64) + 1).sum(dim=(1, 2)))
    single = log_paths < np.log(1.5)
    if bool(single.any()):
        example = int(torch.nonzero(single)[0, 0])
        raise InputError(
            f"dinucleotide_shuffle: {_example_label(example, example_ids)} cannot be shuffled "
            f"(positions [{start}, {start + tokens.shape[1]}) have no other arrangement with "
            "the same dinucleotides, e.g. a homopolymer or simple repeat); drop it or use "
            "another background/reference kind")


def _uniform_last_edges(tokens, counts, weights, keys) -> torch.Tensor:
    """Last out-edges (N, n, S-1) of a uniformly drawn arborescence, one per shuffle.

    A parent assignment is drawn with probability proportional to its number of edge-level
    trees, then for each character one of its edges to that parent uniformly; with the other
    edges permuted uniformly by the walk, every dinucleotide-preserving sequence with the
    same ends is equally likely (Kandel et al. 1996; Altschul & Erickson 1985).
    """
    n_examples, n = keys.shape[:2]
    uniforms = _uniform(keys)  # (N, n, 5): one for the tree, one per character
    cumulative = weights.cumsum(dim=1)
    target = uniforms[:, :, 0] * cumulative[:, -1:]
    choice = torch.searchsorted(cumulative.contiguous(), target.contiguous(), right=True)
    parent = _PARENTS.to(tokens.device)[choice.clamp(max=_PARENTS.shape[0] - 1)]  # (N, n, 4)
    parallel = counts.gather(2, parent.transpose(1, 2)).transpose(1, 2)  # c[v, parent(v)]
    rank = (uniforms[:, :, 1:] * parallel).floor().to(torch.int64)  # which parallel edge
    edge_chars, next_chars = tokens[:, :-1], tokens[:, 1:]
    pair = edge_chars * 4 + next_chars
    one_hot = torch.nn.functional.one_hot(pair, 16)
    pair_rank = (one_hot.cumsum(dim=1) - one_hot).gather(2, pair[..., None])[..., 0]  # (N, S-1)
    index = edge_chars[:, None, :].expand(-1, n, -1)
    return ((parent.gather(2, index) == next_chars[:, None, :])
            & (rank.gather(2, index) == pair_rank[:, None, :])
            & (edge_chars != tokens[:, -1:])[:, None, :])


def dinucleotide_shuffle(X, n: int = 20, start: int = 0, end: int = -1, random_state=None,
                         example_ids=None, method: str = "deeplift"):
    """Shuffle sequences keeping every dinucleotide count and the first and last base.

    ``method="deeplift"`` (default) is the deeplift / tangermeme Euler-walk scheme: each
    base's ordered list of successor positions is permuted, except its last entry which stays
    fixed (so the walk never gets stuck), and the walk from the first base of the span reads
    the lists in order. Like tangermeme it samples only shuffles sharing the original
    last-exit edges, so it is not uniform over all dinucleotide-preserving sequences (9 of
    the 72 arrangements of ``ACCCACGATGATA``, tangermeme issue #27); it has tangermeme's
    distribution but not its exact draws. ``method="uniform"`` first draws the last-exit
    edges as a random arborescence (Kandel et al. 1996), weighted so that every
    dinucleotide-preserving sequence with the same ends is equally likely.

    Parameters
    ----------
    X : torch.Tensor or numpy.ndarray, shape (N, 4, L), or str
        One-hot sequences; the span ``[start, end)`` must contain no N (all-zero column).
    n : int, default 20
        Shuffles per sequence.
    start : int, default 0
        First shuffled position (inclusive).
    end : int, default -1
        End of the span; negative values mean ``L + 1 + end`` (so -1 is L). Positions outside
        ``[start, end)`` are copied unchanged.
    random_state : int, numpy RandomState/Generator or None, default None
        Seed; None draws a fresh one. Shuffle ``j`` of example ``i`` depends only on
        ``(random_state, example_ids[i], j)``: not on the batch size, on which other examples
        are in the call, on ``n`` (``n=1`` equals slice ``[:, :1]`` of ``n=3``), or the device.
    example_ids : sequence of int or tensor, shape (N,), optional
        Stable identifiers of the examples (default ``arange(N)``); pass global indices when
        shuffling a batch of a larger data set.
    method : {"deeplift", "uniform"}, default "deeplift"
        Fixed original last edges (tangermeme-compatible), or uniform over every arrangement.

    Returns
    -------
    Same kind as X, shape (N, n, 4, L)
        Dtype and device of ``X``; for a string input, a list of ``n`` strings.

    Raises
    ------
    InputError
        If the span has N or non-one-hot columns, is shorter than 3 bp, or some sequence has
        no shuffle other than itself under ``method`` (homopolymers, ``AATA``; ``CAACC`` only
        under "deeplift"); names the example.
    """
    X, restore = _as_batch(X)
    if method not in ("deeplift", "uniform"):
        raise InputError(f"dinucleotide_shuffle: method '{method}' is unknown; use 'deeplift' "
                         "or 'uniform'")
    if int(n) < 1:
        raise InputError(f"dinucleotide_shuffle: n must be >= 1, got {n}")
    n = int(n)
    start, end = _resolve_span(start, end, X.shape[-1], "dinucleotide_shuffle")
    seed = _draw_seed(random_state)
    n_examples = X.shape[0]
    ids = _example_ids(example_ids, n_examples, X.device, "dinucleotide_shuffle")
    tokens = _span_tokens(X, start, end, example_ids)
    if tokens.shape[1] < 3:
        raise InputError(f"dinucleotide_shuffle: the span is {tokens.shape[1]} bp long; it "
                         "needs at least 3 bases to be shuffled (widen start/end)")
    if method == "deeplift":
        is_last = _last_edge_mask(tokens[:, :-1])
        _check_shuffleable(tokens, is_last, start, example_ids)
    else:
        counts = _pair_counts(tokens)
        weights = _tree_weights(tokens, counts)
        _check_uniform_shuffleable(tokens, counts, weights, start, example_ids)

    span = end - start
    result = X.unsqueeze(1).repeat(1, n, 1, 1)
    alphabet = torch.arange(4, device=X.device)
    chunk = max(1, _MAX_CHUNK_ELEMENTS // (n * span))
    for first in range(0, n_examples, chunk):
        rows = slice(first, first + chunk)
        keys = _stream_keys(seed, ids[rows], n, span - 1)
        if method == "uniform":
            tree_keys = _stream_keys(seed, ids[rows], n, 5, domain=3)
            is_last = _uniform_last_edges(tokens[rows], counts[rows], weights[rows], tree_keys)
            shuffled = _walk(tokens[rows], is_last, keys)
        else:
            shuffled = _walk(tokens[rows], is_last[rows], keys)
        result[rows, :, :, start:end] = (shuffled[:, :, None, :] == alphabet[:, None]).to(X.dtype)
    return restore(result, random=True)
