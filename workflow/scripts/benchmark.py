"""Rule benchmark: DragoNN's positional auPRC of ISM, DeepLIFT/SHAP and a motif scan.

Explains held-out simulated sequences (regions on ``simulate.held_out``, half peaks and half
negatives) with both attribution methods, scans them with each planted motif, and scores
every method against the planted instances of ``sim/truth.tsv``. Writes the table
(``benchmark/positional_prc.tsv``), the curves (``benchmark/pr_curves.tsv``), the
per-position scores (``benchmark/scores.h5``) and two figures.
"""

import logging

import h5py
import numpy as np
import pandas as pd

from _common import run
from motifscope.evaluation import embeddings_in, run_benchmark, select_sequences
from motifscope.errors import InputError
from motifscope.io import open_fasta, read_meme
from motifscope.io.loci import iter_onehot
from motifscope.models import load_model
from motifscope.plot import save_figure
from motifscope.report.figures import benchmark_tracks_figure, positional_prc_figure
from motifscope.train import split_regions
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.benchmark")


def held_out_sequences(regions_file: str, genome: str, held_out: list, n: int):
    """The chosen held-out regions and their one-hot sequences (N, 4, L)."""
    regions = pd.read_csv(regions_file, sep="\t", dtype={"chrom": str, "name": str})
    _, test = split_regions(regions, held_out)
    if not test.any():
        raise InputError(f"config key simulate.held_out: no simulated region lies on {held_out}"
                         "; name contigs of sim/genome.fa (for simulate.kind dragonn: [test])")
    chosen = select_sequences(regions[test], n)
    X = np.concatenate([x for _, x in iter_onehot(chosen, open_fasta(genome))])
    return chosen, X


def write_outputs(table, curves, scores, chosen, X, embeddings, out: dict) -> None:
    with atomic_path(out["table"]) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    long = pd.concat([pd.DataFrame({"target": t, "method": m, "motif": motif,
                                    "recall": recall, "precision": precision})
                      for (t, m, motif), (precision, recall) in curves.items()])
    with atomic_path(out["curves"]) as tmp:
        long.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(out["scores"]) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("X", data=X, compression="gzip")
        h5["X"].attrs["names"] = list(chosen["name"])
        for (target, method), values in scores.items():
            h5.create_dataset(f"{target}/{method.replace(':', '_')}",
                              data=values.astype(np.float32), compression="gzip")
    save_figure(positional_prc_figure({(m, motif): c for (_, m, motif), c in curves.items()},
                                      table), out["prc"].removesuffix(".png"))
    target = table["target"].iloc[0]
    planted = embeddings[embeddings["target"] == target]
    positives = np.flatnonzero((chosen["kind"] == "peak").to_numpy())
    example = next((int(i) for i in positives if (planted["example_idx"] == i).any()),
                   int(planted["example_idx"].iloc[0]))
    tracks = {}
    for (t, method), values in scores.items():
        if t == target:
            key = "scan" if method.startswith("scan:") else method
            row = values[example]
            tracks[key] = np.maximum(tracks[key], row) if key in tracks else row
    title = f"{chosen['name'].iloc[example]} ({target}), held out"
    save_figure(benchmark_tracks_figure(tracks, planted[planted["example_idx"] == example],
                                        title), out["tracks"].removesuffix(".png"))


def main(model_spec: dict, genome: str, truth_file: str, regions_file: str, motif_file: str,
         targets: dict, held_out: list, gc: float, settings: dict, device: str,
         random_state: int, out: dict) -> None:
    model = load_model(model_spec)
    chosen, X = held_out_sequences(regions_file, genome, held_out, settings["n_sequences"])
    truth = pd.read_csv(truth_file, sep="\t", dtype={"chrom": str, "motif_id": str},
                        keep_default_na=False)
    embeddings = embeddings_in(truth, chosen)
    dev = resolve_device(device)
    log.info("%d held-out sequences (%d peaks) of %d bp, %d planted instances, device %s",
             len(chosen), int((chosen["kind"] == "peak").sum()), X.shape[2], len(embeddings),
             dev)
    table, curves, scores = run_benchmark(
        model, X, embeddings, read_meme(motif_file), targets, gc_fraction=gc,
        n_shuffles=settings["n_shuffles"], batch_size=settings["batch_size"],
        coverage=settings["coverage"], stride=settings["stride"], device=dev,
        random_state=random_state)
    for row in table.itertuples(index=False):
        log.info("%s %s %s: auPRC %.3f (random %.3f)", row.target, row.method, row.motif,
                 row.auprc, row.baseline)
    write_outputs(table, curves, scores, chosen, X, embeddings, out)


if "snakemake" in globals():
    run(main, snakemake, model_spec=snakemake.params.model, genome=snakemake.input.genome,
        truth_file=snakemake.input.truth, regions_file=snakemake.input.regions,
        motif_file=snakemake.input.motifs, targets=snakemake.params.targets,
        held_out=snakemake.params.held_out, gc=snakemake.params.gc,
        settings=snakemake.params.settings, device=snakemake.params.device,
        random_state=snakemake.params.random_state, out=dict(snakemake.output.items()))
