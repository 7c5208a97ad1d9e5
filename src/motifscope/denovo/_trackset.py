"""TF-MoDISco's tracks, held in a third of the memory.

modisco-lite keeps three float32 arrays of shape (N, L, 4) for the whole run: the one-hot
sequence, the hypothetical contributions and their product, the contributions. It only
reads them through ``TrackSet.create_seqlets`` (a window's stretch per seqlet), so here the
one-hot is kept as uint8 and the contributions are not kept at all: each seqlet gets the
float32 values modisco-lite's arrays hold there, computed for its stretch (``x * h`` of the
stretch is the stretch of ``x * h``). At 27,000 windows of 400 bp that is 300 MB less in
the whole run (1.3 GB at 117,000); the values seqlets see are the same bit for bit. The
price is time: about 2-3 us a seqlet against 1-2 us for modisco-lite's views (9 us when
each track was a lazy array of its own, read three times per seqlet).
"""

from __future__ import annotations

import numpy as np
from modiscolite import core

# Windows read from the HDF5 files at once (their chunks hold 256)
_READ_WINDOWS = 2048


class CompactTrackSet(core.TrackSet):
    """modisco-lite's TrackSet over a uint8 (or float32) one-hot ``x`` and float32
    hypothetical contributions ``h``, both (N, W, 4); the contributions are ``x * h``
    computed for each seqlet read, so ``contrib_scores`` is None: modisco-lite only reads a
    TrackSet through :meth:`create_seqlets`, which here takes two slices, one conversion
    and one product per seqlet."""

    def __init__(self, x: np.ndarray, h: np.ndarray):
        self.one_hot, self.contrib_scores, self.hypothetical_contribs = x, None, h
        self.length = x.shape[1]

    def create_seqlets(self, seqlets):
        """Fill each seqlet's ``sequence``, ``contrib_scores`` and ``hypothetical_contribs``
        with the float32 (end - start, 4) values of modisco-lite's arrays there (reverse
        complemented for a reverse seqlet); returns the seqlets, as modisco-lite does."""
        x, h, float32 = self.one_hot, self.hypothetical_contribs, np.float32
        for seqlet in seqlets:
            window, start, end = seqlet.example_idx, seqlet.start, seqlet.end
            sequence = x[window, start:end].astype(float32)
            hypothetical = h[window, start:end]
            # 0/1 float32 times float32: bit for bit modisco-lite's product arrays
            contributions = sequence * hypothetical
            if seqlet.is_revcomp:
                sequence, contributions = sequence[::-1, ::-1], contributions[::-1, ::-1]
                hypothetical = hypothetical[::-1, ::-1]
            seqlet.sequence, seqlet.contrib_scores = sequence, contributions
            seqlet.hypothetical_contribs = hypothetical
        return seqlets


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
    (CompactTrackSet, projected float32 array of shape (N, W)): W the crop's length;
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
    return CompactTrackSet(x, h), projected
