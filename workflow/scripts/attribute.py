"""Rule ``attribute``: attributions of one shard of loci for one target.

Shard ``k`` holds loci ``[k * shard_size, (k + 1) * shard_size)`` of ``loci/onehot.h5``
(clipped to the N loci; the number of shards is fixed when the workflow is parsed, so a
trailing shard past the last locus is written empty). The output has the datasets of
``attributions/<target>.h5`` (see CONTRIBUTING.md): ``attr`` float32 (n, 4, L) hypothetical
attributions, ``deltas`` float32 (n, R) (R = 0 for ISM), and attributes ``start``, ``end``,
``method``, ``target``, ``target_index``, ``params`` (JSON) and ``warning`` (the
convergence warning, if any).
"""

import json
import logging
import warnings

import h5py
import numpy as np
import torch

from motifscope.attribution import deep_lift_shap, saturation_mutagenesis
from motifscope.checks import check_finite
from motifscope.errors import InputError
from motifscope.io.attributions import delta_summary, write_shard
from motifscope.models import check_model, load_model
from motifscope.utils import resolve_device
from motifscope.validation import check_attributable

METHODS = ("deeplift_shap", "ism")
log = logging.getLogger("motifscope.attribute")


def compute(model, X, method, target_index, start, params, device, random_state):
    """Attributions (n, 4, L) float32 and deltas (n, R) float32 for loci X of a shard."""
    if method == "ism":
        attr = saturation_mutagenesis(model, X, target=target_index,
                                      start=params.get("ism_start"), end=params.get("ism_end"),
                                      batch_size=params["batch_size"], device=device,
                                      hypothetical=True)
        return attr.float().numpy(), np.zeros((len(X), 0), dtype=np.float32)
    attr, deltas = deep_lift_shap(model, X, target=target_index,
                                  n_shuffles=params["n_shuffles"],
                                  batch_size=params["batch_size"], device=device,
                                  random_state=random_state, hypothetical=True,
                                  return_deltas=True,
                                  warning_threshold=params["warning_threshold"],
                                  example_ids=torch.arange(start, start + len(X)),
                                  allow_approximate=bool(params.get("allow_approximate")))
    return attr.float().numpy(), deltas.float().numpy()


def main(onehot, output, model_spec, target, target_index, start, end, params,
         device="auto", random_state=0):
    """Attribute loci ``[start, end)`` of ``onehot`` for ``target`` and write ``output``.

    Parameters
    ----------
    onehot : path
        ``loci/onehot.h5`` (dataset ``X`` uint8 (N, 4, L)).
    output : path
        Shard file, written atomically (nothing is written when an error is raised).
    model_spec : dict
        The model as :func:`motifscope.models.load_model` takes it.
    target : str
        Target name (config ``targets``).
    target_index : int
        Its model output column.
    start, end : int
        Loci of the shard; clipped to N (a shard past the end is empty).
    params : dict
        The config's ``attribution`` section: ``method``, ``n_shuffles``, ``batch_size``,
        ``warning_threshold``, ``ism_start``, ``ism_end``, ``allow_approximate``.
    device : str
    random_state : int
        Seed of the dinucleotide-shuffle references (per locus index, so shards agree with
        one whole run).

    Raises
    ------
    motifscope.errors.InputError
        Unknown method, target index out of range, model output shape mismatch,
        ``device: cuda`` without CUDA, a layer without an exact DeepLIFT rule (unless
        ``allow_approximate``).
    """
    method = params.get("method", "deeplift_shap")
    if method not in METHODS:
        raise InputError(f"config key attribution.method: '{method}' is not one of "
                         f"{', '.join(METHODS)}")
    device = resolve_device(device)
    target_index = int(target_index)
    with h5py.File(onehot, "r") as handle:
        n_loci, _, length = handle["X"].shape
        start, end = min(int(start), n_loci), min(int(end), n_loci)
        X = handle["X"][start:end]
    model = load_model(model_spec, input_length=length)
    check_model(model, length, target_indices=[target_index],
                path=str(model_spec.get("path", "model")))
    if method == "deeplift_shap":  # rules need module structure (issue 19, case 1)
        check_attributable(model, model_spec.get("format"), str(model_spec.get("path", "model")))
    log.info("%s for target %s (output %d), loci [%d, %d) of %d, L=%d, device %s", method,
             target, target_index, start, end, n_loci, length, device)

    message = ""
    if end > start:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            attr, deltas = compute(model, X, method, target_index, start, params, device,
                                   random_state)
        for warning in caught:
            log.warning("%s", warning.message)
        what = f"{model_spec.get('path', 'model')}: attribute (target {target})"
        check_finite(attr, what, offset=start)
        check_finite(deltas, f"{what}, convergence deltas", offset=start)
        message = " | ".join(str(w.message) for w in caught)
    else:
        n_refs = 0 if method == "ism" else int(params["n_shuffles"])
        attr = np.zeros((0, 4, length), dtype=np.float32)
        deltas = np.zeros((0, n_refs), dtype=np.float32)
        log.info("empty shard (past the last locus)")
    log.info("%s", delta_summary(deltas))

    write_shard(output, attr, deltas, start=start, end=end, method=method, target=target,
                target_index=target_index, warning=message,
                params=json.dumps({**params, "random_state": random_state,
                                   "device": str(device)}, sort_keys=True))


if "snakemake" in globals():
    from _common import run

    run(main, snakemake, onehot=snakemake.input.onehot,  # noqa: F821 - set by Snakemake
        output=snakemake.output[0], model_spec=snakemake.params.model,  # noqa: F821
        target=snakemake.wildcards.target,  # noqa: F821
        target_index=snakemake.params.target_index,  # noqa: F821
        start=snakemake.params.bounds["start"],  # noqa: F821
        end=snakemake.params.bounds["end"],  # noqa: F821
        params=snakemake.params.attribution, device=snakemake.params.device,  # noqa: F821
        random_state=snakemake.params.random_state)  # noqa: F821
