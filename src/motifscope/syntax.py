"""Motif syntax from called hits: co-occurrence within peaks and pairwise spacing.

Co-occurrence (BPNet-style): for every pair of patterns ``a < b``, the number of peaks with
at least one hit of both, against the number expected if the patterns fell in peaks
independently, ``n_a * n_b / N``. The p-value is the hypergeometric upper tail
``P(X >= observed)`` for ``X ~ Hypergeom(N, n_a, n_b)`` (one-sided Fisher exact test of
enrichment); ``p_depletion`` is the lower tail; ``q_value`` is Benjamini-Hochberg over pairs.

Spacing: for the ``top`` most frequent pairs (heterotypic pairs by co-occurring peaks,
homotypic pairs by peaks with two or more hits), every pair of hits in the same peak gives
a distance between hit centres (``b`` minus ``a``; for a homotypic pair the absolute value,
each unordered pair once) and an orientation ``<strand a><strand b>`` (``++``, ``+-``, ...;
for homotypic pairs ordered by position). Overlapping hits count too (distance 0 ...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .plot import plt

COOCCURRENCE_COLUMNS = ["pattern_a", "pattern_b", "n_peaks", "n_a", "n_b", "observed",
                        "expected", "log2_ratio", "p_value", "p_depletion", "q_value"]
SPACING_COLUMNS = ["pattern_a", "pattern_b", "orientation", "distance", "count"]


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (monotone, capped at 1)."""
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty(n)
    out[order] = q
    return out


def cooccurrence(counts: pd.DataFrame) -> pd.DataFrame:
    """Pairwise co-occurrence of patterns in peaks.

    Parameters
    ----------
    counts : the peak x pattern matrix (``hits/<target>.counts.tsv``: column ``peak`` then
        one column per pattern).

    Returns
    -------
    DataFrame with :data:`COOCCURRENCE_COLUMNS`, one row per pair ``a < b`` (column order),
    sorted by p-value then pair. ``log2_ratio`` is ``log2((observed + 0.5) / (expected +
    0.5))``.
    """
    patterns = [c for c in counts.columns if c != "peak"]
    present = counts[patterns].to_numpy() > 0
    n = len(counts)
    both = present.T.astype(np.int64) @ present.astype(np.int64)
    rows = []
    for i, a in enumerate(patterns):
        for j in range(i + 1, len(patterns)):
            na, nb, obs = int(both[i, i]), int(both[j, j]), int(both[i, j])
            exp = na * nb / n if n else 0.0
            p = float(stats.hypergeom.sf(obs - 1, n, na, nb)) if n else 1.0
            pd_ = float(stats.hypergeom.cdf(obs, n, na, nb)) if n else 1.0
            rows.append((a, patterns[j], n, na, nb, obs, exp,
                         float(np.log2((obs + 0.5) / (exp + 0.5))), p, pd_))
    table = pd.DataFrame(rows, columns=COOCCURRENCE_COLUMNS[:-1])
    table["q_value"] = _bh(table["p_value"].to_numpy())
    return table.sort_values(["p_value", "pattern_a", "pattern_b"], kind="stable",
                             ignore_index=True)


def frequent_pairs(hits: pd.DataFrame, top: int = 5) -> list:
    """The ``top`` pattern pairs with the most peaks holding both (two hits for a
    homotypic pair), as ``(a, b)`` with ``a <= b``; ties by name."""
    per_peak = hits.groupby(["peak", "pattern"]).size().unstack(fill_value=0)
    patterns = sorted(per_peak.columns)
    scores = []
    for i, a in enumerate(patterns):
        for b in patterns[i:]:
            if a == b:
                n = int((per_peak[a] >= 2).sum())
            else:
                n = int(((per_peak[a] > 0) & (per_peak[b] > 0)).sum())
            if n:
                scores.append((-n, a, b))
    return [(a, b) for _, a, b in sorted(scores)[:top]]


def spacing(hits: pd.DataFrame, pairs: list | None = None, top: int = 5) -> pd.DataFrame:
    """Distance and orientation distribution of hit pairs within peaks.

    Parameters
    ----------
    hits : the hits table (``peak``, ``pattern``, ``strand``, ``window_offset``, ``start``,
        ``end``).
    pairs : ``(a, b)`` pattern pairs; default :func:`frequent_pairs` (``top`` of them).

    Returns
    -------
    DataFrame with :data:`SPACING_COLUMNS` (counts of each pair, orientation and distance in
    bp between hit centres), sorted by pair, orientation, distance.
    """
    if pairs is None:
        pairs = frequent_pairs(hits, top) if len(hits) else []
    centre = hits["window_offset"].to_numpy() + (hits["end"] - hits["start"]).to_numpy() / 2
    df = pd.DataFrame({"peak": hits["peak"].to_numpy(), "pattern": hits["pattern"].to_numpy(),
                       "strand": hits["strand"].to_numpy(), "centre": centre})
    out = []
    groups = {k: g for k, g in df.groupby("peak", sort=False)}
    for a, b in pairs:
        acc: dict = {}
        for g in groups.values():
            ga = g[g["pattern"] == a]
            gb = g[g["pattern"] == b]
            if ga.empty or gb.empty:
                continue
            ca, sa = ga["centre"].to_numpy(), ga["strand"].to_numpy()
            cb, sb = gb["centre"].to_numpy(), gb["strand"].to_numpy()
            if a == b:
                order = np.argsort(ca, kind="stable")
                ca, sa = ca[order], sa[order]
                i, j = np.triu_indices(len(ca), k=1)
                dist = ca[j] - ca[i]
                orient = np.char.add(sa[i].astype(str), sa[j].astype(str))
            else:
                i, j = np.meshgrid(np.arange(len(ca)), np.arange(len(cb)), indexing="ij")
                i, j = i.ravel(), j.ravel()
                dist = cb[j] - ca[i]
                orient = np.char.add(sa[i].astype(str), sb[j].astype(str))
            for o, d in zip(orient.tolist(), np.round(dist).astype(int).tolist()):
                acc[(o, d)] = acc.get((o, d), 0) + 1
        out += [(a, b, o, d, n) for (o, d), n in acc.items()]
    table = pd.DataFrame(out, columns=SPACING_COLUMNS)
    return table.sort_values(["pattern_a", "pattern_b", "orientation", "distance"],
                             kind="stable", ignore_index=True)


def plot_cooccurrence(table: pd.DataFrame, patterns: list, title: str = ""):
    """Heatmap of ``log2_ratio`` (observed vs expected) for every pair; returns the figure."""
    k = len(patterns)
    mat = np.full((k, k), np.nan)
    idx = {p: i for i, p in enumerate(patterns)}
    for a, b, v in zip(table["pattern_a"], table["pattern_b"], table["log2_ratio"]):
        mat[idx[a], idx[b]] = mat[idx[b], idx[a]] = v
    fig, ax = plt.subplots(figsize=(2 + 0.45 * k, 1.5 + 0.45 * k))
    lim = np.nanmax(np.abs(mat)) if np.isfinite(mat).any() else 1.0
    im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
    short = [p.replace("_patterns.pattern_", "_") for p in patterns]
    ax.set_xticks(range(k), short, rotation=90, fontsize=7)
    ax.set_yticks(range(k), short, fontsize=7)
    fig.colorbar(im, ax=ax, label="log2 observed / expected peaks")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_spacing(table: pd.DataFrame, title: str = ""):
    """One histogram panel per pair, one line per orientation; returns the figure."""
    pairs = list(dict.fromkeys(zip(table["pattern_a"], table["pattern_b"])))
    fig, axes = plt.subplots(max(1, len(pairs)), 1, figsize=(6, 1.8 * max(1, len(pairs))),
                             squeeze=False)
    for ax, (a, b) in zip(axes[:, 0], pairs):
        sub = table[(table["pattern_a"] == a) & (table["pattern_b"] == b)]
        for o, g in sub.groupby("orientation"):
            ax.bar(g["distance"], g["count"], width=1.0, alpha=0.6, label=o)
        short = [p.replace("_patterns.pattern_", "_") for p in (a, b)]
        ax.set_title(f"{short[0]} - {short[1]}", fontsize=8)
        ax.set_ylabel("pairs", fontsize=7)
        ax.legend(fontsize=6, ncol=4)
    if not pairs:
        axes[0, 0].text(0.5, 0.5, "no pairs of hits in one peak", ha="center",
                        transform=axes[0, 0].transAxes)
    axes[-1, 0].set_xlabel("distance between hit centres (bp)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
