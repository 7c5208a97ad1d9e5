"""Plotting helpers shared by every stage: reproducible figure files and sequence logos.

Figures are written with fixed fonts, a fixed hash salt and no timestamps, so rerunning
a rule gives byte-identical PDF and PNG files.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from motifscope.utils import as_numpy, atomic_path  # noqa: E402

BASE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}

_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "pdf.fonttype": 42,
    "svg.hashsalt": "motifscope",
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def style():
    """Context manager applying motifscope's fixed matplotlib style."""
    return plt.rc_context(_STYLE)


def save_figure(fig, stem: str | os.PathLike, formats=("pdf", "png")) -> list[Path]:
    """Save ``fig`` as ``<stem>.pdf`` and ``<stem>.png`` reproducibly, then close it.

    Metadata that changes between runs (creation date, software version) is removed so the
    same figure gives the same bytes. Files are written atomically.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``formats``.
    """
    stem = Path(stem)
    written = []
    for fmt in formats:
        out = stem.with_name(f"{stem.name}.{fmt}")
        metadata = {"pdf": {"CreationDate": None, "ModDate": None, "Producer": None,
                            "Creator": "motifscope"},
                    "png": {"Software": None},
                    "svg": {"Date": None, "Creator": None}}.get(fmt, {})
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format=fmt, metadata=metadata, bbox_inches="tight")
        written.append(out)
    plt.close(fig)
    return written


def information_content(pwm, background=None, eps: float = 1e-9) -> np.ndarray:
    """Per-column information content in bits of a ``(4, w)`` probability matrix.

    Parameters
    ----------
    pwm : array, shape (4, w)
    background : array of 4 floats, optional
        Background frequencies; uniform by default (then IC = 2 - entropy).

    Returns
    -------
    numpy.ndarray, shape (w,)
    """
    p = np.clip(as_numpy(pwm).astype(float), 0, None)
    bg = np.full(4, 0.25) if background is None else np.asarray(background, float)
    return (p * (np.log2(p + eps) - np.log2(bg[:, None]))).sum(axis=0)


def plot_logo(matrix, ax=None, ic_scale: bool = False, title: str | None = None,
              start: int = 0, annotations=None):
    """Draw a sequence logo with logomaker.

    Parameters
    ----------
    matrix : array, shape (4, w)
        Letter heights (rows A, C, G, T): attributions (may be negative) or, with
        ``ic_scale=True``, probabilities that are scaled by column information content.
    ax : matplotlib Axes, optional
    ic_scale : bool, default False
    title : str, optional
    start : int, default 0
        x coordinate of the first column (e.g. the position inside a window).
    annotations : DataFrame, optional
        Rows with ``start``, ``end`` (same coordinates as x) and ``label``, drawn as bars
        under the logo.

    Returns
    -------
    matplotlib Axes
    """
    import logomaker

    m = as_numpy(matrix).astype(float)
    if ic_scale:
        m = m * information_content(m)[None, :]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(2.0, 0.18 * m.shape[1]), 1.2))
    df = pd.DataFrame(m.T, columns=list("ACGT"), index=np.arange(start, start + m.shape[1]))
    logomaker.Logo(df, ax=ax, color_scheme=BASE_COLORS, flip_below=True,
                   show_spines=False, font_name="DejaVu Sans")
    ax.axhline(0, color="0.6", lw=0.5)
    if ic_scale:
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
    if title:
        ax.set_title(title, loc="left")
    if annotations is not None and len(annotations):
        lo, hi = ax.get_ylim()
        span = hi - lo
        for k, row in enumerate(annotations.itertuples(index=False)):
            y = lo - span * (0.12 + 0.1 * (k % 3))
            ax.plot([row.start - 0.5, row.end - 0.5], [y, y], lw=2, color="0.25",
                    solid_capstyle="butt", clip_on=False)
            ax.text((row.start + row.end) / 2 - 0.5, y - span * 0.02, str(row.label),
                    ha="center", va="top", fontsize=6, clip_on=False)
    return ax
