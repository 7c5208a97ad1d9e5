"""Figures of the de novo patterns: one row per pattern, and the cross-target heat map."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from motifscope.denovo.patterns import trimmed
from motifscope.io.modisco import Pattern
from motifscope.plot import plot_logo, plt, save_figure

def _stem(path) -> Path:
    path = Path(path)
    return path.with_name(path.name.removesuffix(".png"))


PANELS = ["CWM", "CWM (reverse complement)", "PWM (bits)", "best match (bits)",
          "seqlet centres in the window"]
# Rows drawn per metacluster (its largest patterns); four logos a row cost about 0.6 s, and
# a figure of 40 rows is too tall to read: the rest are in the table and the report
MAX_ROWS = {"pos_patterns": 12, "neg_patterns": 6}


def drawn_patterns(patterns: list[Pattern]) -> list[Pattern]:
    """The patterns :func:`plot_patterns` draws: each metacluster's largest, at most
    :data:`MAX_ROWS` of it, in the given order."""
    kept = set()
    for group, limit in MAX_ROWS.items():
        members = [p for p in patterns if p.group == group]
        kept |= set(map(id, sorted(members, key=lambda p: -p.n_seqlets)[:limit]))
    return [p for p in patterns if id(p) in kept]


def plot_patterns(patterns: list[Pattern], table: pd.DataFrame, database, window: int,
                  path: str | os.PathLike, trim_threshold: float = 0.3) -> None:
    """Draw each pattern as a row of five panels (:data:`PANELS`) into ``path`` (PNG): every
    pattern, or each metacluster's largest (:func:`drawn_patterns`) with a line naming how
    many more the table holds.

    ``table`` is :func:`motifscope.denovo.pattern_table`'s (for the row titles and the best
    match), ``database`` the MotifSet the matches come from, ``window`` the cropped length.
    Without patterns the figure says so.
    """
    left_out = len(patterns) - len(drawn := drawn_patterns(patterns))
    patterns = drawn
    rows = max(len(patterns), 1)
    fig, axes = plt.subplots(rows, len(PANELS), figsize=(19, 1.9 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 3, 3, 3, 2]})
    if not patterns:
        for ax in axes[0]:
            ax.axis("off")
        axes[0][0].text(0, 0.5, "TF-MoDISco found no pattern", fontsize=12)
    info = table.set_index("pattern") if len(table) else pd.DataFrame()
    for row, pattern in zip(axes, patterns):
        ppm, cwm = trimmed(pattern, trim_threshold)
        meta = info.loc[pattern.name] if pattern.name in info.index else {}
        match = str(meta.get("match_1", "") or "")
        title = f"{pattern.name} ({pattern.n_seqlets} seqlets)"
        plot_logo(cwm, ax=row[0], title=title)
        plot_logo(cwm[::-1, ::-1], ax=row[1], title=PANELS[1])
        plot_logo(ppm, ax=row[2], ic_scale=True, title=PANELS[2])
        if match and match in database:
            q = meta.get("q_1", np.nan)
            plot_logo(database[match], ax=row[3], ic_scale=True,
                      title=f"{match} {database.alt_id(match)} (q = {q:.2g})")
        else:
            row[3].axis("off")
            row[3].set_title("no database match")
        centres = (pattern.seqlets["start"] + pattern.seqlets["end"]) / 2
        row[4].hist(centres, bins=np.linspace(0, window, 41), color="0.35")
        row[4].set_xlim(0, window)
        row[4].set_title(PANELS[4], fontsize=9)
    fig.tight_layout()
    if left_out:
        fig.text(0.01, 0.002, f"{left_out} smaller patterns not drawn: see "
                 f"{Path(path).name.removesuffix('.png')}.tsv and the report", fontsize=9)
    save_figure(fig, _stem(path), formats=("png",))


def plot_shared(matrix: pd.DataFrame, path: str | os.PathLike) -> None:
    """Heat map of :func:`motifscope.denovo.shared_matrix` (motifs x targets, share of each
    target's seqlets) into ``path`` (PNG)."""
    n_rows = max(len(matrix), 1)
    fig, ax = plt.subplots(figsize=(2.5 + 1.1 * max(matrix.shape[1], 1), 1.2 + 0.35 * n_rows))
    if matrix.empty:
        ax.axis("off")
        ax.text(0.5, 0.5, "no de novo pattern in any target", ha="center")
    else:
        image = ax.imshow(matrix.to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=1,
                          aspect="auto")
        ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=45, ha="right")
        ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
        fig.colorbar(image, ax=ax, label="share of the target's seqlets")
        ax.set_title("De novo motifs across targets")
    fig.tight_layout()
    save_figure(fig, _stem(path), formats=("png",))
