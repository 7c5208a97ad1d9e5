"""De novo patterns of one target's attributions by TF-MoDISco (modisco-lite 3.0).

motifscope crops the windows, hands them to ``modiscolite.tfmodisco.TFMoDISco`` with the
``modisco:`` settings of the config, exactly as ``modisco motifs`` does (float32 (N, W, 4)
tracks, the same keyword arguments), and writes modisco-lite's h5 layout
(:func:`motifscope.io.modisco.write_modisco`), so ``modisco report`` and Fi-NeMo read the
file unchanged. modisco-lite 3.0 is already the fast implementation (compiled kernels;
kernel compilation and Leiden seeds in forked processes, and the negative metacluster too
where numba's threading layer allows): bench/RESULTS.md ("modisco") measures the rule
against the command on the same attributions.

``modiscolite`` is also the package name of modisco 2.x, which bpnet-lite depends on: when
that is installed after modisco-lite 3.0 its files replace 3.0's and TF-MoDISco runs about
3x slower, with the same patterns; :func:`discover_patterns` warns and says how to restore
3.0.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import traceback
from dataclasses import dataclass

import numpy as np
from modiscolite import aggregator, affinitymat, cluster, extract_seqlets, tfmodisco

from motifscope.errors import InputError
from motifscope.utils import progress

log = logging.getLogger("motifscope.denovo")


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


def is_modisco_lite_3() -> bool:
    """Whether the importable ``modiscolite`` is modisco-lite 3.0's code (its TFMoDISco
    forks work to child processes) rather than modisco 2.x's, which installs a package of
    the same name."""
    return hasattr(tfmodisco, "forked")


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
        Progress bar over the clustering's steps (two rounds of coarse and fine affinities,
        density adaptation, Leiden and patterns, then the merging), the current step named
        beside it (default: when stderr is a terminal or ``MOTIFSCOPE_PROGRESS=1``).

    Returns
    -------
    dict
        ``pos_patterns`` and ``neg_patterns`` (lists of modisco-lite SeqletSets, or None
        when a metacluster had too few seqlets), ``window_offset`` (first cropped base) and
        ``window`` (cropped length). With no seqlet passing the FDR both are None.
    """
    if onehot.shape != hypothetical.shape or len(onehot.shape) != 3 or onehot.shape[1] != 4:
        raise InputError(f"one-hot {onehot.shape} and attributions {hypothetical.shape} must "
                         "both be (N, 4, L)")
    offset = crop_offset(onehot.shape[2], settings.window)
    if not is_modisco_lite_3():
        log.warning("the modiscolite package installed is modisco 2.x's (bpnet-lite's "
                    "dependency `modisco` replaced modisco-lite 3.0's files): TF-MoDISco "
                    "runs about 3x slower; restore 3.0 with `pip install --force-reinstall "
                    "--no-deps 'modisco-lite>=3.0,<4'`")
    # only the crop is read, so h5py datasets are sliced on disk rather than loaded whole;
    # modisco-lite takes float32 (N, W, 4), as `modisco motifs` gives it
    crop = slice(offset, offset + settings.window)
    one_hot = np.ascontiguousarray(onehot[:, :, crop].transpose(0, 2, 1), dtype=np.float32)
    hyp = np.ascontiguousarray(hypothetical[:, :, crop].transpose(0, 2, 1), dtype=np.float32)
    np.random.seed(settings.seed)
    # the positive metacluster's steps; the negative's are added when it is clustered in
    # this process (modisco-lite 3.0 forks it where numba's threading layer allows)
    with progress(total=_STEPS_PER_METACLUSTER,
                  desc=f"TF-MoDISco on {len(one_hot)} windows", unit="step",
                  verbose=verbose) as bar:
        with contextlib.nullcontext() if bar.disable else _phase_progress(bar):
            pos, neg = _tfmodisco(one_hot, hyp, settings)
    return {"pos_patterns": pos or None, "neg_patterns": neg or None,
            "window_offset": offset, "window": settings.window}


def _tfmodisco(one_hot: np.ndarray, hyp: np.ndarray, settings: ModiscoSettings):
    """modisco-lite's ``TFMoDISco`` with ``modisco motifs``' arguments and the settings;
    (None, None) when no seqlet passes the FDR, which modisco-lite reports by failing
    inside its seqlet threshold."""
    try:
        return tfmodisco.TFMoDISco(
            one_hot=one_hot, hypothetical_contribs=hyp,
            sliding_window_size=settings.sliding_window, flank_size=settings.flank,
            max_seqlets_per_metacluster=settings.max_seqlets,
            target_seqlet_fdr=settings.target_fdr, n_leiden_runs=settings.n_leiden,
            trim_to_window_size=30, initial_flank_to_add=10, final_flank_to_add=0,
            final_min_cluster_size=settings.min_seqlets, min_ic_in_window=settings.min_ic)
    except (ValueError, IndexError) as err:
        if not _raised_in(err, extract_seqlets.__file__):
            raise
        log.warning("TF-MoDISco found no seqlets (%s); writing an empty result", err)
        return None, None


def _raised_in(err: BaseException, path: str) -> bool:
    """Whether ``err`` was raised from code of the file ``path`` (or what it called)."""
    return any(frame.filename == path for frame in traceback.extract_tb(err.__traceback__))


# What the progress bar counts in one metacluster's clustering: modisco-lite's functions
# that seqlets_to_patterns calls, in their order, each round of the two (then the merging)
_STEPS = (
    ("affinitymat", "cosine_similarity_from_seqlets", "round {round}: coarse affinities"),
    ("affinitymat", "jaccard_from_seqlets", "round {round}: fine affinities"),
    ("tfmodisco", "_density_adaptation", "round {round}: density adaptation"),
    ("cluster", "LeidenCluster", "round {round}: Leiden"),
    ("tfmodisco", "_patterns_from_clusters", "round {round}: patterns of the clusters"),
    ("aggregator", "_detect_spurious_merging", "merging similar patterns"),
)
_STEPS_PER_METACLUSTER = 2 * (len(_STEPS) - 1) + 1


@contextlib.contextmanager
def _phase_progress(bar):
    """Within the block each step of :data:`_STEPS` advances ``bar`` and names itself in
    its postfix; a second metacluster clustered here adds its steps to the total. The
    functions are modisco-lite's, called unchanged, and put back after the block. Steps run
    in another process (modisco-lite 3.0 forks the negative metacluster where numba's
    threading layer allows; the child's copy of the bar would print a second one) and the
    calls inside the merging step and the subpatterns are not counted."""
    owner = os.getpid()
    # counting: from a metacluster's first coarse affinities to the end of its merging
    state = {"round": 0, "counting": False, "started": False}
    patched = []

    def counted(function, label):
        name = function.__name__

        @functools.wraps(function)
        def step(*args, **kwargs):
            if os.getpid() != owner:
                return function(*args, **kwargs)
            if name == "cosine_similarity_from_seqlets":
                if state["round"] == 0 and state["started"]:
                    # a second metacluster clustered here, not in modisco-lite's child
                    bar.total += _STEPS_PER_METACLUSTER
                    bar.refresh()
                state["started"] = True
                state["round"] += 1
                state["counting"] = True
            if not state["counting"]:
                return function(*args, **kwargs)
            bar.set_postfix_str(label.format(round=state["round"]))
            # the Leiden runs and affinities of the merging step are its own
            state["counting"] = name != "_detect_spurious_merging"
            result = function(*args, **kwargs)
            bar.update(1)
            if name == "_detect_spurious_merging":
                state["round"] = 0
                bar.set_postfix_str("subpatterns")
            return result
        return step

    modules = {"affinitymat": affinitymat, "cluster": cluster, "tfmodisco": tfmodisco,
               "aggregator": aggregator}
    try:
        for module_name, name, label in _STEPS:
            module = modules[module_name]
            if hasattr(module, name):
                patched.append((module, name, getattr(module, name)))
                setattr(module, name, counted(getattr(module, name), label))
        yield
    finally:
        for module, name, function in reversed(patched):
            setattr(module, name, function)
