"""Rule predict: model outputs for every locus, one column per target."""

import logging

import h5py
import numpy as np
import pandas as pd

from _common import run
from motifscope.checks import check_finite
from motifscope.io import read_loci
from motifscope.models import check_model, load_model
from motifscope.predict import predict
from motifscope.utils import atomic_path, resolve_device

log = logging.getLogger("motifscope.predict")


def main(onehot: str, loci_file: str, model_spec: dict, targets: dict, batch_size: int,
         device: str, tsv_out: str, h5_out: str) -> None:
    model = load_model(model_spec)
    check_model(model, model_spec["input_length"], target_indices=list(targets.values()),
                path=model_spec["path"])
    dev = resolve_device(device)
    log.info("device %s", dev)
    with h5py.File(onehot, "r") as h5:
        X = h5["X"]
        chunk = max(batch_size, 4096)
        outputs = [predict(model, X[lo:lo + chunk], batch_size=batch_size, device=dev).numpy()
                   for lo in range(0, X.shape[0], chunk)]
    Y = np.concatenate(outputs) if outputs else np.zeros((0, len(targets)), np.float32)
    loci = read_loci(loci_file)
    check_finite(Y, "predict", loci=loci)
    table = pd.DataFrame({"idx": loci["idx"], "chrom": loci["chrom"], "start": loci["start"],
                          "end": loci["end"], "name": loci["name"]})
    for name, index in targets.items():
        table[name] = Y[:, index]
    with atomic_path(tsv_out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    with atomic_path(h5_out) as tmp:
        with h5py.File(tmp, "w") as h5:
            h5.create_dataset("y", data=Y.astype(np.float32))
            h5["y"].attrs["targets"] = list(targets)
            h5["y"].attrs["target_index"] = list(targets.values())


if "snakemake" in globals():
    run(main, snakemake, onehot=snakemake.input.onehot, loci_file=snakemake.input.loci,
        model_spec=snakemake.params.model, targets=snakemake.params.targets,
        batch_size=snakemake.params.batch_size, device=snakemake.params.device,
        tsv_out=snakemake.output.tsv, h5_out=snakemake.output.h5)
