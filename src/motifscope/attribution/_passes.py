"""The two forward passes behind :func:`motifscope.attribution.deep_lift_shap`.

DeepLIFT needs, at every nonlinear layer, the activations of an example *and* of its
reference, but only one chain of multipliers per pair. Instead of pushing the example and
reference halves through the network together and back-propagating through both (what
tangermeme and captum do), we

1. run the references alone, without autograd, and record the input and output of every
   hooked layer call in call order (:meth:`DeepLiftPasses.reference_pass`);
2. run the examples with autograd; each hooked layer runs on its input *detached* (no graph,
   no saved tensors) and its output is replaced by the same values whose backward applies
   the layer's DeepLIFT rule, built from the example activations and the matching recorded
   reference ones (:meth:`DeepLiftPasses.example_pass`).

One backward pass over the example rows then yields the multipliers. This costs one
inference forward + one forward + one backward on B rows, instead of a forward and a
backward on 2B rows.

Hooks are installed globally (``torch.nn.modules.module.register_module_forward_*_hook``)
for the duration of a call, so layers built inside ``forward`` and layers called several
times per forward are handled: calls are matched by order. A layer nested inside another
hooked layer is left to the outer rule. ``inplace`` flags of hooked layers are switched off
while attributing (the rule needs the input intact) and restored afterwards.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.modules import module as module_registry
from torch.overrides import TorchFunctionMode


class _ApplyRulePair(torch.autograd.Function):
    """As :class:`_ApplyRule` for a layer with two tensor operands (``BilinearOp``): the
    rule's backward returns the gradients of both."""

    @staticmethod
    def forward(ctx, left, right, carried):
        output, backward = carried
        ctx.rule_backward = backward
        return output

    @staticmethod
    def backward(ctx, grad):
        grad_left, grad_right = ctx.rule_backward(grad)
        return grad_left, grad_right, None


def _operands(rule) -> int:
    return getattr(rule, "operands", 1)


def _version(x):
    return tuple(t._version for t in x) if isinstance(x, tuple) else x._version


def _detached(x):
    return tuple(t.detach() for t in x) if isinstance(x, tuple) else x.detach()


def _tracked(x) -> bool:
    return any(t.requires_grad for t in x) if isinstance(x, tuple) else x.requires_grad


class _ApplyRule(torch.autograd.Function):
    """Identity in the forward pass (returns the layer's own output values); the backward
    pass maps the incoming gradient through a DeepLIFT rule instead of the layer's Jacobian.

    The output tensor travels inside a tuple so that autograd does not treat it as an
    input returned as-is (which would forbid later in-place edits by the user's forward).
    """

    @staticmethod
    def forward(ctx, x, carried):
        output, backward = carried
        ctx.rule_backward = backward
        return output

    @staticmethod
    def backward(ctx, grad):
        return ctx.rule_backward(grad), None


@dataclass
class _Record:
    module: torch.nn.Module
    x: torch.Tensor
    y: torch.Tensor
    x_version: int
    y_version: int


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _first_output(output):
    return output[0] if isinstance(output, (tuple, list)) else output


def _replace_first_output(output, new):
    if isinstance(output, tuple):
        return (new, *output[1:])
    if isinstance(output, list):
        return [new, *output[1:]]
    return new


class DeepLiftPasses:
    """Context manager installing the DeepLIFT hooks; see the module docstring.

    Parameters
    ----------
    rules : dict
        Module class -> rule (see :mod:`motifscope.attribution._rules`).
    """

    def __init__(self, rules: dict):
        self.rules = rules
        self._rule_cache: dict[type, object] = {}
        self._mode = None
        self._stack: list = []
        self._records: list[_Record] = []
        self._cursor = 0
        self._handles = []
        self._inplace_restore: list = []
        self.recorder: FunctionalNonlinearityRecorder | None = None
        self.hooked_calls = 0

    # -- installation -----------------------------------------------------------------------
    def __enter__(self):
        self._handles = [module_registry.register_module_forward_pre_hook(self._pre_hook),
                         module_registry.register_module_forward_hook(self._post_hook)]
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for module in self._inplace_restore:
            module.inplace = True
        self._inplace_restore = []
        self._records = []
        self._stack = []
        self._mode = None
        return False

    def rule_for(self, module):
        cls = type(module)
        if cls not in self._rule_cache:
            self._rule_cache[cls] = next((self.rules[base] for base in cls.__mro__
                                          if base in self.rules), None)
        return self._rule_cache[cls]

    # -- the two passes ---------------------------------------------------------------------
    def reference_pass(self, model, X, args):
        """Forward the references without autograd, recording hooked layer activations."""
        self._begin("record")
        try:
            with torch.no_grad():
                return model(X, *args)
        finally:
            self._mode = None

    def example_pass(self, model, X, args, recorder=None):
        """Forward the examples (``X`` must require grad) with the rules spliced in."""
        self._begin("apply")
        self.recorder = recorder
        try:
            if recorder is None:
                y = model(X, *args)
            else:
                with recorder:
                    y = model(X, *args)
            if self._cursor != len(self._records):
                raise RuntimeError(
                    f"the model called {len(self._records)} nonlinear layers on the references "
                    f"but {self._cursor} on the examples; DeepLIFT needs a forward pass whose "
                    "layer calls do not depend on the input values")
            return y
        finally:
            self._mode = None
            self.recorder = None
            self._records = []

    def _begin(self, mode):
        self._mode = mode
        self._stack = []
        self._cursor = 0
        if mode == "record":
            self._records = []

    # -- hooks ------------------------------------------------------------------------------
    def _pre_hook(self, module, args):
        if self.recorder is not None and self._mode is not None:
            self.recorder.modules.append(module)
        if self._mode is None or self.rule_for(module) is None:
            return None
        outermost = not self._stack
        if getattr(module, "inplace", False) is True:
            module.inplace = False
            self._inplace_restore.append(module)
        n = _operands(self.rule_for(module))
        tensors = outermost and len(args) >= n and all(
            isinstance(a, torch.Tensor) for a in args[:n])
        x = (args[0] if n == 1 else tuple(args[:n])) if tensors else None
        self._stack.append((x, args[n:]))
        if self.recorder is not None:
            self.recorder.depth += 1
        if self._mode == "apply" and x is not None and _tracked(x):
            # the layer runs on a detached input (no autograd graph, no saved tensors, and
            # max-pooling takes its fast path without indices); the rule's output carries
            # the gradient instead
            return (*_as_tuple(_detached(x)), *args[n:])
        return None

    def _post_hook(self, module, args, output):
        if self.recorder is not None and self._mode is not None and self.recorder.modules:
            self.recorder.modules.pop()
        if self._mode is None or self.rule_for(module) is None or not self._stack:
            return None
        x, rest = self._stack.pop()
        try:
            if self._stack:  # nested inside another hooked layer: the outer rule decides
                return None
            y = _first_output(output)
            if self._mode == "record":
                if x is not None and isinstance(y, torch.Tensor):
                    if not getattr(self.rule_for(module), "needs_reference_output", True):
                        y = None
                    self._records.append(_Record(module, x, y, _version(x),
                                                 0 if y is None else y._version))
                else:
                    self._records.append(_Record(module, None, None, 0, 0))
                return None
            return self._apply(module, x, rest, y, output)
        finally:
            # decremented last, so the rule's own tensor operations are not reported
            if self.recorder is not None:
                self.recorder.depth -= 1

    def _apply(self, module, x, rest, y, output):
        if self._cursor >= len(self._records):
            raise RuntimeError(
                f"{type(module).__name__} was called on the examples but not on the "
                "references; DeepLIFT needs a forward pass whose layer calls do not depend "
                "on the input values")
        record = self._records[self._cursor]
        self._records[self._cursor] = None  # the rule keeps what it needs; free the rest
        self._cursor += 1
        # compared by class: a layer built inside ``forward`` is a new object on every pass
        if record is None or type(record.module) is not type(module):
            raise RuntimeError(
                f"layer call {self._cursor} was {type(record.module).__name__} on the "
                f"references but {type(module).__name__} on the examples; DeepLIFT needs a "
                "forward pass whose layer calls do not depend on the input values")
        if x is None or record.x is None or not _tracked(x):
            return None
        if _version(record.x) != record.x_version or (
                record.y is not None and record.y._version != record.y_version):
            raise RuntimeError(
                f"the input or output of {type(module).__name__} was modified in place after "
                "the layer ran; DeepLIFT needs those activations: replace the in-place "
                "operation (e.g. `h += r`) by an out-of-place one (`h = h + r`)")
        self.hooked_calls += 1
        rule = self.rule_for(module)
        y = y.detach()

        def local_grad(grad):
            """The layer's ordinary vector-Jacobian product at the example input."""
            x_leaf = x.detach().requires_grad_(True)
            with torch.enable_grad():
                y_leaf = _first_output(self._rerun(module, x_leaf, rest))
            return torch.autograd.grad(y_leaf, x_leaf, grad)[0]

        if isinstance(x, tuple):  # a two-operand layer (BilinearOp)
            backward = rule(module, _detached(x), record.x, y, record.y, None)
            return _replace_first_output(output, _ApplyRulePair.apply(*x, (y, backward)))
        backward = rule(module, x.detach(), record.x, y, record.y, local_grad)
        if backward is None:  # treated as linear: the layer's own gradient, so rerun it
            with torch.enable_grad():
                return self._rerun(module, x, rest)
        return _replace_first_output(output, _ApplyRule.apply(x, (y, backward)))

    def _rerun(self, module, x, rest):
        """Call the layer's forward again with the hooks muted (for ordinary gradients)."""
        mode, self._mode = self._mode, None
        try:
            return module(x, *rest)
        finally:
            self._mode = mode


# Functions that are not linear in their tensor arguments. Called from ``forward`` outside a
# hooked layer, DeepLIFT treats them as linear (plain gradients), which breaks completeness.
_NONLINEAR_NAMES = {
    F: "relu relu6 leaky_relu elu selu celu gelu silu mish softplus softshrink hardshrink "
       "tanhshrink hardtanh hardsigmoid hardswish logsigmoid softsign prelu rrelu glu "
       "threshold sigmoid tanh softmax log_softmax max_pool1d max_pool2d adaptive_max_pool1d "
       "adaptive_max_pool2d layer_norm rms_norm group_norm normalize instance_norm "
       "multi_head_attention_forward",
    torch: "relu sigmoid tanh exp expm1 log log1p log2 log10 sqrt rsqrt square pow abs clamp "
           "clip softmax log_softmax max_pool1d max_pool2d max min amax amin maximum minimum "
           "logsumexp erf sin cos norm topk sort lstm gru rnn_tanh rnn_relu",
    torch.Tensor: "relu sigmoid tanh exp log log1p sqrt square pow __pow__ abs clamp clip "
                  "softmax log_softmax max amax min amin logsumexp norm",
}
# Products of two input-dependent tensors (attention, gating) are not linear either.
_PRODUCT_NAMES = {
    torch: "mul matmul bmm einsum div",
    torch.Tensor: "mul __mul__ __rmul__ matmul __matmul__ div __truediv__",
}
_PREFIX = {F: "F", torch: "torch", torch.Tensor: "Tensor"}


def _named(table):
    return {getattr(owner, name): f"{_PREFIX[owner]}.{name}"
            for owner, names in table.items() for name in names.split()
            if hasattr(owner, name)}


_UNARY_NONLINEAR = _named(_NONLINEAR_NAMES)
_PRODUCTS = _named(_PRODUCT_NAMES)
_DIVISIONS = {torch.div, torch.Tensor.div, torch.Tensor.__truediv__}


def _tensors_in(args, kwargs):
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (v for v in value if isinstance(v, torch.Tensor))


def _call_site() -> str:
    """``file:line`` of the innermost stack frame outside torch and this package."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if "/torch/" not in path and "/motifscope/attribution/" not in path:
            return f"{path.rsplit('/', 1)[-1]}:{frame.lineno}"
    return "?"


class FunctionalNonlinearityRecorder(TorchFunctionMode):
    """Record nonlinear torch functions applied to input-dependent tensors outside hooked
    layers during one example pass (model parameters must not require grad, so "requires
    grad" means "depends on the input sequence").

    Attributes
    ----------
    found : dict[str, str]
        Function name -> where it was first called: the innermost module running it
        (``name (Class)``, names from ``names``) and the call site (``file:line``).
    modules : list
        The module calls in progress (kept by :class:`DeepLiftPasses`).
    names : dict
        ``id(module) -> qualified name`` (e.g. from ``model.named_modules()``).
    """

    def __init__(self, names=None):
        super().__init__()
        self.depth = 0
        self.found: dict[str, str] = {}
        self.modules: list = []
        self.names = dict(names or {})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.depth == 0 and (func in _UNARY_NONLINEAR or func in _PRODUCTS):
            tracked = [t for t in _tensors_in(args, kwargs) if t.requires_grad]
            nonlinear = bool(tracked) if func in _UNARY_NONLINEAR else self._product(
                func, args, tracked)
            if nonlinear:
                name = _UNARY_NONLINEAR.get(func) or _PRODUCTS[func]
                self.found.setdefault(name, self._where())
        return func(*args, **kwargs)

    def _where(self) -> str:
        site = _call_site()
        if not self.modules:
            return site
        module = self.modules[-1]
        name = self.names.get(id(module), "")
        return f"in {name or 'model'} ({type(module).__name__}), {site}"

    @staticmethod
    def _product(func, args, tracked) -> bool:
        if func in _DIVISIONS:
            return len(args) > 1 and isinstance(args[1], torch.Tensor) and args[1].requires_grad
        return len(tracked) >= 2

    def describe(self) -> str:
        return ", ".join(f"{name} ({site})" for name, site in self.found.items())
