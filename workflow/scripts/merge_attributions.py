"""Rule ``merge_attributions``: concatenate the shard files of one target.

Writes ``attributions/<target>.h5`` (CONTRIBUTING.md layout: ``attr`` hypothetical
attributions (N, 4, L) in float16 or float32, ``deltas`` float32 (N, R), attributes
``method``, ``target``, ``target_index``, ``params``) shard by shard, so memory stays at
one shard. On request it also writes modisco-lite inputs: ``ohe.npz`` (the one-hot
sequences) and ``shap.npz`` (the hypothetical attributions), each holding ``arr_0`` of
shape (N, 4, L), streamed into the archive without building the whole array.
"""

import json
import logging
import zipfile
from contextlib import ExitStack

import h5py
import numpy as np

log = logging.getLogger("motifscope.merge_attributions")
DTYPES = ("float16", "float32")


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


def summarise_deltas(deltas: np.ndarray, shard_warnings: list[str]) -> None:
    """Log max / mean / 99.9th percentile |delta|, and warn with each shard's convergence
    warning (deep_lift_shap warns when the deltas are large relative to the output change)."""
    if deltas.size == 0:
        log.info("no convergence deltas (ISM, or no loci)")
    else:
        magnitude = np.abs(deltas)
        log.info("convergence deltas over %d pairs: max |delta| %.3g, mean %.3g, 99.9th "
                 "percentile %.3g", deltas.size, magnitude.max(), magnitude.mean(),
                 np.quantile(magnitude, 0.999))
    for message in shard_warnings:
        log.warning("%s", message)
    if shard_warnings:
        log.warning("%d shard(s) had large convergence deltas: the attributions do not add "
                    "up to the output change there; see the messages above", len(shard_warnings))


def refuse_large_deltas(shard_warnings: list[str], allow: bool) -> None:
    """Fail the stage when any shard warned about convergence deltas above
    ``attribution.warning_threshold``, unless ``allow`` (``attribution.allow_large_deltas``)."""
    from motifscope.errors import InputError

    if shard_warnings and not allow:
        raise InputError(f"{len(shard_warnings)} shard(s) have convergence deltas above "
                         "attribution.warning_threshold (first: "
                         f"{shard_warnings[0].split(': deep_lift_shap: ')[0]}): the "
                         "attributions do not add up to the output change; use "
                         "attribution.method: ism, a model whose layers all have DeepLIFT "
                         "rules, or set attribution.allow_large_deltas: true to accept them")


def main(shards, output, onehot, dtype="float32", ohe_npz=None, shap_npz=None, figure=None,
         allow_large_deltas=False):
    """Merge shard files (in shard order) into ``output``.

    Parameters
    ----------
    shards : list of paths
        ``attributions/shards/<target>/<k>.h5`` for k = 0, 1, ...
    output : path
        ``attributions/<target>.h5``.
    onehot : path
        ``loci/onehot.h5``: gives N (the shards must cover it) and the ``ohe.npz`` content.
    dtype : {"float16", "float32"}, default "float32"
        Storage type of ``attr``.
    ohe_npz, shap_npz : path, optional
        modisco-lite inputs, written when given.
    figure : path, optional
        ``<stem>.png``: the QC figure (also ``<stem>.pdf``), see
        :func:`motifscope.attribution.summary.summary_figure`.
    allow_large_deltas : bool, default False
        Keep going when shards warned about large convergence deltas (else InputError).
    """
    from motifscope.attribution.summary import PositionProfile, summary_figure
    from motifscope.errors import InputError
    from motifscope.plot import save_figure
    from motifscope.utils import atomic_path

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

    with ExitStack() as stack:
        tmp = stack.enter_context(atomic_path(output))
        out = stack.enter_context(h5py.File(tmp, "w"))
        attr = out.create_dataset("attr", shape=(n_loci, 4, length), dtype=dtype,
                                  chunks=chunks if n_loci else None)
        deltas = out.create_dataset("deltas", shape=(n_loci, n_refs), dtype="float32")
        out.attrs.update({"method": first["method"], "target": first["target"],
                          "target_index": int(first["target_index"]),
                          "params": first["params"]})
        writers = []
        for path, kind in ((ohe_npz, "uint8"), (shap_npz, "float32")):
            if path:
                npz_tmp = stack.enter_context(atomic_path(path))
                writers.append((NpzArrayWriter(npz_tmp, (n_loci, 4, length), kind), kind))
        onehot_handle = stack.enter_context(h5py.File(onehot, "r"))
        warnings_seen = []
        profile = PositionProfile(length)
        for path, start, end, attrs, _, _ in metas:
            with h5py.File(path, "r") as shard:
                block = shard["attr"][:]
                attr[start:end] = block.astype(dtype)
                deltas[start:end] = shard["deltas"][:]
            if attrs.get("warning"):
                warnings_seen.append(f"loci [{start}, {end}): {attrs['warning']}")
            sequences = onehot_handle["X"][start:end]
            profile.add(block, sequences)
            for writer, kind in writers:
                writer.write(sequences if kind == "uint8" else block)
        for writer, _ in writers:
            writer.close()
        log.info("merged %d shard(s): %d loci x %d bp, method %s, target %s, stored as %s",
                 len(metas), n_loci, length, first["method"], first["target"], dtype)
        all_deltas = deltas[:]
        summarise_deltas(all_deltas, warnings_seen)
        refuse_large_deltas(warnings_seen, allow_large_deltas)
        if figure:
            save_figure(summary_figure(profile, all_deltas, first["target"], first["method"]),
                        str(figure)[:-len(".png")])
        log.info("parameters: %s", json.loads(first["params"]))


if "snakemake" in globals():
    from _common import run

    run(main, snakemake, shards=list(snakemake.input.shards),  # noqa: F821 - set by Snakemake
        output=snakemake.output.h5, onehot=snakemake.input.onehot,  # noqa: F821
        dtype=snakemake.params.dtype, ohe_npz=snakemake.output.get("ohe"),  # noqa: F821
        shap_npz=snakemake.output.get("shap"),  # noqa: F821
        figure=snakemake.output.png,  # noqa: F821
        allow_large_deltas=snakemake.params.allow_large_deltas)  # noqa: F821
