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

from motifscope.attribution.summary import PositionProfile, summary_figure
from motifscope.io.attributions import delta_summary, merge_shards
from motifscope.plot import save_figure

log = logging.getLogger("motifscope.merge_attributions")


def main(shards, output, onehot, dtype="float32", ohe_npz=None, shap_npz=None, figure=None):
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
        figure=snakemake.output.png)  # noqa: F821
