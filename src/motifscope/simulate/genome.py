"""A synthetic genome with motif instances planted in peaks: the demo's ground truth.

Chromosomes are i.i.d. background with a chosen GC fraction. Peaks are placed on
non-overlapping slots; each peak belongs to one planted motif (its "driver"), receives a
number of instances sampled from that motif's PWM on a random strand within ``spread`` bp
of the summit, and, with probability ``cooccurrence``, one instance of another planted motif.
A target is positive in a peak when a motif that drives it is planted there. Negative
regions (no driving motif) are set aside for training.

A motif planted with ``target=None`` is a *distractor*: it drives nothing and gets no peaks of
its own; instead its instances go into ``peaks`` regions drawn uniformly from all peaks and
negatives, so its presence carries no information about any label. A model that learned the
task has no reason to use it, which makes it the control of the summary's calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.utils import atomic_path

_BASES = np.array(list("ACGT"))

TRUTH_COLUMNS = ["chrom", "start", "end", "strand", "motif_id", "motif_alt_id", "target",
                 "peak", "sequence"]


@dataclass
class PlantedMotif:
    """One planted motif: which database motif, which target it drives, how often.

    Attributes
    ----------
    id : str
        Motif id in the motif database (e.g. ``"MA0139.2"``).
    target : str or None
        Target (model output) that the motif drives; None plants a distractor.
    peaks : int
        Number of peaks this motif drives (a distractor: regions, peaks or negatives alike,
        that receive it).
    copies : tuple of (int, int)
        Inclusive range of instances planted per peak.
    """

    id: str
    target: str | None
    peaks: int = 100
    copies: tuple[int, int] = (1, 2)


@dataclass
class GenomeSimulation:
    """Result of :func:`simulate_genome` (everything the demo writes under ``sim/``)."""

    chromosomes: dict[str, str]
    peaks: pd.DataFrame
    truth: pd.DataFrame
    regions: pd.DataFrame
    targets: list[str] = field(default_factory=list)


def _background(rng: np.random.Generator, length: int, gc: float) -> np.ndarray:
    probs = np.array([(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    return rng.choice(4, size=length, p=probs).astype(np.int8)


def _sample_instance(rng: np.random.Generator, pwm: np.ndarray) -> np.ndarray:
    """Draw one site from a (4, w) PWM: base indices (w,)."""
    cum = np.cumsum(pwm, axis=0)
    u = rng.random(pwm.shape[1])
    return np.minimum((u[None, :] > cum).sum(axis=0), 3).astype(np.int8)


def _choose_slots(rng, chrom_lengths: dict[str, int], slot: int, n: int):
    """Pick n distinct (chrom, slot start) pairs, slots of ``slot`` bp away from contig ends."""
    slots = [(c, s) for c, length in chrom_lengths.items()
             for s in range(slot, length - 2 * slot, slot)]
    if len(slots) < n:
        raise InputError(f"config key simulate.chromosomes: the genome holds only {len(slots)} "
                         f"windows of {slot} bp but {n} peaks and negatives were requested; "
                         "make the chromosomes longer or ask for fewer peaks")
    picked = rng.choice(len(slots), size=n, replace=False)
    return [slots[i] for i in picked]


def _place_offsets(rng, widths: list[int], lo: int, hi: int, tries: int = 200) -> list[int]:
    """Non-overlapping start offsets in [lo, hi - w] for instances of the given widths."""
    taken = np.zeros(hi, dtype=bool)
    starts = []
    for w in widths:
        for _ in range(tries):
            s = int(rng.integers(lo, hi - w + 1))
            if not taken[s:s + w].any():
                taken[s:s + w] = True
                starts.append(s)
                break
        else:
            raise InputError(f"cannot place {len(widths)} motif instances of widths {widths} "
                             f"without overlap in {hi - lo} bp; raise simulate.spread or lower "
                             "simulate.motifs[].copies")
    return starts


def _distractor_sites(distractors: list, n_regions: int, rng) -> dict[int, list]:
    """Region index -> distractor motifs planted there (each once per copy), drawn uniformly
    from all ``n_regions`` peaks and negatives so that presence is independent of labels."""
    sites: dict[int, list] = {}
    for p in distractors:
        if p.peaks > n_regions:
            raise InputError(f"config key simulate.motifs: distractor '{p.id}' asks for "
                             f"{p.peaks} regions but the simulation has {n_regions}; lower its "
                             "peaks")
        for k in rng.choice(n_regions, size=p.peaks, replace=False):
            copies = int(rng.integers(p.copies[0], p.copies[1] + 1))
            sites.setdefault(int(k), []).extend([p] * copies)
    return sites


def simulate_genome(motifs: dict, planted: list[PlantedMotif], chromosomes: dict[str, int],
                    window: int, gc: float = 0.41, spread: int = 60, peak_width: int = 300,
                    negatives: int = 1000, cooccurrence: float = 0.15,
                    random_state: int = 0, alt_ids: dict | None = None) -> GenomeSimulation:
    """Simulate a genome with motif instances planted in peaks.

    Parameters
    ----------
    motifs : dict[str, array (4, w)]
        Motif database (probabilities); planted ids must be in it.
    planted : list of PlantedMotif
    chromosomes : dict[str, int]
        Contig names and lengths.
    window : int
        Analysis window L; peaks (and negatives) occupy distinct slots of 2L bp so that
        windows never overlap.
    gc : float, default 0.41
        GC fraction of the background.
    spread : int, default 60
        Instances lie within [summit - spread, summit + spread).
    peak_width : int, default 300
        Width of the narrowPeak intervals written (the summit sits at a random offset).
    negatives : int, default 1000
        Background regions without planted motifs (for training).
    cooccurrence : float, default 0.15
        Probability that a peak also receives one instance of another planted motif.
    random_state : int, default 0
    alt_ids : dict[str, str], optional
        Motif names for the truth table.

    Returns
    -------
    GenomeSimulation
        ``chromosomes`` (name -> sequence), ``peaks`` (narrowPeak columns), ``truth`` (one
        row per planted site: chrom, start, end (0-based half-open), strand, motif_id,
        motif_alt_id, target, peak, sequence as planted on the + strand), ``regions``
        (training windows: chrom, start, end, kind, one 0/1 column per target).
    """
    if not planted:
        raise InputError("config key simulate.motifs is empty; list at least one motif to plant")
    for p in planted:
        if p.id not in motifs:
            raise InputError(f"config key simulate.motifs: motif '{p.id}' is not in the motif "
                             "database; choose ids from motifs/database.meme")
        if not 1 <= p.copies[0] <= p.copies[1]:
            raise InputError(f"config key simulate.motifs: copies {list(p.copies)} of '{p.id}' "
                             "must be [min, max] with 1 <= min <= max")
    if 2 * spread > window:
        raise InputError(f"config key simulate.spread: {spread} puts sites outside the window "
                         f"of {window} bp; use at most {window // 2}")
    rng = np.random.default_rng(random_state)
    alt_ids = alt_ids or {}
    driving = [p for p in planted if p.target is not None]
    if not driving:
        raise InputError("config key simulate.motifs: every motif has target null; at least one "
                         "must drive a target")
    targets = list(dict.fromkeys(p.target for p in driving))
    seqs = {name: _background(rng, length, gc) for name, length in chromosomes.items()}
    n_peaks = sum(p.peaks for p in driving)
    slots = _choose_slots(rng, chromosomes, 2 * window, n_peaks + negatives)
    drivers = [p for p in driving for _ in range(p.peaks)]
    order = rng.permutation(len(drivers))
    peak_rows, truth_rows, region_rows = [], [], []
    extras = _distractor_sites([p for p in planted if p.target is None], n_peaks + negatives,
                               rng)

    def plant(chrom: str, name: str, chosen: list, centre: int, labels: dict) -> None:
        widths = [motifs[p.id].shape[1] for p in chosen]
        offsets = _place_offsets(rng, widths, centre - spread, centre + spread)
        for p, start in zip(chosen, offsets):
            site = _sample_instance(rng, np.asarray(motifs[p.id], float))
            strand = "+" if rng.random() < 0.5 else "-"
            placed = site if strand == "+" else (3 - site)[::-1]
            seqs[chrom][start:start + len(site)] = placed
            truth_rows.append((chrom, start, start + len(site), strand, p.id,
                               alt_ids.get(p.id, ""), p.target or "", name,
                               "".join(_BASES[placed])))
            if p.target is not None:
                labels[p.target] = 1

    for k, driver_idx in enumerate(order):
        driver = drivers[driver_idx]
        chrom, slot_start = slots[k]
        summit = slot_start + window
        name = f"peak_{k:05d}"
        chosen = [driver] * int(rng.integers(driver.copies[0], driver.copies[1] + 1))
        others = [p for p in driving if p.id != driver.id]
        if others and rng.random() < cooccurrence:
            chosen.append(others[int(rng.integers(len(others)))])
        labels = dict.fromkeys(targets, 0)
        plant(chrom, name, chosen + extras.get(k, []), summit, labels)
        summit_offset = int(rng.integers(peak_width // 4, 3 * peak_width // 4))
        peak_start = summit - summit_offset
        score = int(rng.integers(200, 1000))
        peak_rows.append((chrom, peak_start, peak_start + peak_width, name, score, ".",
                          float(score) / 100, -1.0, -1.0, summit_offset))
        region_rows.append((chrom, summit - window // 2, summit - window // 2 + window,
                            "peak", name, *labels.values()))
    for k in range(n_peaks, n_peaks + negatives):
        chrom, slot_start = slots[k]
        centre = slot_start + window
        name = f"neg_{k - n_peaks:05d}"
        if k in extras:
            plant(chrom, name, extras[k], centre, {})
        region_rows.append((chrom, centre - window // 2, centre - window // 2 + window,
                            "negative", name, *([0] * len(targets))))

    peaks = pd.DataFrame(peak_rows, columns=["chrom", "start", "end", "name", "score", "strand",
                                             "signal", "p", "q", "summit"])
    peaks = peaks.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    truth = pd.DataFrame(truth_rows, columns=TRUTH_COLUMNS)
    truth = truth.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    regions = pd.DataFrame(region_rows,
                           columns=["chrom", "start", "end", "kind", "name", *targets])
    regions = regions.sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    chrom_text = {name: "".join(_BASES[s]) for name, s in seqs.items()}
    return GenomeSimulation(chrom_text, peaks, truth, regions, targets)


def write_fasta(chromosomes: dict[str, str], path: str | os.PathLike, width: int = 80) -> Path:
    """Write contigs to a FASTA file (atomically), ``width`` bases per line."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            for name, seq in chromosomes.items():
                fh.write(f">{name}\n")
                for i in range(0, len(seq), width):
                    fh.write(seq[i:i + width] + "\n")
    return path


def write_simulation(sim: GenomeSimulation, genome: str | os.PathLike,
                     peaks: str | os.PathLike, truth: str | os.PathLike,
                     regions: str | os.PathLike) -> None:
    """Write a simulation's FASTA, narrowPeak, truth table and training regions."""
    write_fasta(sim.chromosomes, genome)
    with atomic_path(peaks) as tmp:
        sim.peaks.to_csv(tmp, sep="\t", header=False, index=False)
    with atomic_path(truth) as tmp:
        sim.truth.to_csv(tmp, sep="\t", index=False)
    with atomic_path(regions) as tmp:
        sim.regions.to_csv(tmp, sep="\t", index=False)
