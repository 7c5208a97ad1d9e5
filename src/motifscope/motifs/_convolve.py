"""Exact convolution of many short probability vectors, each with its own kernel.

The TOMTOM null distributions are built by convolving span score distributions with one
query column's score histogram at a time. Tail probabilities down to 1e-100 matter, so
this runs in float64 and never uses an FFT (its round-off would swamp the tails). A
direct convolution of row ``r`` with kernel ``r`` is written as a block-Toeplitz matrix
product: the output is cut into blocks of ``block`` values; each block needs ``block +
K - 1`` consecutive inputs and a ``(block + K - 1, block)`` Toeplitz matrix made from the
kernel, so the whole operation is one batched GEMM (fast on CPU and GPU alike) that does
``(block + K - 1) / K`` times the minimal work. Every product is a non-negative term, so
the result keeps full relative precision in the tails.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Rows handled per GEMM call, bounded so the unfolded blocks stay around 64 MB.
_MAX_ELEMENTS = 8_000_000


def convolve_rows(rows: torch.Tensor, kernels: torch.Tensor, block: int = 32) -> torch.Tensor:
    """Full 1-D convolution of every row with its own kernel.

    Parameters
    ----------
    rows : torch.Tensor, shape (R, W)
        Float64 vectors (probability mass functions).
    kernels : torch.Tensor, shape (R, K)
        One kernel per row, same dtype and device.
    block : int, default 32
        Output block size of the Toeplitz formulation.

    Returns
    -------
    torch.Tensor, shape (R, W + K - 1)
        ``out[r, o] = sum_k rows[r, o - k] * kernels[r, k]``.
    """
    n_rows, width = rows.shape
    k = kernels.shape[1]
    n_out = width + k - 1
    if n_rows == 0:
        return rows.new_zeros((0, n_out))
    n_blocks = -(-n_out // block)
    span = block + k - 1
    # toeplitz[a, o] = kernel[o - a + k - 1] where that index is in [0, k).
    a = torch.arange(span, device=rows.device)[:, None]
    o = torch.arange(block, device=rows.device)[None, :]
    tap = o - a + k - 1
    valid = (tap >= 0) & (tap < k)
    tap = tap.clamp(0, k - 1)
    step = max(1, _MAX_ELEMENTS // max(1, n_blocks * span + span * block))
    out = rows.new_empty((n_rows, n_blocks * block))
    for lo in range(0, n_rows, step):
        hi = min(n_rows, lo + step)
        padded = F.pad(rows[lo:hi], (k - 1, n_blocks * block - width))
        # The overlapping unfold view must be copied: BLAS cannot read overlapping rows
        # and torch's fallback for such strides is two orders of magnitude slower.
        windows = padded.unfold(1, span, block).contiguous()  # (r, n_blocks, span)
        toeplitz = kernels[lo:hi][:, tap] * valid  # (r, span, block)
        out[lo:hi] = torch.bmm(windows, toeplitz).reshape(hi - lo, -1)
    return out[:, :n_out]
