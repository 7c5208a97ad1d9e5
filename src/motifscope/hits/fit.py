"""Motif instances as a sparse non-negative fit of CWMs to contribution tracks (Fi-NeMo).

Each window's projected contribution track ``C`` (4, L) is explained as a sum of the motif
CWMs placed at every position ``p`` and on both strands, each with a coefficient
``c[m, p] >= 0``::

    minimise_c  1/2 || C - X * sum_m conv_transpose(c[m] * s[m], cwm[m]) ||^2 + sum_m lam[m] |c[m]|_1

where ``X`` is the one-hot sequence (the reconstruction is projected on the observed bases)
and ``s[m, p] = (sum of C^2 under the trimmed CWM at p + eps)^-1/2`` (clamped at 10) scales
each coefficient to the local contribution, so that the penalty acts on a correlation-like
quantity. Tracks are first divided by their root mean square so one penalty fits every window.
The problem is convex; it is solved by proximal gradient descent (a gradient step, then
``max(0, c - step * lam)``) with Nesterov momentum ``k / (k + 3)``, per window until the
duality gap divided by ``L`` falls under ``tol``. A window whose objective becomes non-finite
restarts with a step ``step_adjust`` times smaller. This is the method of Fi-NeMo
(Wang et al., finemo 0.41, ``hitcaller.fit_contribs``); the code here is motifscope's own.

Hits are the non-zero coefficients at convergence whose similarity (cosine between the
trimmed CWM and the track under it) is at least the penalty (Fi-NeMo's post-filter).

All tensors are float32 on ``device``; windows are fitted in batches and a batch shrinks as
its windows converge, so the work per step follows the windows still running.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..utils import as_numpy, progress, resolve_device

HIT_COLUMNS = ["example_idx", "motif_idx", "position", "coefficient", "similarity",
               "importance", "attribution"]


@dataclass
class FitSettings:
    """Settings of the proximal gradient fit (defaults are Fi-NeMo 0.41's).

    step_max : first step size of every window (3.0).
    step_min : a window whose step falls under this is given up (0.08), with a warning.
    tol : convergence threshold on the duality gap per base (5e-4).
    max_steps : most iterations per window (10000), then it stops with a warning.
    step_adjust : factor of the step after a divergence (0.7).
    eps : added to the local sum of squares before the inverse square root (1.0).
    post_filter : keep only hits whose similarity >= the motif's penalty (True).
    """

    step_max: float = 3.0
    step_min: float = 0.08
    tol: float = 5e-4
    max_steps: int = 10000
    step_adjust: float = 0.7
    eps: float = 1.0
    post_filter: bool = True


def _gap_and_step(coef_y, scale, cwms, contribs, seqs, lambdas, steps):
    """One proximal gradient step from the extrapolated point ``coef_y`` (B, M, P).

    Returns the new coefficients (B, M, P), the duality gap (B,) and half the squared
    residual (B,), both not yet divided by L.
    """
    recon = F.conv_transpose1d(coef_y * scale, cwms) * seqs  # (B, 4, L)
    resid = contribs - recon
    corr = F.conv1d(resid, cwms) * scale  # minus the gradient, (B, M, P)
    sq = (resid * resid).sum(dim=(1, 2))
    # duality gap of the lasso (Kim et al. 2007, l1_ls), with the residual scaled into the
    # dual feasible set by the largest penalty-normalised correlation
    dual_norm = (corr / lambdas).amax(dim=(1, 2))
    shrink = (torch.clamp(1.0 / dual_norm, max=1.0) ** 2 + 1.0) / 2.0
    l1 = (coef_y.abs().sum(dim=2, keepdim=True) * lambdas).sum(dim=(1, 2))
    gap = (sq * shrink - (resid * contribs).sum(dim=(1, 2)) + l1).abs()
    new = torch.relu(coef_y + steps * (corr - lambdas))
    return new, gap, sq


def fit_hits(cwms, trim_masks, lambdas, contribs, sequences, settings: FitSettings | None = None,
             batch_size: int = 1024, device: str | torch.device = "auto",
             verbose: bool | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Call motif hits in every window by the sparse non-negative CWM fit.

    Parameters
    ----------
    cwms : (M, 4, W) array
        CWMs, one per motif and strand (unit L2 norm; zeros outside the trimmed span).
    trim_masks : (M, W) array of 0/1
        The trimmed span of each CWM (used for the local scale, similarity and sums).
    lambdas : (M,) array or float
        L1 penalty per motif (Fi-NeMo's default 0.7).
    contribs : (N, 4, L) array
        Hypothetical or projected contributions; they are multiplied by ``sequences``.
    sequences : (N, 4, L) one-hot array
        The windows (N columns all zero are allowed).
    settings : FitSettings, optional
        Step sizes, tolerance, iteration cap (Fi-NeMo's defaults).
    batch_size : int, default 1024
        Windows fitted together.
    device : str or torch.device, default "auto"
        CUDA when present (``auto``), else CPU.

    Returns
    -------
    hits : DataFrame
        One row per hit: ``example_idx`` (window), ``motif_idx`` (row of ``cwms``),
        ``position`` (0-based offset of the untrimmed CWM in the window), ``coefficient``,
        ``similarity`` (cosine of the trimmed CWM with the track), ``importance`` (sum of
        |projected contribution| under the trimmed CWM) and ``attribution`` (its signed sum),
        both in the units of ``contribs``. Sorted by window, motif, position.
    qc : DataFrame
        Per window: ``example_idx``, ``steps``, ``gap``, ``nll`` (half squared residual per
        base), ``step_size``, ``scale`` (root mean square of the track), ``converged``.
    """
    settings = settings or FitSettings()
    dev = resolve_device(device)
    cw = torch.as_tensor(np.asarray(cwms, dtype=np.float32), device=dev)
    mask = torch.as_tensor(np.asarray(trim_masks, dtype=np.float32), device=dev)
    n_motifs, _, width = cw.shape
    cw = cw * mask[:, None, :]
    mask4 = mask[:, None, :].expand(-1, 4, -1).contiguous()
    lam = torch.as_tensor(np.broadcast_to(np.asarray(lambdas, dtype=np.float32), (n_motifs,)).copy(),
                          device=dev)[None, :, None]
    n, _, length = np.shape(contribs)
    if length < width:
        raise ValueError(f"windows of {length} bp are shorter than the motifs ({width} bp)")
    hit_parts, qc_parts = [], []
    bar = progress(total=n, desc="hits", verbose=verbose)
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        x = torch.as_tensor(np.asarray(sequences[lo:hi]), device=dev, dtype=torch.float32)
        c = torch.as_tensor(np.asarray(contribs[lo:hi]), device=dev, dtype=torch.float32) * x
        hits, qc = _fit_batch(cw, mask4, lam, c, x, settings)
        hits["example_idx"] += lo
        qc["example_idx"] += lo
        hit_parts.append(hits)
        qc_parts.append(qc)
        bar.update(hi - lo)
    bar.close()
    hits = pd.concat(hit_parts, ignore_index=True) if hit_parts else pd.DataFrame(
        columns=HIT_COLUMNS)
    qc = pd.concat(qc_parts, ignore_index=True) if qc_parts else pd.DataFrame()
    return hits.sort_values(["example_idx", "motif_idx", "position"], kind="stable",
                            ignore_index=True), qc


def _fit_batch(cw, mask4, lam, contribs, seqs, s: FitSettings):
    """Fit one batch of windows (B, 4, L); converged windows leave the batch."""
    b, _, length = contribs.shape
    scale_g = ((contribs ** 2).sum(dim=(1, 2)) / length).sqrt()
    c = torch.nan_to_num(contribs / scale_g[:, None, None])
    local = F.conv1d(c * c, mask4)  # (B, M, P)
    scale = ((local + s.eps) ** -0.5).clamp(max=10.0)
    shape = (b, cw.shape[0], length - cw.shape[2] + 1)
    coef = torch.zeros(shape, device=c.device)
    coef_y = torch.zeros_like(coef)
    it = torch.zeros((b, 1, 1), device=c.device)
    steps = torch.full((b, 1, 1), s.step_max, device=c.device)
    ids = torch.arange(b, device=c.device)
    out_coef = torch.zeros_like(coef)
    out = {k: torch.zeros(b, device=c.device) for k in ("steps", "gap", "nll", "step_size")}
    ok = torch.zeros(b, dtype=torch.bool, device=c.device)
    while ids.numel():
        prev = coef
        coef, gap, sq = _gap_and_step(coef_y, scale, cw, c, seqs, lam, steps)
        gap = gap / length
        momentum = it / (it + 3.0)
        coef_y = (1 + momentum) * coef - momentum * prev
        it += 1
        bad = ~torch.isfinite(gap)
        if bad.any():
            coef[bad] = 0
            coef_y[bad] = 0
            it[bad] = 0
            steps[bad] *= s.step_adjust
        timeout = it[:, 0, 0] > s.max_steps
        failed = steps[:, 0, 0] < s.step_min
        conv = gap <= s.tol
        leave = conv | timeout | failed
        if not leave.any():
            continue
        gone = ids[leave]
        out_coef[gone] = coef[leave]
        out["steps"][gone] = it[leave, 0, 0]
        out["gap"][gone] = gap[leave]
        out["nll"][gone] = sq[leave] / (2 * length)
        out["step_size"][gone] = steps[leave, 0, 0]
        ok[gone] = conv[leave]
        for label, flag in (("did not converge within max_steps", timeout & ~conv),
                            ("failed (step size under step_min)", failed & ~conv & ~timeout)):
            for w in ids[flag].tolist():
                warnings.warn(f"window {w}: the hit fit {label}", RuntimeWarning, stacklevel=3)
        keep = ~leave
        ids, coef, coef_y, it, steps = ids[keep], coef[keep], coef_y[keep], it[keep], steps[keep]
        seqs, scale, c = seqs[keep], scale[keep], c[keep]
    return _extract(out_coef, cw, mask4, lam, contribs, scale_g, s), pd.DataFrame({
        "example_idx": np.arange(b), "steps": as_numpy(out["steps"]).astype(np.int64),
        "gap": as_numpy(out["gap"]), "nll": as_numpy(out["nll"]),
        "step_size": as_numpy(out["step_size"]), "scale": as_numpy(scale_g),
        "converged": as_numpy(ok)})


def _extract(coef, cw, mask4, lam, contribs, scale_g, s: FitSettings) -> pd.DataFrame:
    """Hits of a fitted batch: non-zero coefficients (after the similarity filter)."""
    c = torch.nan_to_num(contribs / scale_g[:, None, None])
    norm = F.conv1d(c * c, mask4).sqrt()  # (B, M, P)
    similarity = F.conv1d(c, cw) / norm
    if s.post_filter:
        coef = coef * (similarity >= lam)
    idx = torch.nonzero(coef > 0, as_tuple=True)
    importance = F.conv1d(contribs.abs(), mask4)[idx]
    attribution = F.conv1d(contribs, mask4)[idx]
    return pd.DataFrame({
        "example_idx": as_numpy(idx[0]).astype(np.int64),
        "motif_idx": as_numpy(idx[1]).astype(np.int64),
        "position": as_numpy(idx[2]).astype(np.int64),
        "coefficient": as_numpy(coef[idx]),
        "similarity": as_numpy(similarity[idx]),
        "importance": as_numpy(importance),
        "attribution": as_numpy(attribution),
    })

