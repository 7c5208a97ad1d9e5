"""A quality-control figure for one target's attributions.

Two panels: where along the window the attribution lies (mean projected attribution and
mean |projected attribution| per position over all loci), and how well DeepLIFT's
summation-to-delta held (histogram of log10 |convergence delta| over all locus-reference
pairs; for ISM, of the largest |ISM score| per locus instead).
"""

from __future__ import annotations

import numpy as np

from motifscope.plot import style


class PositionProfile:
    """Streaming per-position sums of projected attributions, shard by shard.

    Examples
    --------
    >>> profile = PositionProfile(length=4)
    >>> profile.add(np.ones((2, 4, 4)), np.eye(4)[None].repeat(2, 0))
    >>> profile.mean.tolist()
    [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, length: int):
        self.total = np.zeros(length, dtype=np.float64)
        self.total_abs = np.zeros(length, dtype=np.float64)
        self.peak = []
        self.count = 0

    def add(self, hypothetical: np.ndarray, onehot: np.ndarray) -> None:
        """Add a block: hypothetical (n, 4, L) attributions and its one-hot (n, 4, L)."""
        projected = (np.asarray(hypothetical, np.float64) * onehot).sum(axis=1)
        self.total += projected.sum(axis=0)
        self.total_abs += np.abs(projected).sum(axis=0)
        self.peak.append(np.abs(projected).max(axis=1) if len(projected) else np.zeros(0))
        self.count += len(projected)

    @property
    def mean(self) -> np.ndarray:
        return self.total / max(self.count, 1)

    @property
    def mean_abs(self) -> np.ndarray:
        return self.total_abs / max(self.count, 1)


def summary_figure(profile: PositionProfile, deltas: np.ndarray, target: str, method: str):
    """The QC figure (matplotlib Figure) for one target.

    Parameters
    ----------
    profile : PositionProfile
        Accumulated over every locus.
    deltas : array, shape (N, R)
        Convergence deltas (R = 0 for ISM).
    target, method : str
        For the titles.
    """
    import matplotlib.pyplot as plt


    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2),
                                          gridspec_kw={"width_ratios": [2, 1]})
        length = len(profile.total)
        positions = np.arange(length) - length // 2
        left.plot(positions, profile.mean_abs, color="#1f77b4", lw=1,
                  label="mean |attribution|")
        left.plot(positions, profile.mean, color="#d62728", lw=1, label="mean attribution")
        left.axhline(0, color="0.6", lw=0.5)
        left.set_xlabel("position relative to the window centre (bp)")
        left.set_ylabel("projected attribution")
        left.set_title(f"{target}: {method} over {profile.count} loci")
        left.legend(frameon=False, fontsize=8)
        if deltas.size:
            magnitude = np.log10(np.maximum(np.abs(deltas).ravel(), 1e-12))
            right.hist(magnitude, bins=50, color="0.4")
            right.set_xlabel("log10 |convergence delta|")
            right.set_title(f"{deltas.size} locus-reference pairs")
        else:
            peak = np.concatenate(profile.peak) if profile.peak else np.zeros(0)
            right.hist(peak, bins=50, color="0.4")
            right.set_xlabel("largest |ISM score| per locus")
            right.set_title(f"{profile.count} loci")
        right.set_ylabel("count")
        fig.tight_layout()
    return fig
