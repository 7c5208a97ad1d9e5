"""The database side of TOMTOM: target columns, their scores against query columns, and
their layout (one engine run per database).
"""

from __future__ import annotations

import functools

import numpy as np
import torch


# --------------------------------------------------------------------------------------
# The database: target columns and their layout
# --------------------------------------------------------------------------------------

class _Database:
    """Target columns (with reverse complements), plus their deduplicated form and
    alignment layouts for the torch engine (computed on first use)."""

    def __init__(self, matrices: list[np.ndarray], reverse_complement: bool, distance: str,
                 n_score_bins: int, n_median_bins: int, device: torch.device):
        self.device = device
        self.distance = distance
        self.n_bins = n_score_bins
        self.n_median_bins = n_median_bins
        self.n_targets = len(matrices)
        self.reverse_complement = reverse_complement
        oriented = list(matrices)
        if reverse_complement:
            oriented += [m[::-1, ::-1] for m in matrices]
        self.lengths = torch.tensor([m.shape[1] for m in oriented], dtype=torch.int64,
                                    device=device)
        self.flat = np.concatenate(oriented, axis=1).T  # (M, 4), every oriented column
        self.n_columns = self.flat.shape[0]
        self.halfway = float(self.n_columns) / 2
        starts = np.concatenate([[0], np.cumsum([m.shape[1] for m in oriented])[:-1]])
        self.starts = torch.as_tensor(starts, dtype=torch.int64, device=device)
        self._layouts: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._kernel_arrays: dict[str, np.ndarray] | None = None

    @functools.cached_property
    def _unique(self) -> dict[str, torch.Tensor]:
        """Distinct columns (M_u, 4), each column's index among them and their counts."""
        unique, inverse, counts = np.unique(self.flat, axis=0, return_inverse=True,
                                            return_counts=True)
        columns = torch.from_numpy(np.ascontiguousarray(unique)).to(self.device)
        counts = torch.from_numpy(counts).to(device=self.device, dtype=torch.float64)
        out = {"columns": columns, "inverse": torch.from_numpy(inverse.ravel()).to(self.device),
               "counts": counts, "weights": counts / float(self.n_columns)}
        if self.distance == "ed":
            out["norms"] = (columns ** 2).sum(1)
        else:
            out["centred"] = columns - 0.25
            out["sum_squares"] = (out["centred"] ** 2).sum(1)
        return out

    columns = property(lambda self: self._unique["columns"])
    inverse = property(lambda self: self._unique["inverse"])
    counts = property(lambda self: self._unique["counts"])
    weights = property(lambda self: self._unique["weights"])
    norms = property(lambda self: self._unique["norms"])
    centred = property(lambda self: self._unique["centred"])
    sum_squares = property(lambda self: self._unique["sum_squares"])

    def dissimilarity(self, query_columns: torch.Tensor) -> torch.Tensor:
        """Minus the column similarity of query columns (U, 4) with every unique database
        column, (U, M_u) float64: the Euclidean distance, or minus the Pearson correlation.
        """
        if self.distance == "ed":
            q_norms = (query_columns ** 2).sum(1)
            squared = torch.addmm(q_norms[:, None] + self.norms[None, :], query_columns,
                                  self.columns.T, alpha=-2.0)
            return squared.clamp_(min=0).sqrt_()
        centred = query_columns - 0.25
        numerator = centred @ self.centred.T
        denominator = torch.sqrt((centred ** 2).sum(1)[:, None] * self.sum_squares[None, :])
        safe = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
        return torch.where(denominator == 0, torch.zeros_like(numerator), -numerator / safe)

    def layout(self, width: int):
        """Flat target layout for queries of one width.

        Oriented targets are laid end to end in order of length, separated (and
        flanked) by ``width - 1`` padding columns, so every alignment of a query is a
        window of one flat array, the windows of one target are consecutive, and the
        targets of one length form a block that reshapes to (n_targets, n_alignments).

        Returns
        -------
        flat : torch.Tensor (L_flat,)
            Unique database column (in [0, M_u)) at each flat position, M_u for padding.
        groups : list of (length, targets, start, n_align, overlap)
            Per target length: the oriented target indices (in layout order), the first
            window of the block, ``width + length - 1`` and the (n_align,) overlap of
            each alignment.
        overlap : torch.Tensor (L_out,)
            Overlap of every window (L_out = L_flat - width + 1).
        """
        if width in self._layouts:
            return self._layouts[width]
        dev = self.device
        gap = width - 1
        lengths = self.lengths.cpu()
        order = torch.argsort(lengths, stable=True)
        sorted_lengths = lengths[order]
        n_oriented = len(order)
        # Flat position of every column of every target, in layout order.
        starts_sorted = torch.cumsum(sorted_lengths, 0) - sorted_lengths
        flat_start = starts_sorted + gap * (torch.arange(n_oriented) + 1)
        total = self.n_columns + (n_oriented + 1) * gap
        flat = torch.full((total,), len(self.columns), dtype=torch.int64)
        owner = torch.repeat_interleave(torch.arange(n_oriented), sorted_lengths)
        local = torch.arange(self.n_columns) - torch.repeat_interleave(starts_sorted,
                                                                       sorted_lengths)
        source = self.starts.cpu()[order][owner] + local
        flat[flat_start[owner] + local] = self.inverse.cpu()[source]
        groups, pieces = [], []
        position = 0
        for t in torch.unique(sorted_lengths).tolist():
            members = order[sorted_lengths == t]
            n_align = width + t - 1
            a = torch.arange(n_align)
            ov = torch.clamp(a + 1, max=width) - torch.clamp(a - t + 1, min=0)
            groups.append((t, members.to(dev), position, n_align, ov.to(dev)))
            pieces.append(ov.repeat(len(members)))
            position += len(members) * n_align
        overlap = torch.cat(pieces)
        self._layouts[width] = (flat.to(dev), groups, overlap.to(dev))
        return self._layouts[width]

    def kernel_arrays(self) -> dict[str, np.ndarray]:
        """The database as numpy arrays for the CPU kernel (computed once).

        Every column of every oriented target (not deduplicated), grouped by target
        length and, within a group of n targets of length t, ordered column-major (column p
        of the r-th target at ``base + p * n + r``): Y (4, N) (centred at 1/4 for Pearson)
        and aux (N,) its squared norms in memelite's summation order (Euclidean) or sums
        of squares (Pearson); per group its length, size, base and members (oriented
        target indices); the oriented target lengths; and the forward targets sorted by
        length with the start of each length.
        """
        if self._kernel_arrays is None:
            columns = self.flat
            lengths = self.lengths.cpu().numpy().astype(np.int64)
            starts = self.starts.cpu().numpy().astype(np.int64)
            members = np.argsort(lengths, kind="stable").astype(np.int64)
            group_length, group_size = np.unique(lengths[members], return_counts=True)
            group_base = np.concatenate([[0], np.cumsum(group_length * group_size)[:-1]])
            source = []
            offset = 0
            for t, n in zip(group_length, group_size):
                chosen = members[offset:offset + n]
                # Column p of every member, for p = 0..t-1.
                source.append((starts[chosen][None, :] + np.arange(t)[:, None]).ravel())
                offset += n
            flat = columns[np.concatenate(source)].T
            if self.distance == "ed":
                y = np.ascontiguousarray(flat)
                aux = y[0] * y[0] + y[1] * y[1] + y[2] * y[2] + y[3] * y[3]
            else:
                y = np.ascontiguousarray(flat - 0.25)
                aux = (y ** 2).sum(0)
            forward = lengths[:self.n_targets]
            order = np.argsort(forward, kind="stable").astype(np.int64)
            cuts = np.flatnonzero(np.diff(forward[order])) + 1
            self._kernel_arrays = {
                "Y": y, "aux": np.ascontiguousarray(aux),
                "group_length": group_length.astype(np.int64),
                "group_size": group_size.astype(np.int64),
                "group_base": group_base.astype(np.int64), "group_members": members,
                "target_lengths": lengths, "length_order": order,
                "group_start": np.concatenate([[0], cuts, [len(order)]]).astype(np.int64),
            }
        return self._kernel_arrays

    def layout_inverse(self, width: int) -> torch.Tensor:
        """Position in layout order of every oriented target (for :meth:`layout`)."""
        _, groups, _ = self.layout(width)
        members = torch.cat([g[1] for g in groups])
        return torch.argsort(members)
