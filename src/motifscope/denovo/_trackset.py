"""TF-MoDISco's tracks, held in a third of the memory.

modisco-lite keeps three float32 arrays of shape (N, L, 4) for the whole run: the one-hot
sequence, the hypothetical contributions and their product, the contributions. Its
seqlets only ever read them as ``track[window][start:end]`` (``core.TrackSet.
create_seqlets``), so here the one-hot is kept as uint8 and the contributions are not
kept at all: each read returns the float32 values modisco-lite's arrays hold there,
computed for that stretch (``x * h`` of the stretch is the stretch of ``x * h``). At
27,000 windows of 400 bp that is 300 MB less in the whole run (1.3 GB at 117,000); the
values seqlets see are the same bit for bit. The price is time: a seqlet's read takes about
9 us against 1 us for modisco-lite's views.
"""

from __future__ import annotations

import numpy as np
from modiscolite import core

# Windows read from the HDF5 files at once (their chunks hold 256)
_READ_WINDOWS = 2048


class _LazyTrack:
    """(N, L, 4) float32 values computed for what is read, read as ``track[i][s:e]`` (the
    only way modisco-lite reads a track): ``read(i, s:e)`` gives them."""

    def __init__(self, n, length, read):
        self.n, self.length, self.read = n, length, read

    def __len__(self):
        return self.n

    def __getitem__(self, window):
        return _WindowOfTrack(self, window)


class _WindowOfTrack:
    __slots__ = ("track", "window")

    def __init__(self, track, window):
        self.track, self.window = track, window

    def __len__(self):
        return self.track.length

    def __getitem__(self, stretch):
        return self.track.read(self.window, stretch)


def _one_hot_reader(x):
    def read(window, stretch):
        return x[window, stretch].astype(np.float32)
    return read


def _contributions_reader(x, h):
    # uint8 (or float32) times float32 is float32, the product of modisco-lite's arrays
    def read(window, stretch):
        return np.multiply(x[window, stretch], h[window, stretch])
    return read


def compact_track_set(onehot, hypothetical, crop: slice):
    """modisco-lite's TrackSet of the cropped windows, and the per-base contributions that
    its seqlet extraction thresholds.

    Parameters
    ----------
    onehot : array or h5py dataset, shape (N, 4, L)
        One-hot windows; integer or boolean ones are kept as uint8, others as float32.
    hypothetical : array or h5py dataset, shape (N, 4, L)
        Hypothetical contributions.
    crop : slice
        The bases given to TF-MoDISco.

    Returns
    -------
    (core.TrackSet, projected float32 array of shape (N, W)): W the crop's length;
    ``projected`` is modisco-lite's ``contrib_scores.sum(axis=2)``.
    """
    n = len(onehot)
    width = len(range(*crop.indices(onehot.shape[2])))
    compact = np.issubdtype(np.dtype(onehot.dtype), np.integer) or onehot.dtype == bool
    x = np.empty((n, width, 4), dtype=np.uint8 if compact else np.float32)
    h = np.empty((n, width, 4), dtype=np.float32)
    projected = np.empty((n, width), dtype=np.float32)
    for start in range(0, n, _READ_WINDOWS):
        part = slice(start, min(start + _READ_WINDOWS, n))
        x[part] = np.asarray(onehot[part, :, crop]).transpose(0, 2, 1)
        h[part] = np.asarray(hypothetical[part, :, crop]).transpose(0, 2, 1)
        projected[part] = np.multiply(x[part], h[part]).sum(axis=2)
    one_hot = _LazyTrack(n, width, _one_hot_reader(x)) if compact else x
    contrib = _LazyTrack(n, width, _contributions_reader(x, h))
    return core.TrackSet(one_hot=one_hot, contrib_scores=contrib,
                         hypothetical_contribs=h), projected
