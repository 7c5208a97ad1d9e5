"""The summary figure of a seqlet table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from motifscope.plot import style


def plot_seqlet_summary(table: pd.DataFrame, window: int, title: str = ""):
    """A three-panel summary figure of a seqlet table (returns the matplotlib figure).

    Panels: where seqlets lie in the window (centre position, 0 = window start), their
    lengths, and the number of seqlets per locus (loci with none are not in the table, so
    ``n_loci`` is not needed: the panel counts loci that have at least one).

    Parameters
    ----------
    table : pandas.DataFrame
        A seqlet table with example_idx and window coordinates (``window_start`` and
        ``window_end``, or ``start`` and ``end`` within the window) and attribution.
    window : int
        Window length L (the x range of the position panel).
    title : str
    """
    import matplotlib.pyplot as plt

    start = table["window_start"] if "window_start" in table else table["start"]
    end = table["window_end"] if "window_end" in table else table["end"]
    positive = table["attribution"].to_numpy() >= 0
    centre = ((start + end) / 2).to_numpy()
    length = (end - start).to_numpy()
    with style():
        fig, axes = plt.subplots(1, 3, figsize=(11, 3))
        bins = np.linspace(0, window, min(50, max(window, 1)) + 1)
        for mask, label, color in ((positive, "attribution > 0", "tab:red"),
                                   (~positive, "attribution < 0", "tab:blue")):
            if mask.any():  # an empty table leaves the panels empty
                axes[0].hist(centre[mask], bins=bins, color=color, alpha=0.7, label=label)
                axes[1].hist(length[mask], bins=np.arange(length.min(), length.max() + 2) - 0.5,
                             color=color, alpha=0.7, label=label)
        axes[0].set(xlabel="seqlet centre in window (bp)", ylabel="seqlets", xlim=(0, window))
        axes[1].set(xlabel="seqlet length (bp)", ylabel="seqlets")
        per_locus = table.groupby("example_idx").size().to_numpy()
        if per_locus.size:
            axes[2].hist(per_locus, bins=np.arange(1, per_locus.max() + 2) - 0.5,
                         color="0.4")
        axes[2].set(xlabel="seqlets per locus (loci with any)", ylabel="loci")
        if positive.any() and (~positive).any():
            axes[0].legend(frameon=False, fontsize=7)
        fig.suptitle(title or f"{len(table)} seqlets")
        fig.tight_layout()
    return fig
