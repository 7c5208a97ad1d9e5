"""De novo patterns of one target's attributions by TF-MoDISco.

motifscope crops the windows and makes the calls of ``modiscolite.tfmodisco.TFMoDISco`` one
phase at a time (seqlets, then each metacluster's clustering) with the ``modisco:`` settings
of the config, so that a progress bar and the log follow the phases. With ``modisco.engine:
motifscope`` (the default) the clustering runs with :mod:`motifscope.denovo.engine`'s
kernels, about 3x faster; with ``modisco-lite`` with modisco-lite's own functions, value for
value its ``TFMoDISco`` (tests/test_modisco.py checks both). It writes modisco-lite's h5
layout (:func:`motifscope.io.modisco.write_modisco`), so ``modisco report`` and Fi-NeMo read
the file unchanged. bench/RESULTS.md ("modisco") measures the rule against the ``modisco
motifs`` command on the same attributions.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
from modiscolite import extract_seqlets, tfmodisco

from motifscope.denovo._trackset import compact_track_set
from motifscope.errors import InputError
from motifscope.utils import progress

log = logging.getLogger("motifscope.denovo")


# modisco.engine: motifscope's kernels in modisco-lite's procedure, or modisco-lite as is
ENGINES = ("motifscope", "modisco-lite")


@dataclass(frozen=True)
class ModiscoSettings:
    """TF-MoDISco parameters (config section ``modisco:``; defaults are the schema's and
    modisco-lite's library defaults).

    window : int, default 400
        Bases around each window's centre given to TF-MoDISco (``modisco motifs -w``);
        even, at most the window length (the workflow's default is the whole window).
    max_seqlets : int, default 20000
        Seqlets kept per metacluster (``-n``); bounds memory and time.
    sliding_window : int, default 21
        Core size of a seqlet (``-z``).
    flank : int, default 10
        Flank added on each side of the core (``-f``).
    target_fdr : float, default 0.2
        Target FDR of the seqlet threshold (the library default; the CLI uses 0.05).
    n_leiden : int, default 2
        Leiden runs per clustering round (``-l``).
    min_seqlets : int, default 20
        Seqlets a final pattern needs (``final_min_cluster_size``).
    min_ic : float, default 0.6
        Information content a pattern needs in some 6 bp window (``min_ic_in_window``).
    trim_threshold : float, default 0.3
        A pattern is trimmed to the positions whose total |CWM| is at least this fraction
        of its maximum (modisco report's trim) for TOMTOM and the MEME files.
    seed : int, default 0
        Seed of numpy's global generator before the run (the Leiden runs use fixed seeds).
    engine : {"motifscope", "modisco-lite"}, default "motifscope"
        "motifscope": modisco-lite's procedure with :mod:`motifscope.denovo.engine`'s
        kernels; "modisco-lite": modisco-lite's own functions throughout.
    """

    window: int = 400
    max_seqlets: int = 20000
    sliding_window: int = 21
    flank: int = 10
    target_fdr: float = 0.2
    n_leiden: int = 2
    min_seqlets: int = 20
    min_ic: float = 0.6
    trim_threshold: float = 0.3
    seed: int = 0
    engine: str = "motifscope"

    @classmethod
    def from_config(cls, section: dict) -> "ModiscoSettings":
        """Settings from the config's ``modisco:`` section (unknown keys ignored)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in section.items() if k in names})


def crop_offset(length: int, window: int, where: str = "modisco.window") -> int:
    """First base of the central ``window`` of a length-``length`` window (modisco-lite's
    ``calculate_window_offsets``: ``length // 2 - window // 2``)."""
    if window % 2 or window < 2:
        raise InputError(f"{where} is {window}; use an even number of bases (modisco-lite "
                         "crops window // 2 on each side of the centre)")
    if window > length:
        raise InputError(f"{where} is {window} but the windows are {length} bp; set it to "
                         f"at most {length}")
    return length // 2 - window // 2


def discover_patterns(onehot: np.ndarray, hypothetical: np.ndarray,
                      settings: ModiscoSettings = ModiscoSettings(),
                      verbose: bool | None = None) -> dict:
    """Run TF-MoDISco on one target's windows.

    Parameters
    ----------
    onehot : array or h5py dataset, shape (N, 4, L)
        One-hot windows (``loci/onehot.h5`` ``X``).
    hypothetical : array or h5py dataset, shape (N, 4, L)
        Hypothetical attributions of the same windows (``attributions/<target>.h5``).
    settings : ModiscoSettings
    verbose : bool, optional
        Progress bar over the phases (default: when stderr is a terminal or
        ``MOTIFSCOPE_PROGRESS=1``).

    Returns
    -------
    dict
        ``pos_patterns`` and ``neg_patterns`` (lists of modisco-lite SeqletSets, or None
        when a metacluster had too few seqlets), ``window_offset`` (first cropped base) and
        ``window`` (cropped length). With no seqlet passing the FDR both are None.
    """
    # only the crop is read, so h5py datasets are sliced on disk rather than loaded whole
    if onehot.shape != hypothetical.shape or len(onehot.shape) != 3 or onehot.shape[1] != 4:
        raise InputError(f"one-hot {onehot.shape} and attributions {hypothetical.shape} must "
                         "both be (N, 4, L)")
    if settings.engine not in ENGINES:
        raise InputError(f"modisco.engine is {settings.engine!r}; use one of "
                         f"{', '.join(ENGINES)}")
    offset = crop_offset(onehot.shape[2], settings.window)
    tracks, projected = compact_track_set(onehot, hypothetical,
                                          slice(offset, offset + settings.window))
    np.random.seed(settings.seed)
    pos, neg = _tfmodisco(tracks, projected, settings, verbose)
    return {"pos_patterns": pos or None, "neg_patterns": neg or None,
            "window_offset": offset, "window": settings.window}


def _tfmodisco(tracks, projected: np.ndarray, settings: ModiscoSettings, verbose):
    """modisco-lite's ``TFMoDISco`` step by step (the same calls with the same arguments), so
    each phase gets a progress step: seqlet extraction, then each metacluster's clustering
    (affinities, Leiden rounds, merging, alignment). ``tracks`` is the TrackSet and
    ``projected`` (N, W) its contributions summed over bases. Returns (pos, neg) SeqletSet
    lists or None; both None when no seqlet passes the FDR."""
    with progress(total=3, desc=f"TF-MoDISco on {len(projected)} windows", unit="phase",
                  verbose=verbose) as bar:
        bar.set_postfix_str("seqlets")
        try:
            coords, threshold = extract_seqlets.extract_seqlets(
                attribution_scores=projected, window_size=settings.sliding_window,
                flank=settings.flank,
                suppress=int(0.5 * settings.sliding_window) + settings.flank,
                target_fdr=settings.target_fdr, min_passing_windows_frac=0.03,
                max_passing_windows_frac=0.2, weak_threshold_for_counting_sign=0.8)
        except (ValueError, IndexError) as err:
            # modisco-lite fails inside its isotonic threshold when no window passes
            log.warning("TF-MoDISco found no seqlets (%s); writing an empty result", err)
            return None, None
        by_sign = {1: [], -1: []}
        for seqlet in tracks.create_seqlets(coords):
            flank = int(0.5 * (len(seqlet) - settings.sliding_window))
            core_sum = np.sum(seqlet.contrib_scores[flank:-flank])
            if core_sum > threshold:
                by_sign[1].append(seqlet)
            elif core_sum < -threshold:
                by_sign[-1].append(seqlet)
        log.info("%d positive and %d negative seqlets", len(by_sign[1]), len(by_sign[-1]))
        bar.update(1)
        patterns = {}
        for sign, name in ((1, "positive"), (-1, "negative")):
            bar.set_postfix_str(f"{name} metacluster ({len(by_sign[sign])} seqlets)")
            # a metacluster needs more than modisco-lite's min_metacluster_size (100)
            if len(by_sign[sign]) > 100:
                with _kernels(settings.engine, verbose):
                    patterns[sign] = tfmodisco.seqlets_to_patterns(
                        seqlets=by_sign[sign][:settings.max_seqlets], track_set=tracks,
                        track_signs=sign, n_leiden_runs=settings.n_leiden,
                        trim_to_window_size=30, initial_flank_to_add=10,
                        final_min_cluster_size=settings.min_seqlets,
                        min_ic_in_window=settings.min_ic)
            else:
                patterns[sign] = None
            bar.update(1)
    return patterns[1], patterns[-1]


def _kernels(engine: str, verbose: bool | None = False):
    """The kernels' context for ``modisco.engine`` (progress bars inside the phases with
    motifscope's)."""
    if engine == "motifscope":
        from motifscope.denovo.engine import substituted_kernels
        return substituted_kernels(verbose)
    return contextlib.nullcontext()
