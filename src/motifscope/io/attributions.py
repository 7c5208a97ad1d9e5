"""The attribution files of the workflow: the one place that knows their HDF5 layout.

Layouts (CONTRIBUTING.md, "HDF5 layouts"):

- shard ``attributions/shards/<target>/<k>.h5``: ``attr`` float32 (n, 4, L) hypothetical
  attributions and ``deltas`` float32 (n, R) (R = 0 for ISM) of loci ``[start, end)``;
  attributes ``start``, ``end``, ``method``, ``target``, ``target_index``, ``params`` (JSON)
  and ``warning`` (the convergence warning of the job, "" if none).
- merged ``attributions/<target>.h5``: ``attr`` float16 or float32 (N, 4, L) (chunked by
  256 loci), ``deltas`` float32 (N, R), attributes ``method``, ``target``,
  ``target_index``, ``params`` and ``warnings`` (JSON list of the shards' warnings, each
  prefixed with its loci).
- modisco-lite inputs ``ohe.npz`` / ``shap.npz``: member ``arr_0`` (N, 4, L), streamed by
  :class:`NpzArrayWriter`.

Projected attributions are ``attr * X`` (X the one-hot of ``loci/onehot.h5``) summed over
the 4 channels; :func:`projected_shards` streams them shard by shard.
"""

from __future__ import annotations

import json
import zipfile
from contextlib import ExitStack
from typing import Callable, Iterator

import h5py
import numpy as np
import torch

from motifscope.errors import InputError
from motifscope.utils import atomic_path

DTYPES = ("float16", "float32")
ATTR_WHAT = "dataset 'attr' of hypothetical attributions, shape (N, 4, L)"
ONEHOT_WHAT = "dataset 'X' of one-hot windows, shape (N, 4, L)"


# --- convergence deltas ------------------------------------------------------------------

def delta_statistics(deltas: np.ndarray) -> dict:
    """Summary of convergence deltas (N, R): pairs, max, mean and 99.9th percentile of
    |delta| (NaN for ISM, which has none)."""
    magnitude = np.abs(np.asarray(deltas, dtype=np.float64)).ravel()
    if magnitude.size == 0:
        return {"pairs": 0, "max_abs": np.nan, "mean_abs": np.nan, "q999_abs": np.nan}
    return {"pairs": int(magnitude.size), "max_abs": float(magnitude.max()),
            "mean_abs": float(magnitude.mean()), "q999_abs": float(np.quantile(magnitude, 0.999))}


def delta_summary(deltas: np.ndarray, empty: str = "no convergence deltas (empty shard or ISM)"
                  ) -> str:
    """One log line: max, mean and 99.9th percentile of |delta| over pairs (``empty`` when
    there are none)."""
    stats = delta_statistics(deltas)
    if stats["pairs"] == 0:
        return empty
    return (f"convergence deltas over {stats['pairs']} pairs: max |delta| "
            f"{stats['max_abs']:.3g}, mean {stats['mean_abs']:.3g}, 99.9th percentile "
            f"{stats['q999_abs']:.3g}")


# --- shards ------------------------------------------------------------------------------

def write_shard(path, attr: np.ndarray, deltas: np.ndarray, *, start: int, end: int,
                method: str, target: str, target_index: int, warning: str, params: str
                ) -> None:
    """Write one shard file atomically: ``attr`` (n, 4, L), ``deltas`` (n, R) and the
    attributes of the layout (``params`` a JSON string)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
        out.create_dataset("attr", data=attr)
        out.create_dataset("deltas", data=deltas)
        out.attrs.update({"start": start, "end": end, "method": method, "target": target,
                          "target_index": target_index, "warning": warning,
                          "params": params})


def _shard_meta(paths):
    metas = []
    for path in paths:
        with h5py.File(path, "r") as handle:
            attrs = dict(handle.attrs)
            metas.append((path, int(attrs["start"]), int(attrs["end"]), attrs,
                          handle["attr"].shape, handle["deltas"].shape))
    return metas


def _check_contiguous(metas, n_loci):
    expected = 0
    for path, start, end, *_ in metas:
        if start != min(expected, n_loci):
            raise RuntimeError(f"{path}: covers loci [{start}, {end}) but the previous shards "
                               f"end at {expected}; shards must be given in order")
        expected = end
    if expected != n_loci:
        raise RuntimeError(f"the shards cover loci [0, {expected}) of {n_loci}")


class NpzArrayWriter:
    """Stream an (N, ...) array into ``<path>`` as member ``arr_0`` of an .npz archive,
    block by block along the first axis (what ``numpy.load(path)["arr_0"]`` reads back)."""

    def __init__(self, path, shape, dtype):
        self.archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED,
                                       allowZip64=True)
        self.member = self.archive.open("arr_0.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                  "fortran_order": False, "shape": tuple(int(s) for s in shape)}
        np.lib.format.write_array_header_2_0(self.member, header)
        self.dtype, self.rows_left = np.dtype(dtype), int(shape[0])

    def write(self, block: np.ndarray) -> None:
        self.member.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())
        self.rows_left -= len(block)

    def close(self) -> None:
        if self.rows_left != 0:
            raise RuntimeError(f"npz writer: {self.rows_left} rows were never written")
        self.member.close()
        self.archive.close()


def merge_shards(shards, output, onehot, dtype: str = "float32", ohe_npz=None, shap_npz=None,
                 on_block: Callable[[np.ndarray, np.ndarray], None] | None = None) -> dict:
    """Merge shard files (in shard order) into ``output``, one shard in memory at a time.

    Parameters
    ----------
    shards : list of paths
        ``attributions/shards/<target>/<k>.h5`` for k = 0, 1, ...; together they must cover
        loci ``[0, N)`` of ``onehot`` in order.
    output : path
        ``attributions/<target>.h5`` (written atomically).
    onehot : path
        ``loci/onehot.h5`` (dataset ``X`` uint8 (N, 4, L)).
    dtype : {"float16", "float32"}, default "float32"
        Storage type of ``attr``.
    ohe_npz, shap_npz : path, optional
        modisco-lite inputs (one-hot uint8 and hypothetical attributions float32, member
        ``arr_0`` (N, 4, L)), written when given.
    on_block : callable(attr (n, 4, L) float32, X (n, 4, L) uint8), optional
        Called with every shard's block (e.g. to accumulate a QC profile).

    Returns
    -------
    dict
        ``n_shards``, ``n_loci``, ``length``, ``method``, ``target``, ``params`` (JSON str),
        ``deltas`` (N, R) float32 and ``warnings`` (list of str, "loci [a, b): message").
    """
    if dtype not in DTYPES:
        raise InputError(f"config key attribution.dtype: '{dtype}' is not one of "
                         f"{', '.join(DTYPES)}")
    metas = _shard_meta(shards)
    with h5py.File(onehot, "r") as handle:
        n_loci, _, length = handle["X"].shape
    _check_contiguous(metas, n_loci)
    first = metas[0][3]
    n_refs = metas[0][5][1]
    chunks = (max(1, min(n_loci, 256)), 4, length)
    warnings_seen = [f"loci [{start}, {end}): {attrs['warning']}"
                     for _, start, end, attrs, _, _ in metas if attrs.get("warning")]

    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(output))
        out = stack.enter_context(h5py.File(tmp, "w"))
        attr = out.create_dataset("attr", shape=(n_loci, 4, length), dtype=dtype,
                                  chunks=chunks if n_loci else None)
        deltas = out.create_dataset("deltas", shape=(n_loci, n_refs), dtype="float32")
        out.attrs.update({"method": first["method"], "target": first["target"],
                          "target_index": int(first["target_index"]),
                          "params": first["params"],
                          "warnings": json.dumps(warnings_seen)})
        writers = []
        for path, kind in ((ohe_npz, "uint8"), (shap_npz, "float32")):
            if path:
                npz_tmp = stack.enter_context(atomic_path(path))
                writers.append((NpzArrayWriter(npz_tmp, (n_loci, 4, length), kind), kind))
        onehot_handle = stack.enter_context(h5py.File(onehot, "r"))
        for path, start, end, _, _, _ in metas:
            with h5py.File(path, "r") as shard:
                block = shard["attr"][:]
                attr[start:end] = block.astype(dtype)
                deltas[start:end] = shard["deltas"][:]
            sequences = onehot_handle["X"][start:end]
            if on_block is not None:
                on_block(block, sequences)
            for writer, kind in writers:
                writer.write(sequences if kind == "uint8" else block)
        for writer, _ in writers:
            writer.close()
        all_deltas = deltas[:]
    return {"n_shards": len(metas), "n_loci": int(n_loci), "length": int(length),
            "method": first["method"], "target": first["target"], "params": first["params"],
            "deltas": all_deltas, "warnings": warnings_seen}


# --- reading the merged file -------------------------------------------------------------

def open_h5(path, dataset: str, what: str):
    """Open ``path`` read-only, checking it holds ``dataset``; InputError naming ``what``
    (the expected content) otherwise. Returns the open h5py.File."""
    try:
        h5 = h5py.File(path, "r")
    except (OSError, FileNotFoundError) as err:
        raise InputError(f"{path}: cannot open as HDF5 ({err}); expected {what}") from None
    if dataset not in h5 or not isinstance(h5[dataset], h5py.Dataset):
        h5.close()
        raise InputError(f"{path}: no dataset '{dataset}'; expected {what}")
    return h5


def check_attribution_files(attributions, onehot) -> tuple[int, int]:
    """Check ``attributions/<target>.h5`` (dataset ``attr``, (N, 4, L) float) against
    ``loci/onehot.h5`` (dataset ``X``, (N, 4, L) uint8); return (N, L) or raise InputError."""
    with open_h5(attributions, "attr", ATTR_WHAT) as fa, \
            open_h5(onehot, "X", ONEHOT_WHAT) as fx:
        a, x = fa["attr"], fx["X"]
        if a.ndim != 3 or a.shape[1] != 4:
            raise InputError(f"{attributions}: dataset 'attr' has shape {a.shape}; expected "
                             "(N, 4, L) hypothetical attributions (rerun merge_attributions)")
        if a.dtype.kind != "f":
            raise InputError(f"{attributions}: dataset 'attr' has dtype {a.dtype}; expected "
                             "float16 or float32 attributions")
        if x.shape != a.shape:
            raise InputError(f"{attributions}: 'attr' shape {a.shape} does not match 'X' "
                             f"shape {x.shape} of {onehot}; both must come from the same loci")
        if a.shape[0] == 0:
            raise InputError(f"{attributions}: dataset 'attr' has no examples")
        return int(a.shape[0]), int(a.shape[2])


def projected_shards(attributions, onehot, shard_size: int | None = None
                     ) -> Iterator[tuple[int, torch.Tensor]]:
    """Yield (first example index, projected (n, L) float32 tensor) shard by shard:
    ``attr * X`` summed over the 4 channels. Reads ``shard_size`` examples at a time
    (default: the HDF5 chunk of ``attr``, at least 256)."""
    n, _ = check_attribution_files(attributions, onehot)
    with open_h5(attributions, "attr", "") as fa, open_h5(onehot, "X", "") as fx:
        a, x = fa["attr"], fx["X"]
        rows = shard_size or max(256, (a.chunks or (256,))[0])
        for first in range(0, n, rows):
            attr = a[first:first + rows].astype(np.float32)
            # one base per column, so the channel sum is exact in any order
            yield first, torch.from_numpy(np.einsum("ncl,ncl->nl", attr, x[first:first + rows],
                                                    dtype=np.float32))


def hypothetical_blocks(attributions, block: int = 1000
                        ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield (lo, hi, hypothetical ``attr[lo:hi]`` (n, 4, L) as stored) ``block`` loci at a
    time from ``attributions/<target>.h5``."""
    with open_h5(attributions, "attr", ATTR_WHAT) as h5:
        n_loci = h5["attr"].shape[0]
        for lo in range(0, n_loci, block):
            hi = min(n_loci, lo + block)
            yield lo, hi, h5["attr"][lo:hi]


def read_rows(attributions, rows) -> np.ndarray:
    """Hypothetical attributions (len(rows), 4, L) float32 of the given loci (sorted
    increasing indices) of ``attributions/<target>.h5``."""
    with open_h5(attributions, "attr", ATTR_WHAT) as h5:
        return h5["attr"][rows].astype(np.float32)


def read_deltas(attributions) -> tuple[np.ndarray, str, list[str]]:
    """(deltas (N, R) float32, method, the shards' convergence warnings) of a merged
    ``attributions/<target>.h5``."""
    with open_h5(attributions, "deltas", "dataset 'deltas' of convergence deltas (N, R)") as h5:
        warnings = json.loads(h5.attrs.get("warnings", "[]") or "[]")
        return h5["deltas"][:], str(h5.attrs.get("method", "")), list(warnings)
