"""Rule filter_influence: each filter nullified (set to its mean), change per target."""

import logging

import h5py
import numpy as np
import pandas as pd

from _common import run
from motifscope.checks import check_predictions_finite
from motifscope.filters import filter_influence
from motifscope.io import read_loci
from motifscope.io.labels import read_locus_labels
from motifscope.models import check_model, load_model
from motifscope.utils import atomic_path, resolve_device
from motifscope.validation import check_finite_table

log = logging.getLogger("motifscope.filter_influence")


def read_labels(path: str, loci: pd.DataFrame, targets: list[str]) -> np.ndarray:
    """Labels of the loci, (N, T), from a TSV with a `name` (or `idx`) column and one
    column per target; the demo's sim/training.tsv has this layout."""
    return read_locus_labels(path, loci, targets)


def main(onehot: str, loci_file: str, labels: str | None, model_spec: dict, targets: dict,
         settings: dict, batch_size: int, device: str, tsv_out: str) -> None:
    model = load_model(model_spec)
    check_model(model, model_spec["input_length"], target_indices=list(targets.values()),
                path=model_spec["path"])
    dev = resolve_device(device)
    options = settings["influence"]
    loci = read_loci(loci_file)
    n = min(len(loci), settings["max_loci"] or len(loci))
    y = read_labels(labels, loci.iloc[:n], list(targets)) if labels else None
    log.info("%d loci, %d targets, labels %s, device %s", n, len(targets), labels or "none",
             dev)
    with h5py.File(onehot, "r") as h5:
        X = h5["X"] if n == h5["X"].shape[0] else h5["X"][:n]
        table = filter_influence(model, X, y=y, layer=settings["layer"],
                                 activation=settings["activation"], loss=options["loss"],
                                 targets=list(targets.values()), target_names=list(targets),
                                 batch_size=batch_size,
                                 filters_per_pass=options["filters_per_pass"], device=dev)
        numeric = table.select_dtypes("number").to_numpy(dtype=float)
        if not np.isfinite(numeric).all():  # NaN model outputs, or a constant prediction
            check_predictions_finite(model, X, "filter_influence", loci=loci,
                                     batch_size=batch_size, device=dev)
    check_finite_table(table, "filter", "filter influence", path=model_spec["path"])
    for target in targets:
        rows = table[table["target"] == target]
        top = rows.reindex(rows["score"].abs().sort_values(ascending=False).index).head(3)
        log.info("%s: most influential filters %s", target,
                 ", ".join(f"{f} ({s:+.3g})" for f, s in zip(top["filter"], top["score"])))
    with atomic_path(tsv_out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")


if "snakemake" in globals():
    run(main, snakemake, onehot=snakemake.input.onehot, loci_file=snakemake.input.loci,
        labels=snakemake.input.labels[0] if snakemake.input.get("labels") else None,
        model_spec=snakemake.params.model, targets=snakemake.params.targets,
        settings=snakemake.params.filters, batch_size=snakemake.params.batch_size,
        device=snakemake.params.device, tsv_out=snakemake.output.tsv)
