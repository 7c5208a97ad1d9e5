"""Figures of the filters: logos, weights, the influence heatmap."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage

from motifscope.filters.influence import influence_matrix
from motifscope.filters.layers import ALPHABET
from motifscope.filters.pwms import FilterPWMs
from motifscope.plot import plot_logo, save_figure, style


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

def plot_filter_logos(pwms: FilterPWMs, outdir: str | os.PathLike,
                      matches: pd.DataFrame | None = None,
                      formats=("pdf", "png")) -> list[Path]:
    """Write one information-content logo per kept filter, ``<outdir>/<filter>.<fmt>``.

    The title gives the filter, its number of sites and (with ``matches``) its annotation.
    Returns the files written.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = {} if matches is None else dict(zip(matches["filter"], matches["annotation"]))
    written = []
    for name, pfm in pwms.motifs().items():
        f = pwms.names.index(name)
        title = f"{name}  n={pwms.nsites[f]}  IC={pwms.ic[f]:.1f}"
        if names.get(name, ".") not in (".", None) and not pd.isna(names.get(name)):
            title += f"  {names[name]}"
        with style():
            fig, ax = plt.subplots(figsize=(max(2.5, 0.2 * pfm.shape[1]), 1.3))
            plot_logo(pfm, ax=ax, ic_scale=True, title=title)
            written += save_figure(fig, outdir / name, formats=formats)
    return written


def plot_filter_weights(pwms: FilterPWMs, stem: str | os.PathLike, columns: int = 8,
                        formats=("pdf", "png")) -> list[Path]:
    """Heat maps of every filter's weights (4 x w, PRGn, symmetric limits) in one grid."""


    weights = pwms.weights
    n = weights.shape[0]
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    width = weights.shape[2]
    with style():
        fig, axes = plt.subplots(rows, columns, squeeze=False,
                                 figsize=(columns * max(1.0, 0.09 * width), rows * 0.75))
        for ax in axes.ravel():
            ax.axis("off")
        for f, ax in zip(range(n), axes.ravel()):
            limit = float(np.abs(weights[f]).max()) or 1.0
            ax.imshow(weights[f], cmap="PRGn", vmin=-limit, vmax=limit, aspect="auto",
                      interpolation="nearest")
            ax.set_title(pwms.names[f], fontsize=6)
            ax.set_yticks(range(4), list(ALPHABET), fontsize=5)
            ax.set_xticks([])
            ax.axis("on")
        fig.tight_layout()
        return save_figure(fig, stem, formats=formats)


def cluster_order(matrix: np.ndarray) -> np.ndarray:
    """Row order from average-linkage hierarchical clustering (Euclidean; stable for <3 rows)."""

    m = np.nan_to_num(np.asarray(matrix, float))
    if m.shape[0] < 3:
        return np.arange(m.shape[0])
    return leaves_list(linkage(m, method="average", metric="euclidean"))


def plot_influence_heatmap(influence: pd.DataFrame, stem: str | os.PathLike,
                           value: str = "score", labels=None,
                           formats=("pdf", "png")) -> list[Path]:
    """Filters x targets heat map of influence, rows and columns clustered.

    Parameters
    ----------
    influence : pandas.DataFrame
        From :func:`filter_influence`.
    stem : path
        Output stem (``<stem>.pdf`` and ``<stem>.png``).
    value : str, default "score"
        The column shown (``score``, ``delta_mean`` or ``delta_loss``).
    labels : mapping, optional
        Filter name -> row label (e.g. ``filter3 CTCF``).
    """
    wide = influence_matrix(influence, value)
    rows = cluster_order(wide.to_numpy())
    cols = cluster_order(wide.to_numpy().T)
    wide = wide.iloc[rows, cols]
    finite = np.abs(wide.to_numpy()[np.isfinite(wide.to_numpy())])
    limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    n_rows, n_cols = wide.shape
    with style():
        fig, ax = plt.subplots(figsize=(1.5 + 0.35 * n_cols, 1.0 + 0.12 * n_rows))
        image = ax.imshow(wide.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit,
                          aspect="auto", interpolation="nearest")
        row_labels = [labels.get(f, f) if labels is not None else f for f in wide.index]
        ax.set_yticks(range(n_rows), row_labels, fontsize=5 if n_rows > 40 else 6)
        ax.set_xticks(range(n_cols), list(wide.columns), rotation=90)
        ax.set_xlabel("target")
        fig.colorbar(image, ax=ax, label=f"influence ({value})", shrink=0.6)
        return save_figure(fig, stem, formats=formats)
