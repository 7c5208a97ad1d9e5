"""The whole interpretation benchmark (:func:`run_benchmark`): ISM, DeepLIFT/SHAP and the
motif scan on held-out simulated sequences, scored by positional auPRC.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from motifscope.attribution import deep_lift_shap, saturation_mutagenesis
from motifscope.errors import InputError
from motifscope.evaluation.positional import (
    METHOD_COLLAPSE,
    motif_scan_scores,
    position_scores,
    positional_labels_and_scores,
    positional_prc,
    PRC_COLUMNS,
    precision_recall_curve,
)
from motifscope.evaluation.recovery import sites_in_loci
from motifscope.utils import progress


# --- the whole benchmark -------------------------------------------------------------------------


def select_sequences(regions: pd.DataFrame, n: int) -> pd.DataFrame:
    """Up to ``n`` regions, half peaks and half negatives when both are available.

    Parameters
    ----------
    regions : pandas.DataFrame
        ``sim/training.tsv`` rows (chrom, start, end, kind, name, one column per target).
    n : int

    Returns
    -------
    pandas.DataFrame
        The chosen rows in their original order (deterministic: the first of each kind).
    """
    peaks = regions[regions["kind"] == "peak"]
    negatives = regions[regions["kind"] != "peak"]
    n_peaks = min(len(peaks), max(n - len(negatives), (n + 1) // 2))
    chosen = pd.concat([peaks.head(n_peaks), negatives.head(n - n_peaks)])
    return regions.loc[sorted(chosen.index)].reset_index(drop=True)


def embeddings_in(truth: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Planted instances inside each region, in region coordinates.

    Returns
    -------
    pandas.DataFrame
        example_idx (row of ``regions``), motif (motif id), target, start, end, strand.
    """
    windows = regions[["chrom", "start", "end"]].assign(idx=np.arange(len(regions)))
    sites = sites_in_loci(truth, windows)
    return pd.DataFrame({"example_idx": sites["example_idx"].to_numpy(np.int64),
                         "motif": sites["motif_id"].astype(str).to_numpy(),
                         "target": sites["target"].fillna("").astype(str).to_numpy(),
                         "start": sites["window_start"].to_numpy(np.int64),
                         "end": sites["window_end"].to_numpy(np.int64),
                         "strand": sites["strand"].to_numpy()})


def _thin(precision: np.ndarray, recall: np.ndarray, points: int = 2000):
    keep = np.unique(np.linspace(0, len(recall) - 1, min(points, len(recall))).astype(int))
    return precision[keep], recall[keep]


def run_benchmark(model, X, embeddings: pd.DataFrame, motifs: Mapping, targets: Mapping,
                  gc_fraction: float = 0.4, n_shuffles: int = 20, batch_size: int = 256,
                  coverage: float = 0.8, stride: int = 1, device="auto", random_state: int = 0):
    """ISM, DeepLIFT/SHAP and the motif scan scored by positional PRC, per target.

    Parameters
    ----------
    model : torch.nn.Module
        Returns (B, n_outputs).
    X : array, shape (N, 4, L)
        One-hot sequences (held out from training).
    embeddings : pandas.DataFrame
        Planted instances: example_idx, motif, target, start, end (see :func:`embeddings_in`).
    motifs : mapping id -> (4, w) PWM
        Must hold every planted motif (for the scan).
    targets : mapping name -> output index
        A target is benchmarked on the instances of the motifs that drive it.
    gc_fraction : float, default 0.4
        Background of the motif scan.
    n_shuffles : int, default 20
        DeepLIFT/SHAP references per sequence.
    batch_size : int, default 256
    coverage : float, default 0.8
    stride : int, default 1
    device : str, default "auto"
    random_state : int, default 0

    Returns
    -------
    table : pandas.DataFrame
        target plus the columns of :func:`positional_prc`, one row per target, method and
        motif.
    curves : dict (target, method, motif) -> (precision, recall)
        At most 2000 points per curve.
    scores : dict (target, method) -> numpy.ndarray (N, L)
        Per-position scores; the scan's key is (target, "scan:<motif>").
    """
    rows, curves, scores = [], {}, {}
    for target, index in progress(list(targets.items()), desc="benchmark targets"):
        planted = embeddings[embeddings["target"] == target]
        if planted.empty:
            continue
        ism = saturation_mutagenesis(model, X, target=index, batch_size=batch_size,
                                     device=device, hypothetical=True)
        shap = deep_lift_shap(model, X, target=index, n_shuffles=n_shuffles,
                              batch_size=batch_size, device=device, random_state=random_state)
        per_method = {"ism": position_scores(ism, METHOD_COLLAPSE["ism"]),
                      "deeplift_shap": position_scores(shap, METHOD_COLLAPSE["deeplift_shap"])}
        for motif in sorted(set(planted["motif"])):
            if motif not in motifs:
                raise InputError(f"planted motif '{motif}' is not in the motif database")
            per_method[f"scan:{motif}"] = motif_scan_scores(X, motifs[motif], gc_fraction)
        for method, values in per_method.items():
            scores[(target, method)] = values
            name = method.split(":")[0]
            subset = planted if name != "scan" else planted[planted["motif"] == method[5:]]
            table = positional_prc(subset, values, coverage, stride, method=name)
            rows.append(table.assign(target=target))
            for motif in table["motif"]:
                labels, sums = positional_labels_and_scores(subset, values, motif, coverage,
                                                            stride)
                precision, recall, _ = precision_recall_curve(labels, sums)
                curves[(target, name, motif)] = _thin(precision, recall)
    if not rows:
        raise InputError("no planted instance lies in the benchmark sequences for any target; "
                         "check simulate.held_out and the targets of the planted motifs")
    table = pd.concat(rows, ignore_index=True)[["target", *PRC_COLUMNS]]
    return table, curves, scores
