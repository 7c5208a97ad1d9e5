"""Rule marginalize: every database motif planted in backgrounds, effect per target."""

import logging

import h5py
import pandas as pd

from _common import run
from motifscope.io import read_meme, read_peaks, select_motifs
from motifscope.marginalize import make_backgrounds, marginalize_motifs, plot_marginalization
from motifscope.models import check_model, load_model
from motifscope.plot import save_figure
from motifscope.utils import atomic_path, resolve_device
from motifscope.validation import check_attributable, check_finite_table

log = logging.getLogger("motifscope.marginalize")


def main(model_spec: dict, motif_file: str, genome: str, peaks: list, onehot: str,
         targets: dict, settings: dict, batch_size: int, device: str, random_state: int,
         n_shuffles: int, tables: list, plots: list) -> None:
    model = load_model(model_spec)
    length = model_spec["input_length"]
    check_model(model, length, target_indices=list(targets.values()), path=model_spec["path"])
    if settings["func"] == "deep_lift_shap":
        check_attributable(model, model_spec.get("format"), model_spec["path"],
                           key="marginalize.func: predict")
    motifs = select_motifs(read_meme(motif_file), settings["motifs"], "marginalize.motifs")
    kind = settings["background"]
    if kind == "genomic":  # genomic backgrounds avoid every peak file (one, or each target's)
        peaks = pd.concat([read_peaks(path) for path in peaks], ignore_index=True)
    with h5py.File(onehot, "r") as h5:  # shuffled_peaks reads only the drawn windows
        backgrounds = make_backgrounds(
            kind, settings["n_backgrounds"], length, random_state=random_state, genome=genome,
            peaks=peaks, X_peaks=h5["X"])
    dev = resolve_device(device)
    log.info("%d motifs x %d %s backgrounds of %d bp, %s instances, func %s, device %s",
             len(motifs), len(backgrounds), kind, length, settings["instance"],
             settings["func"], dev)
    extra = {"n_shuffles": n_shuffles} if settings["func"] == "deep_lift_shap" else {}
    table = marginalize_motifs(model, backgrounds, motifs, targets=targets,
                               func=settings["func"], instance=settings["instance"],
                               random_state=random_state, batch_size=batch_size, device=dev,
                               **extra)
    check_finite_table(table, "motif", f"marginalization effects ({settings['func']})",
                       path=model_spec["path"])
    for target, table_out, plot_out in zip(targets, tables, plots):
        rows = table[table["target"] == target].drop(columns="target")
        with atomic_path(table_out) as tmp:
            rows.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        top = rows.head(3)
        log.info("%s: strongest motifs %s", target,
                 ", ".join(f"{m} {a} ({d:+.3g})" for m, a, d in
                           zip(top["motif"], top["motif_alt_id"], top["delta_mean"])))
        fig = plot_marginalization(table, target, top=settings["plot_top"])
        save_figure(fig, plot_out.removesuffix(".png"))


if "snakemake" in globals():
    run(main, snakemake, model_spec=snakemake.params.model, motif_file=snakemake.input.motifs,
        genome=snakemake.input.genome, peaks=list(snakemake.input.peaks),
        onehot=snakemake.input.onehot, targets=snakemake.params.targets,
        settings=snakemake.params.settings, batch_size=snakemake.params.batch_size,
        device=snakemake.params.device, random_state=snakemake.params.random_state,
        n_shuffles=snakemake.params.n_shuffles, tables=list(snakemake.output.tables),
        plots=list(snakemake.output.plots))
