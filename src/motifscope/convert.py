"""``motifscope convert-model``: turn a whole-model pickle into a safe state_dict.

bpnet-lite saves models with ``torch.save(model)`` (``<name>.torch``), a pickle that runs
code when it is loaded, so the workflow never reads such files. The user converts it once,
explicitly trusting that one file: :func:`convert_model` unpickles it
(``weights_only=False``), then writes

- ``OUT``: the weights, ``torch.save(model.state_dict())`` (loads with
  ``weights_only=True``), and
- ``OUT.yaml``: the ``model:`` config section that rebuilds it (``class``, ``kwargs``,
  ``format: state_dict`` and, for BPNet, its ``extra_inputs`` control track).

Constructor arguments are read back for bpnet-lite BPNet/BasePairNet and ChromBPNet; any
other class is written with ``kwargs: {}`` and a note to fill them in (or save the model
as TorchScript instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import yaml

from motifscope.errors import InputError
from motifscope.utils import atomic_path
from motifscope.bpnet import bpnet_kwargs, is_bpnet, is_chrombpnet


def model_section(model, input_length: int | None = None) -> tuple[dict, str]:
    """The config ``model:`` section for a model instance, and a note (may be empty).

    Parameters
    ----------
    model : torch.nn.Module
    input_length : int, optional
        The model's input length (the control track's length for BPNet); default 2114
        for bpnet-lite models (their standard input).
    """
    cls = type(model)
    if is_bpnet(model):
        length = int(input_length or 2114)
        kwargs = bpnet_kwargs(model)
        section = {"class": f"{cls.__module__}.{cls.__qualname__}", "kwargs": kwargs,
                   "output": 1}
        if kwargs["n_control_tracks"]:
            section["extra_inputs"] = [{"name": "control",
                                        "shape": [kwargs["n_control_tracks"], length]}]
        return section, ("output 1 is the counts head; for the profile head set output: 0 "
                         "and output_transform: bpnet_profile")
    if is_chrombpnet(model):
        section = {"class": "motifscope.bpnet.ChromBPNet",
                   "kwargs": {"bias": bpnet_kwargs(model.bias),
                              "accessibility": bpnet_kwargs(model.accessibility),
                              "name": str(model.name)},
                   "output": 1}
        return section, ("output 1 is the counts head; for the profile head set output: 0 "
                         "and output_transform: bpnet_profile")
    return ({"class": f"{cls.__module__}.{cls.__qualname__}", "kwargs": {}},
            f"fill in model.kwargs for {cls.__qualname__} (its constructor arguments could "
            "not be read back), or save the model with torch.jit.script instead")


def convert_model(source: str | os.PathLike, output: str | os.PathLike, trust: bool = False,
                  input_length: int | None = None) -> tuple[Path, Path, str]:
    """Unpickle a ``torch.save(model)`` file and write its state_dict and config section.

    Parameters
    ----------
    source : path
        The pickled model (e.g. bpnet-lite's ``model.torch``).
    output : path
        The state_dict to write; the config section goes to ``<output>.yaml``.
    trust : bool, default False
        Must be True: unpickling runs code from the file; only convert files you trust.
    input_length : int, optional
        See :func:`model_section`.

    Returns
    -------
    (state_dict path, yaml path, note)

    Raises
    ------
    InputError
        ``trust`` not given, missing file, or a file that is not a pickled ``nn.Module``.
    """
    source, output = Path(source), Path(output)
    if not trust:
        raise InputError(f"{source}: converting unpickles the file, which runs code stored "
                         "in it; pass --trust if you trust where it comes from")
    if not source.exists():
        raise InputError(f"{source} does not exist")
    try:
        model = torch.load(source, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - unpickling raises anything
        raise InputError(f"{source}: cannot be unpickled ({str(err).splitlines()[0]}); "
                         "install the package that defines its class") from err
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"{source} holds a {type(model).__name__}, not a model; if it is "
                         "already a state_dict, use it directly (model.format: state_dict)")
    section, note = model_section(model, input_length)
    section = {"path": str(output), "format": "state_dict", **section}
    with atomic_path(output) as tmp:
        torch.save(model.state_dict(), tmp)
    config = Path(f"{output}.yaml")
    with atomic_path(config) as tmp:
        Path(tmp).write_text(f"# written by motifscope convert-model from {source}\n"
                             + (f"# {note}\n" if note else "")
                             + yaml.safe_dump({"model": section}, sort_keys=False))
    return output, config, note
