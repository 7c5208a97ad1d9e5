"""Small checks that turn silent failures into one-line :class:`InputError` messages.

Kept apart from the code they guard (model loading, prediction) so that each check is a
function with its own test (``tests/test_bad_inputs.py``):

- :func:`sniff_model_file`: what a model file really is (state_dict, TorchScript,
  torch.export), to say which ``model.format`` to use when loading fails;
- :func:`fixed_batch_size`: the batch size an exported graph was traced with, when it is
  fixed, so a failed dummy forward pass names it instead of a torch guard;
- :func:`check_finite`: NaN or inf model outputs stop the stage naming the first bad locus.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from motifscope.errors import InputError
from motifscope.predict import predict

FORMAT_NAMES = {"state_dict": "a state_dict (torch.save(model.state_dict()))",
                "torchscript": "a TorchScript archive (torch.jit.save)",
                "export": "a torch.export archive (torch.export.save)"}


def sniff_model_file(path: str | os.PathLike) -> str | None:
    """Guess how a model file was saved from the members of its zip archive.

    Parameters
    ----------
    path : path-like
        A file written by ``torch.save``, ``torch.jit.save`` or ``torch.export.save``.

    Returns
    -------
    str or None
        ``"torchscript"`` (the archive holds ``code/``), ``"export"`` (``models/*.json``),
        ``"state_dict"`` (only ``data.pkl`` and tensors), or None when it is not a zip
        archive (a legacy pickle or another file).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    inner = {name.split("/", 1)[1] if "/" in name else name for name in names}
    if any(name.startswith("code/") for name in inner):
        return "torchscript"
    if any(name.startswith("models/") and name.endswith(".json") for name in inner):
        return "export"
    if "data.pkl" in inner:
        return "state_dict"
    return None


def wrong_format_message(path, fmt: str) -> str | None:
    """``"<path> is a TorchScript archive (torch.jit.save), not a state_dict; set
    model.format: torchscript"`` when the file's kind differs from ``fmt``, else None."""
    found = sniff_model_file(path)
    if found is None or found == fmt:
        return None
    return (f"{path} is {FORMAT_NAMES[found]}, not {FORMAT_NAMES.get(fmt, fmt).split(' (')[0]}"
            f"; set model.format: {found}")


def fixed_batch_size(net) -> int | None:
    """Batch size an exported graph (``torch.export`` ``.module()``) was traced with, when
    its first input's dimension 0 is a fixed integer; None for dynamic batches or other
    modules."""
    graph = getattr(net, "graph", None)
    if graph is None:
        return None
    for node in graph.nodes:
        if node.op != "placeholder":
            continue
        value = node.meta.get("val")
        shape = getattr(value, "shape", None)
        if shape is None or len(shape) != 3:
            continue
        first = shape[0]
        return int(first) if isinstance(first, int) and first != 1 else None
    return None


def fixed_batch_message(net, path) -> str | None:
    """The message for a dummy forward pass that failed because ``net`` was exported with a
    fixed batch size, or None."""
    size = fixed_batch_size(net)
    if size is None:
        return None
    return (f"{path}: the torch.export graph was exported with a fixed batch size of {size}, "
            "so it cannot run other batch sizes; re-export it with a dynamic batch dimension "
            "(torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim('batch')},"
            ")), or save the weights and use model.format: state_dict with model.class")


def check_finite(y, what: str, loci=None, offset: int = 0, describe=None) -> None:
    """Raise when model outputs hold NaN or inf.

    Parameters
    ----------
    y : array or tensor, shape (B, ...)
        Model outputs for B consecutive loci.
    what : str
        The step, for the message (e.g. ``"predict"``).
    loci : pandas.DataFrame, optional
        Locus table (``chrom``, ``start``, ``end``; ``line``/``name`` when present); row
        ``offset + i`` is the locus of ``y[i]``. Without it the message gives the index.
    offset : int, default 0
        Index of ``y[0]`` among the loci.
    describe : callable, optional
        ``describe(index) -> str`` names the input of row ``index`` (replaces the locus
        wording, e.g. for edited background sequences).

    Raises
    ------
    InputError
        ``<what>: the model returned nan for locus 3 (chr1:100-1100) ...``.
    """
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y.reshape(len(y), -1)) if y.ndim else np.isfinite(y[None])
    bad_rows = np.flatnonzero(~finite.all(axis=1))
    if not bad_rows.size:
        return
    row = int(bad_rows[0])
    value = y.reshape(len(y), -1)[row][~finite[row]][0]
    index = offset + row
    where = describe(index) if describe is not None else f"locus {index}"
    if describe is None and loci is not None and index < len(loci):
        rec = loci.iloc[index]
        where += f" ({rec['chrom']}:{int(rec['start'])}-{int(rec['end'])})"
    raise InputError(f"{what}: the model returned {value} for {where} ({bad_rows.size} of "
                     f"{len(y)} in this batch are not finite); check the model (weights, "
                     "numerics such as log(0) or division by zero) before interpreting it")


def check_predictions_finite(model, X, what: str, loci=None, batch_size: int = 64,
                             device="cpu", chunk: int = 4096) -> None:
    """Predict ``X`` (N, 4, L) chunk by chunk and :func:`check_finite` every chunk, so the
    first locus whose output is NaN or inf is named (``loci`` as in :func:`check_finite`).
    For stages whose own outputs are summaries (filter influence) and cannot say which
    locus broke them."""
    for lo in range(0, X.shape[0], chunk):
        y = predict(model, X[lo:lo + chunk], batch_size=batch_size, device=device,
                    verbose=False)
        check_finite(y, what, loci=loci, offset=lo)
