"""motifscope: what did my sequence model learn?

A library of interpretation algorithms for genomic deep-learning models (attribution,
seqlets, TOMTOM/FIMO, first-layer filters, marginalization, simulations) and the Snakemake
workflow that chains them from one YAML config into a single HTML report.

Modules, one concept each: ``sequence`` (one-hot encoding), ``ersatz`` (sequence edits),
``io`` (MEME, peaks, loci), ``models`` (safe loading), ``predict``, ``attribution``,
``seqlets``, ``motifs`` (TOMTOM, FIMO, annotation), ``filters``, ``marginalize``,
``simulate`` and ``report``.
"""

__version__ = "0.1.0"
