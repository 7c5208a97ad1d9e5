"""Figures of the report and of the paper configuration.

Every function returns a matplotlib Figure drawn in motifscope's fixed style; save it with
:func:`motifscope.plot.save_figure` (fixed fonts, no dates, so reruns give identical bytes).
Text taken from user files goes through :func:`mpl_text` so that a ``$`` in a motif or peak
name is shown as is instead of starting matplotlib's math mode.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from motifscope.plot import plot_logo, style

METHOD_COLORS = {"ism": "#1b9e77", "deeplift_shap": "#d95f02", "scan": "#7570b3",
                 "seqlets": "#e7298a", "fimo": "#66a61e", "filters": "#e6ab02",
                 "marginalize": "#a6761d"}
METHOD_LABELS = {"ism": "ISM", "deeplift_shap": "DeepLIFT/SHAP", "scan": "motif scan",
                 "seqlets": "seqlet annotation", "fimo": "FIMO + attribution",
                 "filters": "first-layer filters", "marginalize": "marginalization",
                 "summary": "summary: learned"}


def mpl_text(text) -> str:
    """User text made safe for matplotlib (``$`` does not start math mode)."""
    return str(text).replace("$", r"\$")


def _grid(n: int, columns: int, width: float, height: float):
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows),
                             squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def message_figure(text: str, width: float = 4.0, height: float = 1.0):
    """A figure holding only a sentence (for files that must exist but have no data)."""
    with style():
        fig, ax = plt.subplots(figsize=(width, height))
        ax.axis("off")
        ax.text(0.5, 0.5, mpl_text(text), ha="center", va="center", wrap=True)
    return fig


# --- model ------------------------------------------------------------------------------


def performance_figure(predictions: pd.DataFrame, targets: list, labels: pd.DataFrame | None,
                       metrics: pd.DataFrame | None = None):
    """Distribution of each target's predictions, split by label when labels are known.

    Parameters
    ----------
    predictions : pandas.DataFrame
        One column per target (the model outputs).
    targets : list of str
    labels : pandas.DataFrame, optional
        Same rows as ``predictions``, one 0/1 column per target (NaN: unknown).
    metrics : pandas.DataFrame, optional
        Columns target, auroc, auprc, shown in the panel titles.
    """
    scores = {} if metrics is None else metrics.set_index("target").to_dict("index")
    with style():
        fig, axes = _grid(len(targets), 3, 3.0, 2.3)
        for ax, target in zip(axes, targets):
            values = predictions[target].to_numpy(dtype=float)
            bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=30)
            if labels is not None and target in labels:
                y = labels[target].to_numpy(dtype=float)
                for value, color, name in ((1, "#d95f02", "positive"),
                                           (0, "#7570b3", "negative")):
                    chosen = values[y == value]
                    if len(chosen):
                        ax.hist(chosen, bins=bins, color=color, alpha=0.6,
                                label=f"{name} ({len(chosen)})")
                ax.legend(frameon=False, fontsize=6)
            else:
                ax.hist(values, bins=bins, color="0.4")
            title = mpl_text(target)
            if target in scores and np.isfinite(scores[target].get("auroc", np.nan)):
                title += (f"\nauROC {scores[target]['auroc']:.3f}, "
                          f"auPRC {scores[target]['auprc']:.3f}")
            ax.set_title(title, loc="left")
            ax.set_xlabel("model output")
            ax.set_ylabel("loci")
        fig.tight_layout()
    return fig


# --- attribution examples -------------------------------------------------------------------


def _spans(ax, table, base, step, color, label_below=False, levels=3):
    """Horizontal bars (with labels) for intervals, stacked on up to ``levels`` levels."""
    if table is None or not len(table):
        return
    for k, row in enumerate(table.itertuples(index=False)):
        level = base + step * (k % levels)
        ax.plot([row.start - 0.5, row.end - 0.5], [level, level], color=color, lw=2.0,
                solid_capstyle="butt")
        ax.text((row.start + row.end) / 2 - 0.5, level - 0.04 * abs(step) * (
            1 if label_below else -1), mpl_text(row.label), ha="center",
            va="top" if label_below else "bottom", fontsize=6, color=color)


def attribution_examples_figure(examples: list[dict]):
    """Logos of projected attributions of a few loci, with what was found on them.

    Each panel keeps the logo in its middle band: planted instances (green) and seqlet
    labels (orange, the seqlet itself shaded) above it, FIMO hits (purple) below it.

    Parameters
    ----------
    examples : list of dict
        Each with ``matrix`` (4, w) projected attributions of the shown span, ``start``
        (window coordinate of its first column), ``title``, and optional DataFrames
        (columns start, end, label, in window coordinates) ``seqlets``, ``fimo`` and
        ``planted``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with style():
        width = max(6.5, 0.11 * max(e["matrix"].shape[1] for e in examples))
        fig, axes = plt.subplots(len(examples), 1, figsize=(width, 2.6 * len(examples)),
                                 squeeze=False)
        for ax, example in zip(axes[:, 0], examples):
            plot_logo(example["matrix"], ax=ax, start=example["start"])
            lo, hi = ax.get_ylim()
            lo, hi = min(lo, 0.0), max(hi, 0.0)
            height = (hi - lo) or 1.0
            ticks = [t for t in MaxNLocator(3).tick_values(lo, hi) if lo <= t <= hi]
            seqlets = example.get("seqlets")
            if seqlets is not None:
                for row in seqlets.itertuples(index=False):
                    ax.fill_between([row.start - 0.5, row.end - 0.5], lo, hi,
                                    color="#fdb863", alpha=0.35, lw=0, zorder=0)
                _spans(ax, seqlets, hi + 0.06 * height, 0.0, "#b35806")
            _spans(ax, example.get("planted"), hi + 0.45 * height, 0.3 * height, "#1b7837")
            _spans(ax, example.get("fimo"), lo - 0.12 * height, -0.32 * height, "#2d004b",
                   label_below=True, levels=4)
            ax.set_ylim(lo - 1.3 * height, hi + 1.15 * height)
            ax.set_yticks(ticks)
            ax.set_title(mpl_text(example["title"]), loc="left")
            ax.set_ylabel("attribution")
        fig.tight_layout()
    return fig


# --- recovery -------------------------------------------------------------------------------


def recovery_figure(per_motif: pd.DataFrame):
    """Which planted motif each method found: a methods x motifs grid.

    Cells show the site recall for positional methods (seqlets, FIMO) and found / not
    found for the others; green when found.
    """
    columns = ["motif_id", "motif_alt_id"] + (["role"] if "role" in per_motif else [])
    motifs = per_motif.drop_duplicates("motif_id")[columns]
    decoy = (motifs["role"] == "distractor").to_numpy() if "role" in motifs else \
        np.zeros(len(motifs), dtype=bool)
    methods = list(dict.fromkeys(per_motif["method"]))
    with style():
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(motifs), 0.8 + 0.42 * len(methods)))
        grid = np.full((len(methods), len(motifs)), np.nan)
        for i, method in enumerate(methods):
            for j, motif in enumerate(motifs["motif_id"]):
                rows = per_motif[(per_motif["method"] == method)
                                 & (per_motif["motif_id"] == motif)]
                if rows.empty:
                    continue
                found = bool(rows["found"].any())
                grid[i, j] = 1.0 if found != decoy[j] else 0.0
                recall = rows["recall"].mean()
                text = f"{recall:.2f}" if np.isfinite(recall) else ("yes" if found else "no")
                ax.text(j, i, text, ha="center", va="center", fontsize=7)
        cmap = plt.matplotlib.colors.ListedColormap(["#f4cccc", "#b6e3b6"])
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(motifs)))
        ax.set_xticklabels([mpl_text((f"{a}\n{m}" if a else m) + ("\n(distractor)" if d else ""))
                            for m, a, d in zip(motifs["motif_id"],
                                               motifs["motif_alt_id"].fillna(""), decoy)],
                           fontsize=7)
        ax.set_yticks(range(len(methods)))
        ax.set_yticklabels([METHOD_LABELS.get(m, m) for m in methods])
        ax.set_title("planted motifs found (cells: site recall, or found; a distractor is "
                     "green when not found)", loc="left")
        for spine in ax.spines.values():
            spine.set_visible(False)
        fig.tight_layout()
    return fig


# --- DragoNN benchmark ------------------------------------------------------------------------


def positional_prc_figure(curves: dict, table: pd.DataFrame):
    """Precision-recall curves of every method, one panel per planted motif.

    Parameters
    ----------
    curves : dict (method, motif) -> (precision, recall)
    table : pandas.DataFrame
        :func:`motifscope.evaluation.positional_prc` rows (method, motif, auprc, baseline).
    """
    motifs = list(dict.fromkeys(table["motif"]))
    with style():
        fig, axes = _grid(len(motifs), 3, 3.2, 3.0)
        for ax, motif in zip(axes, motifs):
            rows = table[table["motif"] == motif]
            for row in rows.itertuples(index=False):
                precision, recall = curves[(row.method, motif)]
                ax.plot(recall, precision, color=METHOD_COLORS.get(row.method, "0.3"), lw=1.2,
                        label=f"{METHOD_LABELS.get(row.method, row.method)} "
                              f"(auPRC {row.auprc:.3f})")
            baseline = rows["baseline"].iloc[0]
            ax.axhline(baseline, color="0.6", ls="--", lw=0.8,
                       label=f"random ({baseline:.3f})")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.set_xlabel("recall")
            ax.set_ylabel("precision")
            ax.set_title(mpl_text(f"positional PRC: {motif}"), loc="left")
            ax.legend(frameon=False, fontsize=6, loc="upper right")
        fig.tight_layout()
    return fig


def benchmark_tracks_figure(tracks: dict, planted: pd.DataFrame, title: str):
    """Per-position scores of every method along one sequence, planted sites shaded.

    Parameters
    ----------
    tracks : dict method -> array (L,)
    planted : pandas.DataFrame
        start, end (and motif) of the sequence's planted instances.
    title : str
    """
    with style():
        fig, axes = plt.subplots(len(tracks), 1, figsize=(7.5, 1.3 * len(tracks)),
                                 sharex=True, squeeze=False)
        for ax, (method, values) in zip(axes[:, 0], tracks.items()):
            for row in planted.itertuples(index=False):
                ax.axvspan(row.start - 0.5, row.end - 0.5, color="#b6e3b6", lw=0, zorder=0)
            ax.plot(np.arange(len(values)), values, color=METHOD_COLORS.get(method, "0.3"),
                    lw=0.7)
            ax.set_ylabel(METHOD_LABELS.get(method, method), rotation=0, ha="right",
                          va="center")
        axes[0, 0].set_title(mpl_text(title), loc="left")
        axes[-1, 0].set_xlabel("position in sequence (bp); green: planted instances")
        fig.tight_layout()
    return fig


# --- paper tables as figures ------------------------------------------------------------------


def _barh(ax, labels, values, color, xlabel):
    y = np.arange(len(values))[::-1]
    ax.barh(y, values, color=color, height=0.7)
    ax.set_yticks(y)
    ax.set_yticklabels([mpl_text(label) for label in labels], fontsize=6.5)
    ax.axvline(0, color="0.5", lw=0.6)
    ax.set_xlabel(xlabel)


def marginalization_figure(tables: dict, top: int = 10):
    """Top motifs by marginalization effect for every target (tangermeme's table).

    Parameters
    ----------
    tables : dict target -> DataFrame
        ``marginalize/<target>.tsv`` (motif, motif_alt_id, delta_mean, ...).
    top : int, default 10
    """
    targets = list(tables)
    with style():
        fig, axes = _grid(max(1, len(targets)), 3, 3.0, 0.6 + 0.22 * top)
        for ax, target in zip(axes, targets):
            table = tables[target].sort_values("delta_mean", ascending=False,
                                               kind="mergesort").head(top)
            names = [f"{a} ({m})" if isinstance(a, str) and a else str(m)
                     for m, a in zip(table["motif"], table["motif_alt_id"])]
            _barh(ax, names, table["delta_mean"].to_numpy(float), "#a6761d",
                  "mean change of the output")
            ax.set_title(mpl_text(f"marginalization: {target}"), loc="left")
        fig.tight_layout()
    return fig


def seqlet_annotation_figure(counts: dict, top: int = 10):
    """Seqlets per matched motif (group) for every target (tangermeme's annotation counts).

    Parameters
    ----------
    counts : dict target -> DataFrame
        ``seqlets/<target>.counts.tsv`` (first column the motif or group, n_seqlets).
    top : int, default 10
    """
    targets = list(counts)
    with style():
        fig, axes = _grid(max(1, len(targets)), 3, 3.0, 0.6 + 0.22 * top)
        for ax, target in zip(axes, targets):
            table = counts[target].head(top)
            if table.empty:
                ax.axis("off")
                ax.text(0.5, 0.5, mpl_text(f"{target}: no annotated seqlets"), ha="center",
                        va="center")
                continue
            _barh(ax, table.iloc[:, 0].astype(str), table["n_seqlets"].to_numpy(float),
                  "#e7298a", "seqlets")
            ax.set_title(mpl_text(f"seqlet annotation: {target}"), loc="left")
        fig.tight_layout()
    return fig
