"""Skip sub-modules whose output cannot change the explained output.

Multi-head models compute heads that the attributed output never uses: BPNet's profile
head (a 75-wide convolution over all filters, often the most expensive layer) is dead when
its counts head is explained. Attribution runs each batch forward twice (references and
examples), so skipping dead layers saves real time.

A module is *dead* when no gradient reaches any of its outputs from the target output on a
probe batch. Because a value can matter without carrying gradient (a mask or an index
computed from it), the skip is only kept if the model, with every dead module returning
zeros instead, gives the same target values on the probe batch; otherwise nothing is
skipped. Skipped modules are replaced, for the duration of the call, by a stub returning
zeros of the recorded shape, so their own code does not run at all.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch.nn.modules import module as module_registry

log = logging.getLogger("motifscope.attribution")


@dataclass
class _Call:
    module: torch.nn.Module
    parent: int | None
    batch: int | None = None
    output: torch.Tensor | None = None
    children: list = field(default_factory=list)


class _CallTracer:
    """Record every module call (its parent call and its output) during one forward pass."""

    def __init__(self):
        self.calls: list[_Call] = []
        self._stack: list[int] = []

    def __enter__(self):
        self._handles = [module_registry.register_module_forward_pre_hook(self._pre),
                         module_registry.register_module_forward_hook(self._post)]
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        return False

    def _pre(self, module, args):
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        parent = self._stack[-1] if self._stack else None
        self.calls.append(_Call(module, parent, None if first is None or first.ndim == 0
                                else first.shape[0]))
        self._stack.append(len(self.calls) - 1)

    def _post(self, module, args, output):
        index = self._stack.pop()
        if isinstance(output, torch.Tensor):
            self.calls[index].output = output


def _stub(shape, dtype):
    def forward(*args, **kwargs):
        first = next(a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor))
        return torch.zeros((first.shape[0], *shape), dtype=dtype, device=first.device)

    return forward


class DeadBranchPruner:
    """Context manager: find dead sub-modules on a probe batch, stub them out, restore.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode, parameters not requiring grad.
    select : callable
        ``select(raw_model_output) -> (B,)`` tensor of the explained output.
    probes : list of (X, args)
        Probe batches (a few example rows and a few reference rows); the first is traced,
        all must give identical target values with the stubs in place.
    skip : set of module classes
        Modules never stubbed (those carrying a DeepLIFT rule).
    """

    def __init__(self, model, select, probes, skip=()):
        self.model, self.select, self.probes, self.skip = model, select, probes, tuple(skip)
        self.stubbed: list[torch.nn.Module] = []
        self._stubs: dict[int, object] = {}

    def __enter__(self):
        try:
            dead = self._find_dead()
            if dead and self._same_outputs(dead):
                self._install(dead)
        except Exception as err:  # noqa: BLE001 - pruning is an optimisation, never an error
            log.debug("dead-branch pruning disabled: %s", err)
            self._remove()
        if self.stubbed:
            names = {id(m): n for n, m in self.model.named_modules()}
            log.info("skipping layers that cannot change the attributed output: %s",
                     ", ".join(names.get(id(m), type(m).__name__) for m in self.stubbed))
        return self

    def __exit__(self, *exc):
        self._remove()
        return False

    def _find_dead(self):
        X, args = self.probes[0]
        X = X.detach().clone().requires_grad_(True)
        with torch.enable_grad(), _CallTracer() as tracer:
            y = self.select(self.model(X, *args))
        calls = tracer.calls
        tracked = [i for i, c in enumerate(calls) if c.output is not None
                   and c.output.requires_grad and c.parent is not None]
        if not tracked or not y.requires_grad:
            return {}
        grads = torch.autograd.grad(y.sum(), [calls[i].output for i in tracked],
                                    allow_unused=True)
        alive = set()
        shapes = defaultdict(set)
        for i, grad in zip(tracked, grads):
            call = calls[i]
            if grad is not None:
                alive.add(id(call.module))
            shapes[id(call.module)].add((tuple(call.output.shape), call.output.dtype,
                                         call.batch))
        dead_calls = {i for i, g in zip(tracked, grads) if g is None}
        # modules called only where nothing they produce is used, outermost first (calls
        # are numbered in call order, so a parent comes before its children, and stubbing
        # it skips them too)
        chosen, chosen_calls = {}, set()
        for i in sorted(dead_calls):
            call = calls[i]
            key = id(call.module)
            if key in alive or isinstance(call.module, self.skip) or len(shapes[key]) != 1:
                continue
            if isinstance(call.module, torch.jit.ScriptModule) or \
                    "forward" in call.module.__dict__:  # scripted or already patched
                continue
            if _inside(calls, i, chosen_calls):
                continue
            (shape, dtype, batch), = shapes[key]
            if batch is None or shape[0] != batch:
                continue
            chosen[key] = (call.module, shape[1:], dtype)
            chosen_calls.add(i)
        return chosen

    def _install(self, dead):
        for module, shape, dtype in dead.values():
            stub = _stub(shape, dtype)
            module.forward = stub
            self.stubbed.append(module)
            self._stubs[id(module)] = stub

    def _remove(self):
        for module in self.stubbed:  # only undo what was done here
            if module.__dict__.get("forward") is self._stubs.get(id(module)):
                del module.__dict__["forward"]
        self.stubbed, self._stubs = [], {}

    def _same_outputs(self, dead) -> bool:
        """Whether the target values on every probe batch survive stubbing ``dead``."""
        with torch.no_grad():
            full = [self.select(self.model(X, *args)) for X, args in self.probes]
            self._install(dead)
            try:
                pruned = [self.select(self.model(X, *args)) for X, args in self.probes]
            finally:
                self._remove()
        return all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(pruned, full))


def _inside(calls, index, outer_calls) -> bool:
    parent = calls[index].parent
    while parent is not None:
        if parent in outer_calls:
            return True
        parent = calls[parent].parent
    return False
