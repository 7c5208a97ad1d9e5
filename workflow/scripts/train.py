"""Rule train: train the demo CNN on the simulated genome, save weights and a model card."""

import json

import numpy as np
import pandas as pd
import torch

from _common import run
from motifscope.errors import InputError
from motifscope.io import open_fasta
from motifscope.io.loci import iter_onehot
from motifscope.train import split_regions, train_demo_model
from motifscope.utils import atomic_path


def main(genome: str, regions_file: str, targets: dict, window: int, params: dict,
         held_out: list, random_state: int, model_out: str, card_out: str) -> None:
    regions = pd.read_csv(regions_file, sep="\t")
    names = sorted(targets, key=targets.get)
    missing = [t for t in names if t not in regions.columns]
    if missing:
        raise InputError(f"config key targets: {missing} are not driven by any planted motif "
                         "(simulate.motifs[].target); name targets after the planted motifs")
    jitter = params["jitter"]
    wide = regions.assign(start=regions["start"] - jitter, end=regions["end"] + jitter)
    X = np.concatenate([x for _, x in iter_onehot(wide, open_fasta(genome))])
    y = regions[names].to_numpy()
    train, test = split_regions(regions, held_out)
    result = train_demo_model(X[train], y[train], X[test], y[test], input_length=window,
                              jitter=jitter, epochs=params["epochs"],
                              batch_size=params["batch_size"],
                              learning_rate=params["learning_rate"],
                              max_seconds=params["max_seconds"],
                              model_kwargs={"n_filters": params["n_filters"],
                                            "filter_width": params["filter_width"],
                                            "pool": params["pool"]},
                              random_state=random_state)
    card = dict(result.card)
    card["targets"] = {t: targets[t] for t in names}
    card["held_out_chromosomes"] = list(held_out)
    card["auroc"] = dict(zip(names, card["auroc"]))
    card["auprc"] = dict(zip(names, card["auprc"]))
    # Saved through a file handle: given a path, torch names the zip archive after the
    # temporary file, so the bytes of model.pt would change from run to run.
    with atomic_path(model_out) as tmp, open(tmp, "wb") as handle:
        torch.save(result.model.state_dict(), handle)
    with atomic_path(card_out) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    print(f"{card['epochs']} epochs in {result.seconds:.0f} s; held-out auROC: "
          + ", ".join(f"{t} {v:.3f}" for t, v in card["auroc"].items()))


if "snakemake" in globals():
    run(main, snakemake, genome=snakemake.input.genome, regions_file=snakemake.input.regions,
        targets=snakemake.params.targets, window=snakemake.params.window,
        params=snakemake.params.train, held_out=snakemake.params.held_out,
        random_state=snakemake.params.random_state, model_out=snakemake.output.model,
        card_out=snakemake.output.card)
