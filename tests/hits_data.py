"""Tiny planted-CWM contribution tracks and a modisco-lite-layout h5 for the hits tests."""

import h5py
import numpy as np


def planted_cwms(rng, n_patterns=3, width=30, core=10):
    """(P, 4, width) CWMs: a random core of ``core`` columns (one strong base each) centred
    in low flanks."""
    cwms = rng.normal(0, 0.02, size=(n_patterns, 4, width))
    a = (width - core) // 2
    for p in range(n_patterns):
        bases = rng.integers(0, 4, core)
        cwms[p, bases, np.arange(a, a + core)] = rng.uniform(0.5, 1.0, core)
    return cwms


def planted_tracks(rng, cwms, n=48, length=200, per_window=3, noise=0.05):
    """Windows with CWM instances planted at random positions and strands.

    Returns one-hot X (n, 4, L) uint8, hypothetical contributions (n, 4, L) float32 and the
    planted sites [(window, pattern, start, strand)].
    """
    p_count, _, w = cwms.shape
    X = np.zeros((n, 4, length), dtype=np.uint8)
    X[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)] = 1
    hyp = rng.normal(0, noise, size=(n, 4, length))
    sites = []
    for i in range(n):
        starts = rng.choice(np.arange(0, length - w, w), size=per_window, replace=False)
        for s in starts:
            p = int(rng.integers(0, p_count))
            strand = "+" if rng.random() < 0.5 else "-"
            cwm = cwms[p] if strand == "+" else cwms[p][::-1, ::-1]
            amp = rng.uniform(0.5, 2.0)
            X[i, :, s:s + w] = 0
            X[i, cwm.argmax(axis=0), np.arange(s, s + w)] = 1
            hyp[i, :, s:s + w] += amp * cwm
            sites.append((i, p, int(s), strand))
    return X, hyp.astype(np.float32), sites


def write_modisco_h5(path, cwms, n_seqlets=20):
    """A modisco-lite-layout h5: pos_patterns/pattern_k/{contrib_scores, hypothetical_contribs,
    sequence} as (w, 4), seqlets/n_seqlets."""
    with h5py.File(path, "w") as h5:
        grp = h5.create_group("pos_patterns")
        for k, cwm in enumerate(cwms):
            pat = grp.create_group(f"pattern_{k}")
            pat.create_dataset("contrib_scores", data=cwm.T)
            pat.create_dataset("hypothetical_contribs", data=cwm.T)
            seq = np.abs(cwm.T) + 1e-3
            pat.create_dataset("sequence", data=seq / seq.sum(axis=1, keepdims=True))
            sl = pat.create_group("seqlets")
            sl.create_dataset("n_seqlets", data=np.array([n_seqlets]))
