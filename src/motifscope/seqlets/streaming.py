"""Seqlets from the workflow's files, streamed shard by shard (host memory bounded by a
shard; the null is still built from the whole data set). The files are read through
:mod:`motifscope.io.attributions`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from motifscope.errors import InputError
from motifscope.io.attributions import check_attribution_files, projected_shards
from motifscope.seqlets._common import ShardSource
from motifscope.seqlets.genome import to_genome_coordinates
from motifscope.seqlets.recursive import _streamed_recursive
from motifscope.seqlets.tfmodisco import _streamed_tfmodisco
from motifscope.utils import resolve_device

__all__ = ["check_attribution_files", "projected_shards", "seqlets_from_h5"]


def _shard_source(attributions, onehot, shard_size) -> ShardSource:
    return lambda: projected_shards(attributions, onehot, shard_size)


def seqlets_from_h5(attributions, onehot, loci: pd.DataFrame | None = None,
                    method: str = "recursive", shard_size: int | None = None, device=None,
                    batch_size: int | None = None, **params) -> pd.DataFrame:
    """Call seqlets from the workflow's files, holding one shard in memory at a time.

    The projected track is ``attr * X`` summed over channels, read shard by shard from
    ``attributions`` (dataset ``attr``, (N, 4, L)) and ``onehot`` (dataset ``X``). The null
    depends on the whole data set, so the files are read more than once:

    - ``method="recursive"``: pass 1 finds the range of the values, pass 2 their histogram
      (both signs), pass 3 calls the seqlets. Results equal :func:`recursive_seqlets` on
      the whole track.
    - ``method="tfmodisco"``: pass 1 collects the window sums the null is fitted on, all of
      them when there are at most 1e6, else a seeded uniform sample of 1e6 (the in-memory
      function fits the Laplace null on all of them: with more than 1e6 windows the two can
      differ slightly); pass 2 calls the seqlets.

    Parameters
    ----------
    attributions, onehot : path
        ``attributions/<target>.h5`` and ``loci/onehot.h5``.
    loci : pandas.DataFrame, optional
        ``loci/loci.tsv`` (columns idx, chrom, start, ...); when given, the result is placed
        on the genome with :func:`to_genome_coordinates`.
    method : {"recursive", "tfmodisco"}, default "recursive"
    shard_size : int, optional
        Examples read at a time (default: the HDF5 chunk, at least 256).
    device, batch_size
        As in :func:`recursive_seqlets`.
    **params
        Arguments of :func:`recursive_seqlets` (threshold, min_seqlet_len, max_seqlet_len,
        additional_flanks, n_bins, sign) or :func:`tfmodisco_seqlets` (window_size, flank,
        target_fdr, min_passing_frac, max_passing_frac).

    Returns
    -------
    pandas.DataFrame
        The seqlet table of the method (tfmodisco gets a NaN p-value column), or with
        ``loci`` the genome table of :func:`to_genome_coordinates`.
    """
    n, length = check_attribution_files(attributions, onehot)
    source = _shard_source(attributions, onehot, shard_size)
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    if method == "recursive":
        table = _streamed_recursive(source, length, dev, batch_size, **params)
    elif method == "tfmodisco":
        table = _streamed_tfmodisco(source, n, length, dev, batch_size, **params)
        table["p-value"] = np.nan
    else:
        raise InputError(f"seqlets method must be 'recursive' or 'tfmodisco'; got {method!r}")
    return table if loci is None else to_genome_coordinates(table, loci)
