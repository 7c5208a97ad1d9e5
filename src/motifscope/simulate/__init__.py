"""Simulated data with known ground truth.

- :mod:`motifscope.simulate.genome`: a synthetic genome with JASPAR motifs planted in peaks
  (the embedded demo);
- :mod:`motifscope.simulate.dragonn`: DragoNN-style sequence simulations (motif density
  localization, heterotypic pairs, GC-controlled backgrounds) for the paper figures.
"""

from motifscope.simulate.genome import (
    GenomeSimulation,
    PlantedMotif,
    simulate_genome,
    write_fasta,
    write_simulation,
)

from motifscope.simulate.dragonn import (
    Simulation,
    gc_background,
    simulate_heterodimer_grammar,
    simulate_motif_counting,
    simulate_motif_density_localization,
    simulate_multi_motif_embedding,
    simulate_single_motif_detection,
    to_genome_simulation,
)

__all__ = ["GenomeSimulation", "PlantedMotif", "simulate_genome", "write_fasta",
           "write_simulation", "Simulation", "gc_background", "simulate_heterodimer_grammar",
           "simulate_motif_counting", "simulate_motif_density_localization",
           "simulate_multi_motif_embedding", "simulate_single_motif_detection",
           "to_genome_simulation"]
