"""What the seqlet callers share: column names, input checks, batching.

All coordinates are 0-based and half-open.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
import torch

from motifscope.errors import InputError
from motifscope.utils import as_tensor, resolve_device

SEQLET_COLUMNS = ["example_idx", "start", "end", "attribution", "p-value"]
TFMODISCO_COLUMNS = ["example_idx", "start", "end", "attribution"]
SIGNS = ("positive", "negative", "both")

# Rows of a track processed together: about 2**20 values fit the CPU caches; a GPU wants more.
_CPU_BATCH_VALUES = 1 << 20
_GPU_BATCH_VALUES = 1 << 25

# A zero-argument function returning an iterator of (first example index, (n, L) track).
ShardSource = Callable[[], Iterator[tuple[int, torch.Tensor]]]


# ---------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------

def _as_track(X, name: str = "X") -> torch.Tensor:
    """Return X as a 2-D floating tensor (float32 or float64), or raise InputError."""
    if not isinstance(X, (torch.Tensor, np.ndarray)):
        raise InputError(f"{name} must be a numpy array or torch tensor of shape (N, L); "
                         f"got {type(X).__name__}")
    if X.ndim != 2:
        hint = (" (sum projected attributions over the 4 channels first)" if X.ndim == 3
                else " (use X[None] for a single example)" if X.ndim == 1 else "")
        raise InputError(f"{name} must be a per-position attribution track of shape (N, L); "
                         f"got shape {tuple(X.shape)}{hint}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {tuple(X.shape)}); pass at least one "
                         "example of at least one position")
    t = as_tensor(X)
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t


def _check_finite(lo: torch.Tensor, hi: torch.Tensor, name: str) -> None:
    # min and max propagate NaN, so two scalars tell whether every value is finite
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        raise InputError(f"{name} contains NaN or infinite values; fix or mask the "
                         "attributions (e.g. with numpy.nan_to_num) before calling seqlets")


def _check_threshold(threshold) -> float:
    if not isinstance(threshold, (int, float, np.floating)) or not 0 < threshold < 1:
        raise InputError(f"seqlets threshold must be a p-value strictly between 0 and 1; "
                         f"got {threshold!r} (e.g. 0.01 per locus, 0.001 genome-wide)")
    return float(threshold)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"seqlets {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_lengths(min_seqlet_len, max_seqlet_len) -> tuple[int, int]:
    lo = _check_int(min_seqlet_len, "min_seqlet_len", 1)
    hi = _check_int(max_seqlet_len, "max_seqlet_len", 1)
    if lo > hi:
        raise InputError(f"seqlets min_seqlet_len ({lo}) is above max_seqlet_len ({hi}); "
                         "lower min_seqlet_len or raise max_seqlet_len")
    return lo, hi


def _check_sign(sign: str) -> str:
    if sign not in SIGNS:
        raise InputError(f"seqlets sign must be one of {', '.join(SIGNS)}; got {sign!r}")
    return sign


def _pick_device(X: torch.Tensor | None, device) -> torch.device:
    if device is None:
        return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
    return resolve_device(device)


def _rows_per_batch(length: int, device: torch.device, batch_size: int | None) -> int:
    if batch_size is not None:
        return _check_int(batch_size, "batch_size", 1)
    budget = _GPU_BATCH_VALUES if device.type == "cuda" else _CPU_BATCH_VALUES
    return max(1, budget // max(length, 1))


def _iter_rows(X: torch.Tensor, rows: int) -> Iterator[tuple[int, torch.Tensor]]:
    for first in range(0, X.shape[0], rows):
        yield first, X[first:first + rows]
