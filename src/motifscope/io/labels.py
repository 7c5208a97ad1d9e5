"""Per-locus 0/1 labels of the targets (config ``filters.influence.labels``, or the demo's
``sim/training.tsv``): a TSV with a ``name`` (locus name) or ``idx`` column and one column
per target."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.errors import InputError


def read_locus_labels(path, loci: pd.DataFrame, targets: list[str],
                      key_name: str = "filters.influence.labels") -> np.ndarray:
    """Labels of ``loci`` for ``targets``: float32 (N, T), rows in the order of ``loci``.

    Raises
    ------
    InputError
        No ``name``/``idx`` column, a target without a column, or a locus without a row
        (the message names ``key_name``).
    """
    table = pd.read_csv(path, sep="\t", dtype={"name": str})
    key = "name" if "name" in table.columns else "idx" if "idx" in table.columns else None
    if key is None:
        raise InputError(f"{path}: labels need a `name` (locus name) or `idx` column; "
                         f"config key {key_name}")
    missing = [t for t in targets if t not in table.columns]
    if missing:
        raise InputError(f"{path}: no label column for targets {missing}; add one column per "
                         f"target (config key {key_name})")
    table = table.drop_duplicates(key).set_index(key)
    keys = loci[key].astype(table.index.dtype)
    absent = ~keys.isin(table.index)
    if absent.any():
        raise InputError(f"{path}: {int(absent.sum())} loci have no labels (first: "
                         f"{keys[absent].iloc[0]}); give a row per locus")
    return table.loc[keys, targets].to_numpy(dtype=np.float32)


def positive_loci(path, loci: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """Boolean (N,): loci labelled positive (> 0) for at least one of ``targets``
    (config ``filters.positive_for``)."""
    labels = read_locus_labels(path, loci, targets, key_name="filters.positive_for")
    return (labels > 0).any(axis=1)


def positive_in_peak_sets(loci: pd.DataFrame, target_tables: list) -> np.ndarray:
    """Boolean (N,): loci of ``loci/loci.tsv`` that are windows of at least one of the given
    targets' own peak files (``loci/targets/<target>/loci.tsv``, column ``union_idx``), the
    stand-in for labels when config ``peaks`` maps those targets to their files."""
    rows = np.concatenate([np.asarray(t["union_idx"], dtype=np.int64) for t in target_tables]
                          or [np.zeros(0, np.int64)])
    return np.isin(loci["idx"].to_numpy(np.int64), rows)
