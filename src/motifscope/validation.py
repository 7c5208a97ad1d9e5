"""Checks of a whole workflow config that JSON schema alone cannot express well.

``rules/common.smk`` calls :func:`check_config_keys` before ``snakemake.utils.validate``
(so a typo gets "did you mean" instead of a bare schema error) and
:func:`check_config_choices` after it (defaults filled in), so that combinations that
would fail, or silently give wrong results, stop the run before any job starts.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from motifscope.errors import InputError

# Model formats whose module structure is lost on saving: DeepLIFT's rules are attached to
# modules (nn.ReLU, nn.MaxPool1d, ...), so on a TorchScript or torch.export graph they would
# treat every nonlinearity as linear; the attributions would not add up to the output.
STRUCTURELESS_FORMATS = {"torchscript": "TorchScript", "export": "torch.export"}


def _load_schema(schema) -> dict:
    if isinstance(schema, Mapping):
        return dict(schema)
    import yaml

    return yaml.safe_load(Path(schema).read_text())


def _closed(schema: Mapping) -> bool:
    """Whether an object schema accepts only its listed properties (``additionalProperties``
    false, or absent on an object that lists properties)."""
    extra = schema.get("additionalProperties", None)
    return extra is False or (extra is None and "properties" in schema)


def _all_paths(schema: Mapping, prefix: str = "") -> list[str]:
    paths = []
    for name, sub in schema.get("properties", {}).items():
        paths.append(f"{prefix}{name}")
        if isinstance(sub, Mapping):
            paths += _all_paths(sub, f"{prefix}{name}.")
    return paths


def _suggestion(key: str, known: list[str], every_path: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {prefix}{close[0]}?"
    elsewhere = [p for p in every_path if p.rsplit(".", 1)[-1] == key and p != f"{prefix}{key}"]
    if elsewhere:
        return f"did you mean {elsewhere[0]}? (the key belongs there)"
    listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return f"the keys allowed here are {listed}"


def _walk(value, schema: Mapping, prefix: str, every_path: list[str], source: str) -> None:
    if isinstance(value, Mapping) and isinstance(schema, Mapping):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", None)
        for key, item in value.items():
            if key in properties:
                _walk(item, properties[key], f"{prefix}{key}.", every_path, source)
            elif isinstance(extra, Mapping):
                _walk(item, extra, f"{prefix}{key}.", every_path, source)
            elif _closed(schema):
                where = f"in section {prefix[:-1]}" if prefix else "at the top level"
                hint = _suggestion(str(key), list(properties), every_path, prefix)
                raise InputError(f"{source}: unknown config key {prefix}{key} ({where}); "
                                 f"{hint} (config/README.md lists every key)")
    elif isinstance(value, list) and isinstance(schema, Mapping):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _walk(item, items, f"{prefix[:-1]}[{index}].", every_path, source)


def check_config_keys(config: Mapping, schema, source: str = "config") -> None:
    """Refuse keys the schema does not define, suggesting the nearest known key.

    Parameters
    ----------
    config : mapping
        The workflow config as loaded (before defaults are filled in).
    schema : mapping or path
        ``workflow/schemas/config.schema.yaml`` or its loaded content. Objects that list
        ``properties`` and have no ``additionalProperties`` schema are closed.
    source : str, default "config"
        Named in the message.

    Raises
    ------
    InputError
        ``unknown config key attribution.n_shufles ...; did you mean attribution.n_shuffles?``
    """
    schema = _load_schema(schema)
    _walk(config, schema, "", _all_paths(schema), source)
    check_run_name(config.get("run", "run"))


def check_run_name(name) -> None:
    """Refuse a ``run`` name that would put outputs outside ``results/`` (path separators,
    ``.`` or ``..``, a leading dot)."""
    text = str(name)
    if (not text or os.sep in text or "/" in text or "\\" in text or text.startswith(".")
            or set(text) <= {"."}):
        raise InputError(f"config key run: {text!r} is not a plain name (outputs go to "
                         "results/<run>/, so it may not contain '/', '\\' or start with '.'); "
                         "use letters, digits, '.', '_' and '-', e.g. run: my_tf")


def refuse_structureless(fmt: str, path: str, what: str, key: str) -> None:
    """Raise when DeepLIFT/SHAP would run on a model saved without its module structure.

    Parameters
    ----------
    fmt : str
        ``model.format``: ``state_dict`` passes; ``torchscript`` and ``export`` raise.
    path : str
        The model file, for the message.
    what : str
        The step that asked for DeepLIFT/SHAP, e.g. ``"attribution"``.
    key : str
        The config key that chose DeepLIFT/SHAP and its alternative, e.g.
        ``"attribution.method: ism"``.
    """
    if fmt not in STRUCTURELESS_FORMATS:
        return
    name = STRUCTURELESS_FORMATS[fmt]
    raise InputError(
        f"{path}: DeepLIFT/SHAP {what} needs the model's layers, which a {name} archive "
        f"(model.format: {fmt}) does not keep, so its attributions would not add up to the "
        f"output; set {key}, or save the weights with torch.save(model.state_dict(), path) "
        "and use model.format: state_dict with model.class")


def check_config_choices(config: Mapping) -> None:
    """Refuse, before any job runs, settings that cannot work together.

    Parameters
    ----------
    config : mapping
        The validated config (defaults filled in).

    Raises
    ------
    InputError
        DeepLIFT/SHAP (attribution or marginalization) on a TorchScript or torch.export
        model; the filters stage on a TorchScript model.
    """
    if config.get("simulate", {}).get("enabled"):
        return  # the demo trains and saves its own state_dict model
    model = config.get("model", {})
    fmt = model.get("format", "state_dict")
    path = model.get("path") or "model.path"
    stages = config.get("stages", {})
    if stages.get("attribution", True) and \
            config.get("attribution", {}).get("method", "deeplift_shap") == "deeplift_shap":
        refuse_structureless(fmt, path, "attribution", "attribution.method: ism")
    if stages.get("marginalize", True) and \
            config.get("marginalize", {}).get("func", "predict") == "deep_lift_shap":
        refuse_structureless(fmt, path, "marginalization", "marginalize.func: predict")
    if fmt == "torchscript" and stages.get("filters", True):
        raise InputError(
            f"{path}: the filters stage reads first-layer activations with forward hooks, "
            "which a TorchScript archive (model.format: torchscript) does not run; set "
            "stages: {filters: false}, or give the model as model.format: state_dict")


def check_target_peaks(target_peaks: Mapping, targets) -> None:
    """Refuse a ``peaks`` mapping that names something other than a target.

    Parameters
    ----------
    target_peaks : mapping target -> peak file
        Config ``peaks`` when it is a mapping (:func:`motifscope.io.loci.target_peak_files`).
    targets : list of str
        The resolved target names (config ``targets``).

    Raises
    ------
    InputError
        A key that is not a target (with the closest target name), or a file that does not
        exist.
    """
    known = list(targets)
    for name, path in target_peaks.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else \
                f"the targets are {', '.join(known[:8])}" + (", ..." if len(known) > 8 else "")
            raise InputError(f"config key peaks.{name}: '{name}' is not a target; {hint} "
                             "(targets without an entry use every peak file)")
        if not Path(str(path)).exists():
            raise InputError(f"config key peaks.{name}: peak file {path} does not exist; "
                             "check the path (relative paths start where snakemake runs)")


def check_attributable(model, fmt: str | None = None, path: str = "model",
                       key: str = "attribution.method: ism") -> None:
    """Library-side twin of :func:`refuse_structureless` for a loaded model: raise when
    ``model`` (a ModelAdapter or a network) is a TorchScript module or an exported graph."""
    import torch

    net = getattr(model, "model", model)
    if fmt is None:
        if isinstance(net, torch.jit.ScriptModule):
            fmt = "torchscript"
        elif isinstance(net, torch.fx.GraphModule):
            fmt = "export"
        else:
            return
    refuse_structureless(fmt, path, "attribution", key)



def check_finite_table(table, key: str, what: str, path: str = "model") -> None:
    """Stop when a result table computed from model outputs holds NaN or inf.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. marginalization effects (one row per motif and target) or filter influence.
    key : str
        Column naming a row in the message (``motif``, ``filter``); ``target`` is added
        when present.
    what : str
        What the values are, e.g. ``"marginalization effects"``.
    path : str
        The model file, named first in the message.

    Raises
    ------
    InputError
        ``<model>: the model gave NaN or inf marginalization effects for motif M (target t)``.
    """
    values = table.select_dtypes("number").to_numpy(dtype=np.float64)
    if not values.size:
        return
    bad = ~np.isfinite(values).all(axis=1)
    if not bad.any():
        return
    row = table.iloc[int(np.argmax(bad))]
    name = f"{key} {row[key]}" + (f" (target {row['target']})" if "target" in table else "")
    raise InputError(f"{path}: the model gave NaN or inf {what} for {name} (first of "
                     f"{int(bad.sum())} of {len(table)} rows); check the model (weights, input "
                     "scaling, a log or division in its output) before interpreting it")
