"""Loading trained models safely and giving them one calling convention.

Models are loaded without executing pickled code: a ``state_dict`` read with
``torch.load(weights_only=True)`` into a class named in the config, a TorchScript archive,
or a ``torch.export`` archive. ``load_model`` then wraps the network in a
:class:`ModelAdapter` that picks the configured output (for multi-head models such as
BPNet), appends extra inputs (such as a BPNet control track) and returns a 2-D
``(batch, n_outputs)`` tensor, which is what every interpretation method expects.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from motifscope.checks import check_finite, fixed_batch_message, wrong_format_message
from motifscope.errors import InputError

FORMATS = ("state_dict", "torchscript", "export")


def import_class(class_path: str):
    """Import a class from ``"package.module.Class"``, ``"package.module:Class"`` or
    ``"path/to/file.py:Class"``.

    Raises
    ------
    InputError
        When the module or the class cannot be found (the message names ``model.class``).
    """
    if ":" in class_path:
        module_name, _, cls_name = class_path.rpartition(":")
    else:
        module_name, _, cls_name = class_path.rpartition(".")
    if not module_name or not cls_name:
        raise InputError(f"config key model.class: '{class_path}' is not of the form "
                         "'package.module.ClassName' or 'path/to/file.py:ClassName'")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.exists():
                raise InputError(f"config key model.class: file {path} does not exist; give "
                                 "the path to the Python file that defines the model class")
            spec = importlib.util.spec_from_file_location(f"_motifscope_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ImportError as err:
        raise InputError(f"config key model.class: cannot import module '{module_name}' "
                         f"({err}); install it or give 'path/to/file.py:ClassName'") from err
    try:
        return getattr(module, cls_name)
    except AttributeError:
        raise InputError(f"config key model.class: module '{module_name}' has no class "
                         f"'{cls_name}'") from None


def _load_network(path: Path, fmt: str, class_path: str | None, kwargs: Mapping | None):
    if fmt == "state_dict":
        if not class_path:
            raise InputError("config key model.class is required when model.format is "
                             "'state_dict' (e.g. 'mypackage.models.BPNet' or 'model.py:Net')")
        cls = import_class(class_path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - torch raises many types here
            wrong = wrong_format_message(path, fmt)
            if wrong:
                raise InputError(wrong) from err
            raise InputError(f"{path}: cannot be read as a weights-only state_dict ({err}); "
                             "save it with torch.save(model.state_dict(), path)") from err
        if isinstance(state, Mapping) and "state_dict" in state and isinstance(
                state["state_dict"], Mapping):
            state = state["state_dict"]
        try:
            net = cls(**dict(kwargs or {}))
        except TypeError as err:
            raise InputError(f"config key model.kwargs: {class_path}(**kwargs) failed: {err}") \
                from err
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            first = str(err).strip().splitlines()
            raise InputError(f"{path}: weights do not fit {class_path}"
                             f"({', '.join(f'{k}={v!r}' for k, v in (kwargs or {}).items())}): "
                             f"{' '.join(first[:3])}; check model.class and model.kwargs") from err
        return net
    if fmt == "torchscript":
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as err:  # noqa: BLE001
            wrong = wrong_format_message(path, fmt)
            if wrong:
                raise InputError(wrong) from err
            raise InputError(f"{path}: not a TorchScript archive ({err}); set model.format to "
                             "'state_dict' or 'export' to match how it was saved") from err
    if fmt == "export":
        try:
            return torch.export.load(str(path)).module()
        except Exception as err:  # noqa: BLE001
            wrong = wrong_format_message(path, fmt)
            if wrong:
                raise InputError(wrong) from err
            raise InputError(f"{path}: not a torch.export archive ({err}); set model.format "
                             "to match how it was saved") from err
    raise InputError(f"config key model.format: '{fmt}' is not one of {', '.join(FORMATS)}")


class ModelAdapter(nn.Module):
    """Give any sequence model the calling convention ``model(X, *args) -> (B, T)``.

    Parameters
    ----------
    model : nn.Module
        The user's network.
    output : int or str or None, default None
        For networks returning a tuple/list (by index) or a dict (by key), the output to
        use, e.g. BPNet's counts head. None when the network returns one tensor.
    extra_inputs : sequence of tuple of int, default ()
        Shapes (without the batch axis) of additional inputs that the network takes after
        the sequence, filled with zeros when the caller gives none (e.g. a BPNet control
        track of shape (2, 2114): bpnet-lite takes the control at the full input length).
    transform : str or None, default None
        ``"bpnet_profile"``: the selected output is a profile head's logits ``(B, S, L)``,
        explained as bpnet-lite does (:class:`motifscope.bpnet.ProfileScore`, one output).
    groups : sequence of sequence of int, default ()
        Output columns to sum: each group adds one output after the model's own, in order
        (multi-task targets such as ``{nrsf: [3, 7, 12]}``).

    Notes
    -----
    Outputs with more than two dimensions are flattened to ``(B, -1)`` so that a target
    index addresses one scalar per example.
    """

    def __init__(self, model: nn.Module, output=None, extra_inputs=(), transform=None,
                 groups=()):
        super().__init__()
        self.model = model
        self.output = output
        self.extra_inputs = [tuple(int(d) for d in s) for s in extra_inputs]
        self.transform = None
        if transform is not None:
            from motifscope.bpnet import OUTPUT_TRANSFORMS

            if transform not in OUTPUT_TRANSFORMS:
                raise InputError(f"config key model.output_transform: '{transform}' is not "
                                 f"one of {', '.join(OUTPUT_TRANSFORMS)}")
            self.transform = OUTPUT_TRANSFORMS[transform]()
        self.groups = [[int(i) for i in group] for group in groups]

    def train(self, mode: bool = True):
        """Set train/eval mode; networks that refuse it (torch.export modules) are left as is."""
        self.training = mode
        try:
            self.model.train(mode)
        except NotImplementedError:
            pass  # exported programs are always in the mode they were exported in
        return self

    def default_args(self, n: int, device=None, dtype=torch.float32) -> tuple:
        """Zero tensors for the extra inputs of a batch of ``n`` examples."""
        return tuple(torch.zeros((n, *shape), device=device, dtype=dtype)
                     for shape in self.extra_inputs)

    def select(self, y):
        """Pick the configured output from a raw network output and flatten it to 2-D."""
        if isinstance(y, Mapping):
            if self.output is None:
                raise InputError(f"the model returns a dict with keys {list(y)}; set "
                                 "model.output to the one to interpret")
            if self.output not in y:
                raise InputError(f"config key model.output: '{self.output}' is not one of "
                                 f"the model's outputs {list(y)}")
            y = y[self.output]
        elif isinstance(y, (tuple, list)):
            if self.output is None:
                raise InputError(f"the model returns {len(y)} outputs; set model.output to "
                                 f"the index of the one to interpret (0..{len(y) - 1})")
            if not isinstance(self.output, int) or not -len(y) <= self.output < len(y):
                raise InputError(f"config key model.output: {self.output!r} is not a valid "
                                 f"index for the model's {len(y)} outputs")
            y = y[self.output]
        if self.transform is not None:
            y = self.transform(y)
        if y.ndim == 1:
            y = y[:, None]
        y = y.reshape(y.shape[0], -1)
        if self.groups:
            n_out = y.shape[1]
            for group in self.groups:
                bad = [i for i in group if not -n_out <= i < n_out]
                if bad:
                    raise InputError(f"config key targets: output index {bad[0]} of a summed "
                                     f"group is out of range for the model's {n_out} outputs")
            y = torch.cat([y, *(y[:, group].sum(dim=1, keepdim=True)
                                for group in self.groups)], dim=1)
        return y

    def forward(self, X, *args):
        if not args and self.extra_inputs:
            args = self.default_args(X.shape[0], X.device, X.dtype)
        return self.select(self.model(X, *args))


def _shape_str(y) -> str:
    if isinstance(y, torch.Tensor):
        return str(tuple(y.shape))
    if isinstance(y, Mapping):
        return "{" + ", ".join(f"{k}: {_shape_str(v)}" for k, v in y.items()) + "}"
    if isinstance(y, (tuple, list)):
        return "(" + ", ".join(_shape_str(v) for v in y) + ")"
    return type(y).__name__


def check_model(model: ModelAdapter, input_length: int, n_targets: int | None = None,
                target_indices: Sequence[int] = (), path: str = "model") -> int:
    """Run one dummy forward pass and check shapes; return the number of outputs.

    Parameters
    ----------
    model : ModelAdapter
    input_length : int
        The window length the workflow will feed, L (input shape (1, 4, L)).
    n_targets : int, optional
        If given, the number of outputs must equal it.
    target_indices : sequence of int
        Output columns the config names; each must exist.
    path : str
        Model file named in messages.

    Raises
    ------
    InputError
        With expected and actual shapes when the forward pass fails or outputs do not fit.
    """
    X = torch.zeros(1, 4, input_length)
    args = model.default_args(1)
    try:
        with torch.no_grad():
            raw = model.model(X, *args)
    except Exception as err:  # noqa: BLE001 - any failure here is a shape/config mismatch
        fixed = fixed_batch_message(model.model, path)
        if fixed:
            raise InputError(fixed) from err
        shapes = ", ".join(str(tuple(a.shape)) for a in (X, *args))
        raise InputError(f"{path}: a dummy forward pass with inputs of shape {shapes} failed "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
                         "check `window`/model.input_length and model.extra_inputs") from err
    y = model.select(raw)
    check_finite(y, f"{path}: dummy forward pass on an all-zero window")
    n_out = y.shape[1]
    if n_targets is not None and n_out != n_targets:
        raise InputError(f"{path}: the selected output has shape {tuple(y.shape)} "
                         f"(raw output {_shape_str(raw)}) but {n_targets} outputs were "
                         "expected; check model.output and targets")
    for idx in target_indices:
        if not -n_out <= idx < n_out:
            raise InputError(f"config key targets: output index {idx} is out of range for "
                             f"the model's {n_out} outputs (shape {tuple(y.shape)})")
    return n_out


def load_model(spec: Mapping, input_length: int | None = None, check: bool = True) -> ModelAdapter:
    """Load a model from the ``model`` section of the config.

    Parameters
    ----------
    spec : mapping
        Keys: ``path`` (file), ``format`` (``state_dict`` | ``torchscript`` | ``export``,
        default ``state_dict``), ``class`` and ``kwargs`` (for ``state_dict``), ``output``
        (index or key of the output to use, for multi-output models), ``extra_inputs``
        (list of ``{shape: [...]}`` for inputs after the sequence), ``input_length``,
        ``output_transform`` and ``groups`` (see :class:`ModelAdapter`).
    input_length : int, optional
        Overrides ``spec["input_length"]``; when known, one dummy forward pass checks that
        the model accepts ``(1, 4, input_length)``.
    check : bool, default True
        Run the dummy forward pass.

    Returns
    -------
    ModelAdapter
        In eval mode, on the CPU, float32.

    Raises
    ------
    InputError
        Missing file, unknown format or class, weights that do not fit, or a forward pass
        that fails at the configured input length (expected vs actual shapes are printed).
    """
    if "path" not in spec or spec["path"] in (None, ""):
        raise InputError("config key model.path is missing; give the trained model file")
    path = Path(spec["path"])
    if not path.exists():
        raise InputError(f"model file {path} (config key model.path) does not exist; check "
                         "the path, relative to the folder snakemake runs in")
    fmt = spec.get("format", "state_dict")
    net = _load_network(path, fmt, spec.get("class"), spec.get("kwargs"))
    extra = [e["shape"] if isinstance(e, Mapping) else e for e in spec.get("extra_inputs", [])]
    model = ModelAdapter(net, output=spec.get("output"), extra_inputs=extra,
                         transform=spec.get("output_transform"),
                         groups=spec.get("groups", ()))
    model.float().eval()
    length = input_length or spec.get("input_length")
    if check and length:
        check_model(model, int(length), path=str(path))
    return model
