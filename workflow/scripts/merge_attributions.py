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
from pathlib import Path

from motifscope.attribution.summary import PositionProfile, summary_figure
from motifscope.errors import InputError
from motifscope.io.attributions import delta_summary, merge_shards
from motifscope.plot import save_figure

log = logging.getLogger("motifscope.merge_attributions")


def refuse_large_deltas(shard_warnings: list[str], allow: bool) -> None:
    """Fail the stage when any shard warned about convergence deltas above
    ``attribution.warning_threshold``, unless ``allow`` (``attribution.allow_large_deltas``)."""
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
        Keep going when shards warned about large convergence deltas (else InputError, and
        the merged files are removed).

    The merge itself is :func:`motifscope.io.attributions.merge_shards`.
    """
    profile = {}

    def add(block, sequences):
        profile.setdefault("p", PositionProfile(sequences.shape[-1]))
        profile["p"].add(block, sequences)

    merged = merge_shards(shards, output, onehot, dtype=dtype, ohe_npz=ohe_npz,
                          shap_npz=shap_npz, on_block=add)
    log.info("merged %d shard(s): %d loci x %d bp, method %s, target %s, stored as %s",
             merged["n_shards"], merged["n_loci"], merged["length"], merged["method"],
             merged["target"], dtype)
    log.info("%s", delta_summary(merged["deltas"], empty="no convergence deltas (ISM, or no loci)"))
    for message in merged["warnings"]:
        log.warning("%s", message)
    if merged["warnings"]:
        log.warning("%d shard(s) had large convergence deltas: the attributions do not add "
                    "up to the output change there; see the messages above",
                    len(merged["warnings"]))
    try:
        refuse_large_deltas(merged["warnings"], allow_large_deltas)
    except InputError:
        for path in (output, ohe_npz, shap_npz):
            if path:
                Path(path).unlink(missing_ok=True)
        raise
    if figure:
        save_figure(summary_figure(profile.get("p") or PositionProfile(merged["length"]),
                                   merged["deltas"], merged["target"], merged["method"]),
                    str(figure)[:-len(".png")])
    log.info("parameters: %s", json.loads(merged["params"]))


if "snakemake" in globals():
    from _common import run

    run(main, snakemake, shards=list(snakemake.input.shards),  # noqa: F821 - set by Snakemake
        output=snakemake.output.h5, onehot=snakemake.input.onehot,  # noqa: F821
        dtype=snakemake.params.dtype, ohe_npz=snakemake.output.get("ohe"),  # noqa: F821
        shap_npz=snakemake.output.get("shap"),  # noqa: F821
        figure=snakemake.output.png,  # noqa: F821
        allow_large_deltas=snakemake.params.allow_large_deltas)  # noqa: F821
