"""Rule filter_pwms: first-layer filters -> PFMs (Basset or DanQ rule), MEME file, logos."""

import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

from _common import run
from motifscope.filters import filter_pwms, plot_filter_logos, plot_filter_weights
from motifscope.models import load_model
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.filter_pwms")


def main(onehot: str, model_spec: dict, settings: dict, batch_size: int, device: str,
         meme_out: str, pwms_out: str, logos_dir: str, weights_png: str,
         loci_file: str | None = None, labels: str | None = None,
         peak_sets: list | None = None) -> None:
    """Filter PFMs from the windows of ``onehot``; with ``filters.positive_for`` only from
    the loci positive in ``labels``, or without labels, the windows of those targets' own
    peak files (``peak_sets``: their loci/targets/<target>/loci.tsv)."""
    model = load_model(model_spec)
    dev = resolve_device(device)
    positive_for = settings.get("positive_for") or []
    with h5py.File(onehot, "r") as h5:
        X = h5["X"]
        if settings["max_loci"]:
            X = X[:settings["max_loci"]]
        if positive_for:
            from motifscope.io import read_loci
            from motifscope.io.labels import positive_in_peak_sets, positive_loci

            loci = read_loci(loci_file).iloc[:X.shape[0]]
            keep = (positive_loci(labels, loci, list(positive_for)) if labels else
                    positive_in_peak_sets(loci, [read_loci(p) for p in peak_sets or []]))
            log.info("%d of %d loci positive for %s (filters.positive_for)", int(keep.sum()),
                     len(keep), ", ".join(positive_for))
            X = X[np.flatnonzero(keep)]
        log.info("%d loci of %d bp, method %s, device %s", X.shape[0], X.shape[2],
                 settings["method"], dev)
        result = filter_pwms(model, X, layer=settings["layer"],
                             activation=settings["activation"], method=settings["method"],
                             threshold=settings["threshold"],
                             pseudocount=settings["pseudocount"],
                             min_sites=settings["min_sites"],
                             both_strands=settings["both_strands"], batch_size=batch_size,
                             device=dev)
    log.info("layer %s, activation %s: %d filters, %d with a motif (>= %d sites)",
             result.layer, result.activation, len(result.names), int(result.kept.sum()),
             result.min_sites)
    if result.dropped:
        log.warning("no motif (too few sites) for: %s", ", ".join(result.dropped))
    result.write_meme(meme_out, trim_ic=settings["trim_ic"])
    with atomic_path(pwms_out) as tmp:
        result.table().to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    # logos go to a scratch folder first so a failure leaves no partial output folder
    scratch = Path(f"{logos_dir}.tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    plot_filter_logos(result, scratch)
    shutil.rmtree(logos_dir, ignore_errors=True)
    os.replace(scratch, logos_dir)
    plot_filter_weights(result, Path(weights_png).with_suffix(""))


if "snakemake" in globals():
    run(main, snakemake, onehot=snakemake.input.onehot, model_spec=snakemake.params.model,
        settings=snakemake.params.filters, batch_size=snakemake.params.batch_size,
        device=snakemake.params.device, meme_out=snakemake.output.meme,
        pwms_out=snakemake.output.pwms, logos_dir=snakemake.output.logos,
        weights_png=snakemake.output.weights, loci_file=snakemake.input.loci,
        labels=(snakemake.input.labels or [None])[0],
        peak_sets=list(snakemake.input.peak_sets))
