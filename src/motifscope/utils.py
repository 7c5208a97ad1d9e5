"""Small shared helpers: devices, atomic outputs, progress bars and array conversion."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from motifscope.errors import InputError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn a config device string into a ``torch.device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device or None, default "auto"
        ``"auto"`` (or None) picks CUDA when available, else CPU. Asking for CUDA on a
        machine without it is an error, never a silent fallback to the CPU.

    Returns
    -------
    torch.device
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device '{device}' was requested but CUDA is not available on this machine; "
            "set `device: auto` or `device: cpu` in the config, or run on a GPU node"
        )
    return dev


def as_tensor(X, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Return ``X`` (numpy array or tensor) as a torch tensor without copying when possible."""
    if isinstance(X, torch.Tensor):
        return X if dtype is None else X.to(dtype)
    t = torch.from_numpy(np.ascontiguousarray(X))
    return t if dtype is None else t.to(dtype)


def as_numpy(X) -> np.ndarray:
    """Return ``X`` (tensor or array-like) as a numpy array on the CPU."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return np.asarray(X)


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "",
             unit: str = "it", verbose: bool | None = None):
    """A tqdm progress bar on stderr.

    Bars are shown when ``verbose`` is True, or when it is None and either stderr is a
    terminal or the environment variable ``MOTIFSCOPE_PROGRESS=1`` is set (the workflow
    scripts set it so that rule logs show progress).
    """
    from tqdm.auto import tqdm
    from tqdm.std import tqdm as std_tqdm

    # tqdm's monitor is a thread, and modisco-lite 3.0 forks its numba compilation only
    # from a single-threaded process: otherwise it compiles every kernel in the rule's own
    # process, one after another (the rule was 1.8x slower than `modisco motifs` on the demo)
    std_tqdm.monitor_interval = 0
    if verbose is None:
        verbose = os.environ.get("MOTIFSCOPE_PROGRESS") == "1" or sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not verbose,
                file=sys.stderr, mininterval=1.0, dynamic_ncols=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A failed writer leaves neither a partial ``path`` nor the temporary file behind.

    Examples
    --------
    >>> with atomic_path("out.tsv") as tmp:          # doctest: +SKIP
    ...     df.to_csv(tmp, sep="\\t")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600 files; outputs are shared
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def seed_everything(random_state: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) and ask torch for deterministic kernels."""
    import random

    random.seed(random_state)
    np.random.seed(random_state)
    torch.manual_seed(random_state)
    torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def full_float32_matmul() -> Iterator[None]:
    """Switch off TF32 for CUDA matrix products and convolutions inside the block.

    TF32 keeps 10 mantissa bits, enough to round the integer-scaled scores that FIMO and
    TOMTOM sum on the GPU; the caller's settings are restored on exit.
    """
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@contextlib.contextmanager
def numba_threads(chunksize: int = 0, max_threads: int | None = None) -> Iterator[int]:
    """Run numba's parallel loops inside the block on torch's thread count; yield it.

    numba's first parallel launch sets the OpenMP thread count, which torch shares, to
    every core; the count torch had on entry is restored on exit. ``chunksize`` > 0 hands
    out loop iterations that many at a time (0: numba's static split); ``max_threads``
    caps the count (for kernels whose per-thread scratch is large).
    """
    import numba

    torch_threads = torch.get_num_threads()
    threads = max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS,
                         max_threads or torch_threads))
    saved = numba.get_num_threads()
    numba.set_num_threads(threads)
    saved_chunk = numba.set_parallel_chunksize(chunksize)
    try:
        yield threads
    finally:
        numba.set_parallel_chunksize(saved_chunk)
        numba.set_num_threads(saved)
        torch.set_num_threads(torch_threads)


def numba_kernels(module: str, device: torch.device, enabled: bool = True):
    """The numba kernel module ``module`` for a run on ``device``, or None.

    None on other devices than the CPU, when ``enabled`` is False (tests switch kernels off
    to check the torch engines), and when numba is not installed: every kernel has a torch
    counterpart that gives the same results.
    """
    if device.type != "cpu" or not enabled:
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def write_tsv_gz(frame, path: str | os.PathLike, **to_csv) -> None:
    """Write a DataFrame as a gzip file atomically and reproducibly: the gzip header holds
    mtime 0 and the output's own name (without ``.gz``), not the temporary file's, so two
    runs of the same config write the same bytes. ``to_csv`` goes to ``frame.to_csv``
    (e.g. ``sep="\\t", index=False``)."""
    import gzip
    import io

    path = Path(path)
    inner = path.name[:-3] if path.name.endswith(".gz") else path.name
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(filename=inner, mode="wb", fileobj=raw, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8", newline="") as text:
        frame.to_csv(text, **to_csv)
