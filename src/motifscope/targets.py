"""The config's ``targets``: which model outputs to explain, and under what names.

Multi-task models (Basset, DeepSEA, DanQ: hundreds of outputs) need more than one name per
output typed by hand. ``targets`` may be

- a mapping ``name -> spec`` where a spec is an output index (``ctcf: 0``), a list of
  indices whose outputs are *summed* into one target (``nrsf: [3, 7, 12]``, as DanQ's NRSF
  example sums its 12 NRSF tasks), or an inclusive index range string, also summed
  (``k562: "10-14"``);
- ``all``: one target per model output;
- a list whose items are an index (``5``), an inclusive range (``"0-99"``) or ``all``, each
  output becoming its own target, or one-entry mappings as above (``{nrsf: [3, 7, 12]}``).

Outputs that are targets on their own are named from ``target_labels`` (a text file, one
label per line in output order; the first tab- or space-separated field is used, ``#``
lines are skipped), else ``output_<index>``. Names are made file-safe (characters other
than ``A-Za-z0-9._-`` become ``_``) and must be unique.

:func:`resolve_targets` turns any of these into ``{name: column}`` plus the summed
groups: the model adapter appends one output per group after the model's own, so a group
is addressed by a negative column (``-n_groups + k``) that does not depend on how many
outputs the model has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from motifscope.errors import InputError
from motifscope.models import check_model, load_model

_RANGE = re.compile(r"^\s*(\d+)\s*[-:]\s*(\d+)\s*$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class Targets:
    """Resolved targets.

    Attributes
    ----------
    columns : dict name -> int
        Output column of each target (negative for summed groups).
    groups : list of list of int
        Model outputs summed by each group, in the order of their columns.
    """

    columns: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)


def read_labels(path) -> list[str]:
    """Labels of the model outputs, one per line (first field; ``#`` lines skipped)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"config key target_labels: {path} does not exist")
    labels = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            labels.append(line.split("\t")[0].split()[0])
    if not labels:
        raise InputError(f"config key target_labels: {path} has no labels (one per line)")
    return labels


def _indices(value, where: str) -> list[int]:
    if isinstance(value, bool):
        raise InputError(f"config key {where}: {value!r} is not an output index")
    if isinstance(value, int):
        if value < 0:
            raise InputError(f"config key {where}: output index {value} must be >= 0")
        return [value]
    if isinstance(value, str):
        match = _RANGE.match(value)
        if not match:
            raise InputError(f"config key {where}: '{value}' is not an index range like "
                             "'0-99' (inclusive)")
        lo, hi = int(match[1]), int(match[2])
        if hi < lo:
            raise InputError(f"config key {where}: range '{value}' ends before it starts")
        return list(range(lo, hi + 1))
    if isinstance(value, (list, tuple)) and value:
        return [i for v in value for i in _indices(v, where)]
    raise InputError(f"config key {where}: {value!r} is not an output index, a list of "
                     "indices or a range like '0-99'")


def resolve_targets(spec, n_outputs: int | None = None, labels=None) -> Targets:
    """Resolve the config's ``targets`` (see the module docstring).

    Parameters
    ----------
    spec : mapping, list or "all"
    n_outputs : int, optional
        Number of model outputs; needed for ``all`` when there are no labels, and checks
        every index when given.
    labels : list of str, optional
        Output labels (from :func:`read_labels`); their number stands in for
        ``n_outputs`` when that is not given.

    Returns
    -------
    Targets

    Raises
    ------
    InputError
        Bad specs, indices out of range, duplicate or empty names, ``all`` without a way
        to count the outputs.
    """
    labels = list(labels) if labels is not None else None
    count = n_outputs if n_outputs is not None else (len(labels) if labels else None)
    singles: list[tuple[str, int]] = []
    groups: list[tuple[str, list[int]]] = []

    def name_of(index: int) -> str:
        if labels is not None and index < len(labels):
            return _SAFE.sub("_", labels[index])
        return f"output_{index}"

    def add_named(name, value, where):
        indices = _indices(value, where)
        if isinstance(value, int):
            singles.append((str(name), indices[0]))
        else:
            groups.append((str(name), indices))

    def add_each(item, where):
        if item == "all":
            if count is None:
                raise InputError("config key targets: 'all' needs the number of model "
                                 "outputs: give target_labels (one label per output)")
            singles.extend((name_of(i), i) for i in range(count))
        else:
            singles.extend((name_of(i), i) for i in _indices(item, where))

    if isinstance(spec, str):
        add_each(spec, "targets")
    elif isinstance(spec, Mapping):
        for name, value in spec.items():
            add_named(name, value, f"targets.{name}")
    elif isinstance(spec, (list, tuple)):
        for k, item in enumerate(spec):
            if isinstance(item, Mapping):
                for name, value in item.items():
                    add_named(name, value, f"targets[{k}].{name}")
            else:
                add_each(item, f"targets[{k}]")
    else:
        raise InputError("config key targets: give a mapping name -> output index, 'all', "
                         "or a list of indices/ranges")
    if not singles and not groups:
        raise InputError("config key targets: no target given")

    if count is not None:
        for name, indices in [(n, [i]) for n, i in singles] + groups:
            bad = [i for i in indices if i >= count]
            if bad:
                raise InputError(f"config key targets: output index {bad[0]} ({name}) is out "
                                 f"of range for the model's {count} outputs")
    resolved = Targets()
    n_groups = len(groups)
    entries = list(singles) + [(name, -n_groups + k) for k, (name, _) in enumerate(groups)]
    for name, column in entries:
        if not name or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise InputError(f"config key targets: name '{name}' may only use letters, digits "
                             "and . _ -")
        if name in resolved.columns:
            raise InputError(f"config key targets: the name '{name}' is used twice; rename "
                             "one (or fix target_labels)")
        resolved.columns[name] = column
    resolved.groups = [indices for _, indices in groups]
    return resolved


def count_outputs(model_spec: Mapping) -> int:
    """Number of outputs of the model of the config's ``model`` section (one dummy forward
    pass), before any summed groups."""
    spec = {key: value for key, value in model_spec.items() if key != "groups"}
    model = load_model(spec, check=False)
    return check_model(model, int(spec["input_length"]), path=str(spec.get("path", "model")))
