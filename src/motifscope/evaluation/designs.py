"""DragoNN simulation designs, and the same designs laid out as the genome files the workflow
reads (:func:`simulate_design_genome`, held-out sequences on their own contig). All
coordinates are 0-based, half-open.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from motifscope.errors import InputError
from motifscope.simulate import (
    simulate_motif_density_localization,
    simulate_single_motif_detection,
    Simulation,
    to_genome_simulation,
)
from motifscope.simulate.genome import GenomeSimulation


# --- DragoNN designs as a genome -----------------------------------------------------------

DESIGNS = ("density_localization", "single_motif_detection")


def simulate_design(motifs: Mapping, design: Mapping, length: int, random_state: int = 0):
    """Run one DragoNN design from a config mapping.

    Parameters
    ----------
    motifs : mapping id -> (4, w) PWM
    design : mapping
        ``design`` (``density_localization`` or ``single_motif_detection``), ``motif`` (an
        id in ``motifs``), ``num_pos``, ``num_neg``, ``gc``, and for density localization
        ``center_size``, ``min_counts``, ``max_counts``.
    length : int
        Sequence length.
    random_state : int, default 0

    Returns
    -------
    motifscope.simulate.Simulation
    """
    kind = design.get("design", "density_localization")
    motif = design["motif"]
    if motif not in motifs:
        raise InputError(f"config key simulate.dragonn.motif: '{motif}' is not in the motif "
                         "database; use a motif id from motifs/database.meme")
    common = {"motifs": motifs, "gc_fraction": design.get("gc", 0.4),
              "random_state": random_state, "num_pos": design["num_pos"],
              "num_neg": design["num_neg"]}
    if kind == "density_localization":
        return simulate_motif_density_localization(
            motif, length, center_size=design["center_size"],
            min_motif_counts=design["min_counts"], max_motif_counts=design["max_counts"],
            **common)
    if kind == "single_motif_detection":
        return simulate_single_motif_detection(motif, length, **common)
    raise InputError(f"config key simulate.dragonn.design: '{kind}' is not one of {DESIGNS}")


def _subset(sim, rows: np.ndarray):
    keep = sim.embeddings["example_idx"].isin(rows)
    embeddings = sim.embeddings[keep].copy()
    embeddings["example_idx"] = np.searchsorted(rows, embeddings["example_idx"])
    return Simulation(sim.X[rows], sim.y[rows], list(sim.targets),
                      embeddings.reset_index(drop=True))


def _on_one_contig(part, contig: str):
    """Lay the one-contig-per-sequence form of ``to_genome_simulation`` end to end."""
    names = list(part.chromosomes)
    offsets = dict(zip(names, np.arange(len(names)) * len(part.chromosomes[names[0]])))

    def moved(table, columns=("start", "end")):
        table = table.copy()
        shift = table["chrom"].map(offsets).astype(np.int64)
        for column in columns:
            table[column] = table[column] + shift
        table["chrom"] = contig
        return table

    peaks = moved(part.peaks)
    peaks["name"] = contig + "_" + peaks["name"]
    truth = moved(part.truth)
    truth["peak"] = [f"{contig}_{p}" if p else "" for p in truth["peak"]]
    regions = moved(part.regions)
    regions["name"] = contig + "_" + regions["name"]
    return GenomeSimulation({contig: "".join(part.chromosomes[n] for n in names)}, peaks,
                            truth, regions, list(part.targets))


def simulate_design_genome(motifs: Mapping, design: Mapping, length: int, target: str,
                           test_fraction: float = 0.2, random_state: int = 0,
                           alt_ids: Mapping | None = None):
    """A DragoNN design as a two-contig genome: ``train`` and ``test`` (held out).

    Sequences are laid end to end, so windows of ``length`` bp centred on each peak summit
    give back the simulated sequences exactly. Positives become narrowPeak peaks; the truth
    table holds every planted instance (in negatives too); regions list every sequence
    (``kind`` peak or negative) with a 0/1 column named ``target``.

    Parameters
    ----------
    motifs : mapping id -> (4, w) PWM
    design : mapping
        See :func:`simulate_design`.
    length : int
        Sequence length (the workflow's window).
    target : str
        Name of the label column (the config's target).
    test_fraction : float, default 0.2
        Share of positives and of negatives placed on the ``test`` contig.
    random_state : int, default 0
    alt_ids : mapping, optional
        Motif names for the truth table.

    Returns
    -------
    motifscope.simulate.genome.GenomeSimulation
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"config key simulate.dragonn.test_fraction must be in (0, 1), got "
                         f"{test_fraction}")
    sim = simulate_design(motifs, design, length, random_state)
    rng = np.random.default_rng(random_state)
    positive = sim.y[:, 0] > 0
    test = np.zeros(len(positive), dtype=bool)
    for group in (np.flatnonzero(positive), np.flatnonzero(~positive)):
        n_test = int(round(test_fraction * len(group)))
        test[rng.choice(group, size=n_test, replace=False)] = True
    parts = []
    for contig, rows in (("train", np.flatnonzero(~test)), ("test", np.flatnonzero(test))):
        if len(rows) == 0:
            raise InputError("config key simulate.dragonn: too few sequences to hold some out; "
                             "raise num_pos/num_neg or change test_fraction")
        part = to_genome_simulation(_subset(sim, rows), alt_ids=alt_ids, prefix=contig)
        parts.append(_on_one_contig(part, contig))
    motif = design["motif"]
    truth = pd.concat([p.truth for p in parts], ignore_index=True)
    truth["target"] = np.where(truth["motif_id"] == motif, target, "")
    regions = pd.concat([p.regions for p in parts], ignore_index=True)
    regions = regions.rename(columns={motif: target})
    return GenomeSimulation({k: v for p in parts for k, v in p.chromosomes.items()},
                            pd.concat([p.peaks for p in parts], ignore_index=True), truth,
                            regions, [target])
