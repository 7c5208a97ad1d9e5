"""Seqlets: short spans of high attribution, called from per-position attribution tracks.

Two callers, both usable shard by shard:

- :func:`recursive_seqlets`, tangermeme's recursive caller: an i.i.d. null for the sum of
  every span length, built from the histogram of all positions of all examples, and a
  longest-first greedy decoding in which every sub-span of a seqlet is significant too.
  Two engines give the same table to the last bit: whole-batch torch operations (CUDA, or
  CPU without numba) and, on CPU, numba kernels that bin and decode one example at a time
  while it is in cache, examples in parallel (:mod:`motifscope.seqlets._seqlets_cpu`).
- :func:`tfmodisco_seqlets`, TF-MoDISco's caller: windowed sums, a Laplace null fitted on
  the data, an isotonic-regression FDR threshold, and greedy non-maximum suppression.

:func:`seqlets_from_h5` streams ``attributions/<target>.h5`` and ``loci/onehot.h5`` shard
by shard (host memory bounded by a shard, the null still built from the whole data set),
and :func:`to_genome_coordinates` places seqlets on the genome with ``loci/loci.tsv``.

All coordinates are 0-based and half-open: a seqlet covers ``[start, end)``.
"""

from motifscope.seqlets._common import SEQLET_COLUMNS, SIGNS, TFMODISCO_COLUMNS
from motifscope.seqlets.genome import GENOME_COLUMNS, seqlets_to_bed, to_genome_coordinates
from motifscope.seqlets.plot import plot_seqlet_summary
from motifscope.seqlets.recursive import (
    DEFAULT_THRESHOLD,
    RecursiveNull,
    _greedy_select,
    _span_sum_tails,
    recursive_null,
    recursive_seqlets,
)
from motifscope.seqlets.streaming import check_attribution_files, projected_shards, seqlets_from_h5
from motifscope.seqlets.tfmodisco import (
    _isotonic_fit,
    _isotonic_predict,
    _quantile,
    tfmodisco_seqlets,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "GENOME_COLUMNS",
    "RecursiveNull",
    "SEQLET_COLUMNS",
    "SIGNS",
    "TFMODISCO_COLUMNS",
    "check_attribution_files",
    "plot_seqlet_summary",
    "projected_shards",
    "recursive_null",
    "recursive_seqlets",
    "seqlets_from_h5",
    "seqlets_to_bed",
    "tfmodisco_seqlets",
    "to_genome_coordinates",
]
