"""DeepLIFT multiplier rules for the layers that are not linear.

A rule sees one layer call for a batch of example-reference *pairs*: the example-side input
and output ``x, y`` and the reference-side ones ``x_ref, y_ref`` (same shapes, row ``b`` of
each belongs to pair ``b``), plus ``local_grad``, the layer's ordinary vector-Jacobian
product at the example. It returns a function mapping the gradient arriving at the layer's
output to the multiplier-weighted gradient at its input (or None to leave the layer's
ordinary gradient in place, i.e. treat it as linear).

Every rule keeps *summation-to-delta* exact for its layer:
``sum(backward(g) * (x - x_ref)) == sum(g * (y - y_ref))``, which is what makes the
attributions of a whole network add up to ``f(x) - f(ref)``.

Rule signature (also for user rules passed through ``additional_nonlinear_ops``)::

    rule(module, x, x_ref, y, y_ref, local_grad) -> Callable[[Tensor], Tensor] | None

A rule with the attribute ``needs_reference_output = False`` gets ``y_ref=None`` (the
reference pass then does not keep the layer's output alive).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from motifscope.attribution.transformer import BilinearOp, known_third_party_rules
from motifscope.errors import InputError

# Below this input change the secant is numerically meaningless; the layer's own gradient is
# used instead (the same threshold as tangermeme and captum's rescale rule).
RESCALE_EPS = 1e-6

Backward = Callable[[torch.Tensor], torch.Tensor]


def _check_same_shape(module, x, y, rule: str) -> None:
    if x.shape != y.shape:
        raise ValueError(f"DeepLIFT rule '{rule}' needs a layer whose output has the shape of "
                         f"its input, but {type(module).__name__} maps {tuple(x.shape)} to "
                         f"{tuple(y.shape)}; register a different rule for it through "
                         "additional_nonlinear_ops")


def _secant(x, x_ref, y, y_ref):
    """Δy/Δx and the mask of elements where |Δx| is too small for it (in-place arithmetic:
    these tensors are as large as the layer's activations, so every pass counts)."""
    delta_in = x - x_ref
    slope = (y - y_ref).div_(delta_in)  # inf/nan where Δx = 0: replaced by the fallback
    flat = delta_in.abs_() < RESCALE_EPS
    return slope, flat


def rescale_relu(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Rescale rule for ReLU; the fallback derivative is ``x > 0`` (no extra autograd).

    The reference output is recomputed from the reference input (``y_ref`` is None: see
    ``needs_reference_output``), so the reference pass keeps one tensor per ReLU, not two.
    """
    _check_same_shape(module, x, y, "rescale")
    y_ref = x_ref.clamp_min(0) if y_ref is None else y_ref
    slope, flat = _secant(x, x_ref, y, y_ref)
    # few elements are flat: patch them by index instead of a full-size torch.where
    where_flat = flat.nonzero(as_tuple=True)
    slope.index_put_(where_flat, (x[where_flat] > 0).to(slope.dtype))
    return lambda grad: grad * slope


rescale_relu.needs_reference_output = False


def rescale_elementwise(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Rescale rule for elementwise activations: multiplier = Δy / Δx per element.

    Where ``|Δx| < 1e-6`` the activation's derivative at the example is used. Because the
    layer is elementwise that derivative is one vector-Jacobian product with a tensor of
    ones, so the whole multiplier is folded into one tensor before the backward pass.
    """
    _check_same_shape(module, x, y, "rescale")
    slope, flat = _secant(x, x_ref, y, y_ref)
    if bool(flat.any()):
        slope = torch.where(flat, local_grad(torch.ones_like(y)), slope)
    return lambda grad: grad * slope


def rescale(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Rescale rule for any shape-preserving layer (user rule ``"rescale"``).

    As :func:`rescale_elementwise`, but the fallback is the layer's full vector-Jacobian
    product evaluated with the incoming gradient, so it is also right for layers that mix
    positions (the rule tangermeme applies to every registered module).
    """
    _check_same_shape(module, x, y, "rescale")
    slope, flat = _secant(x, x_ref, y, y_ref)
    if not bool(flat.any()):
        return lambda grad: grad * slope
    slope = slope.masked_fill_(flat, 0.0)
    return lambda grad: torch.where(flat, local_grad(grad), grad * slope)


def _pool_indices(module, x):
    """Arg-max positions (flattened over the spatial axes) of every pooling window."""
    if isinstance(module, nn.MaxPool1d):
        return F.max_pool1d(x, module.kernel_size, module.stride, module.padding,
                            module.dilation, module.ceil_mode, True)[1]
    if isinstance(module, nn.MaxPool2d):
        return F.max_pool2d(x, module.kernel_size, module.stride, module.padding,
                            module.dilation, module.ceil_mode, True)[1]
    if isinstance(module, nn.AdaptiveMaxPool1d):
        return F.adaptive_max_pool1d(x, module.output_size, True)[1]
    if isinstance(module, nn.AdaptiveMaxPool2d):
        return F.adaptive_max_pool2d(x, module.output_size, True)[1]
    raise ValueError(f"DeepLIFT rule 'maxpool' supports MaxPool1d/2d and AdaptiveMaxPool1d/2d, "
                     f"not {type(module).__name__}")


def maxpool(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Max-pooling rule: route each window's change to the input that carries it.

    A window whose example maximum exceeds the reference maximum sends ``g * (y - y_ref)``
    to the example's arg-max; one whose reference maximum is larger sends it to the
    reference's arg-max; each share is divided by the input change at the position it
    lands on, and shares landing on one input *add up* (overlapping windows, kernel >
    stride). An arg-max whose input does not change gets the ordinary max-pool gradient
    at the example. Both sides of a pair share one multiplier, so a later pooling layer
    sums consistent values (the fixes of tangermeme PR #95).

    Everything is computed per window (output size), not per input position: the input
    change at the example's arg-max is ``y - x_ref[argmax]`` and at the reference's
    arg-max ``x[argmax_ref] - y_ref``. Where that change is exactly zero the routed share
    is zero too (the window's winner did not move), which is what makes the per-window
    form equal to dividing the accumulated shares per position.
    """
    batch, channels = x.shape[:2]
    inputs, inputs_ref = x.reshape(batch, channels, -1), x_ref.reshape(batch, channels, -1)
    winners = _pool_indices(module, x).reshape(batch, channels, -1)
    winners_ref = _pool_indices(module, x_ref).reshape(batch, channels, -1)
    out, out_ref = y.reshape(batch, channels, -1), y_ref.reshape(batch, channels, -1)
    change = out - out_ref
    moved = out - inputs_ref.gather(-1, winners)
    moved_ref = inputs.gather(-1, winners_ref) - out_ref
    still, still_ref = moved == 0, moved_ref == 0
    coefficient = torch.where(still, 1.0, change.clamp_min(0) / moved.masked_fill(still, 1.0))
    coefficient_ref = torch.where(still_ref, 0.0,
                                  change.clamp_max(0) / moved_ref.masked_fill(still_ref, 1.0))
    routes = torch.cat([winners, winners_ref], dim=-1)
    coefficients = torch.cat([coefficient, coefficient_ref], dim=-1)

    def backward(grad):
        grad = grad.reshape(batch, channels, -1)
        shares = torch.cat([grad, grad], dim=-1).mul_(coefficients)
        routed = torch.zeros_like(inputs, dtype=grad.dtype)
        return routed.scatter_add_(-1, routes, shares).reshape(x.shape)

    return backward


def _softmax_dim(module, ndim: int) -> int:
    dim = module.dim
    if dim is None:
        dim = F._get_softmax_dim("softmax", ndim, 3)  # torch's legacy implicit choice
    dim = dim % ndim
    if dim == 0:
        raise ValueError("DeepLIFT cannot attribute a Softmax over the batch axis (dim=0): "
                         "it would mix examples; normalise over a feature axis")
    return dim


def _guarded_ratio(numerator, denominator, fallback, eps=RESCALE_EPS):
    small = denominator.abs() <= eps
    return torch.where(small, fallback, numerator / denominator.masked_fill(small, 1.0))


def softmax(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Exact softmax rule, computed per example (never across the batch).

    Write ``y_i = a_i / s`` with ``a_i = exp(x_i - c)`` and ``s = Σ a``. Chaining exact
    multipliers through ``log y_i = (x_i - c) - log s`` gives, for incoming gradient g,
    ``grad_j = g_j r_j - m_j q Σ_i g_i r_i`` with ``r = Δy/Δlog y``, ``m = Δa/Δx`` and
    ``q = Δlog s/Δs``. Summation-to-delta holds exactly; differences below 1e-6 fall back to
    the derivatives at the midpoint.
    """
    dim = _softmax_dim(module, x.ndim)
    dtype = torch.promote_types(x.dtype, torch.float32)
    x, x_ref = x.to(dtype), x_ref.to(dtype)
    shift = torch.maximum(x.amax(dim, keepdim=True), x_ref.amax(dim, keepdim=True))
    a, a_ref = torch.exp(x - shift), torch.exp(x_ref - shift)
    s, s_ref = a.sum(dim, keepdim=True), a_ref.sum(dim, keepdim=True)
    tiny = torch.finfo(dtype).tiny
    log_s, log_s_ref = s.clamp_min(tiny).log(), s_ref.clamp_min(tiny).log()
    probs, probs_ref = a / s.clamp_min(tiny), a_ref / s_ref.clamp_min(tiny)
    delta_x = x - x_ref
    exp_slope = _guarded_ratio(a - a_ref, delta_x, (a + a_ref) / 2)
    log_y_change = delta_x - (log_s - log_s_ref)
    prob_slope = _guarded_ratio(probs - probs_ref, log_y_change, (probs + probs_ref) / 2)
    log_sum_slope = _guarded_ratio(log_s - log_s_ref, s - s_ref, 2 / (s + s_ref))

    def backward(grad):
        weighted = grad.to(dtype) * prob_slope
        mixed = exp_slope * log_sum_slope * weighted.sum(dim, keepdim=True)
        return (weighted - mixed).to(grad.dtype)

    return backward


def _norm_statistics(x, n_dims, eps, centre):
    """Mean (None without centring) and inverse scale ``v = (mean(a^2) + eps)^-1/2`` of
    ``x`` over its last ``n_dims`` axes, with ``a = x - mean`` (or ``x``)."""
    dims = tuple(range(-n_dims, 0))
    mean = x.mean(dim=dims, keepdim=True) if centre else None
    a = x - mean if centre else x
    return a, (a.square().mean(dim=dims, keepdim=True) + eps).rsqrt()


def _normalization(module, x, x_ref, centre: bool) -> Backward:
    """Exact rule for LayerNorm (``centre``) and RMSNorm.

    ``y = gamma * a * v + beta`` with ``a = x - mean(x)`` (LayerNorm) or ``a = x``
    (RMSNorm), ``s = mean(a^2)`` and ``v = (s + eps)^-1/2``, over the normalised axes
    (D elements). The chain of exact multipliers is: the product ``a * v`` by the midpoint
    rule (``Δ(a v) = Δa (v + v_ref)/2 + (a + a_ref)/2 Δv``), ``v(s)`` by its secant, which
    has the closed form ``Δv/Δs = -v² v_ref² / (v + v_ref)`` (no cancellation, no guard),
    the square in ``s`` by ``Δ(a²) = (a + a_ref) Δa``, and the centring as the linear map it
    is. With ``g~ = g * gamma`` this gives

        grad_a = v_mid g~ + (a + a_ref) / (2D) * Δv/Δs * Σ g~ (a + a_ref)

    and, for LayerNorm, ``grad_x = grad_a - mean(grad_a)``. ``beta`` cancels in Δy. This
    is the rule of tangermeme 1.6 (``_layernorm``/``_rmsnorm``), derived here on its own.
    """
    n_dims = len(module.normalized_shape)
    dims = tuple(range(-n_dims, 0))
    eps = module.eps if module.eps is not None else torch.finfo(x.dtype).eps
    a, v = _norm_statistics(x, n_dims, eps, centre)
    a_ref, v_ref = _norm_statistics(x_ref, n_dims, eps, centre)
    size = 1
    for extent in x.shape[-n_dims:]:
        size *= extent
    v_mid = (v + v_ref) / 2
    a_sum = a + a_ref
    secant = -(v * v_ref).square() / (v + v_ref)
    coupling = secant * a_sum / (2 * size)
    gamma = module.weight

    def backward(grad):
        scaled = grad if gamma is None else grad * gamma
        grad_a = v_mid * scaled + coupling * (scaled * a_sum).sum(dim=dims, keepdim=True)
        if centre:
            grad_a = grad_a - grad_a.mean(dim=dims, keepdim=True)
        return grad_a

    return backward


def layernorm(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Exact rule for ``nn.LayerNorm`` (see :func:`_normalization`)."""
    return _normalization(module, x, x_ref, centre=True)


def rmsnorm(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Exact rule for ``nn.RMSNorm`` (see :func:`_normalization`)."""
    return _normalization(module, x, x_ref, centre=False)


layernorm.needs_reference_output = False
rmsnorm.needs_reference_output = False


def bilinear(module, x, x_ref, y, y_ref, local_grad) -> Backward:
    """Midpoint product rule for a contraction of two input-dependent tensors.

    For ``y = B(l, r)`` bilinear (matmul, einsum, elementwise product),
    ``Δy = B(Δl, r_mid) + B(l_mid, Δr)`` exactly, with ``l_mid = (l + l_ref)/2``; so the
    multipliers are the ordinary Jacobians of ``B`` at the midpoints, applied as two
    vector-Jacobian products. ``x`` and ``x_ref`` are the operand pairs ``(l, r)``; the
    backward returns the gradients of both. The module needs a method
    ``contract(left, right)`` (see :class:`motifscope.attribution.BilinearOp`) or an
    ``equation`` attribute with tangermeme's meaning (None: matmul; ``"...,...->..."``:
    elementwise product; else an einsum equation).
    """
    (left, right), (left_ref, right_ref) = x, x_ref
    left_mid = ((left + left_ref) / 2).detach().requires_grad_(True)
    right_mid = ((right + right_ref) / 2).detach().requires_grad_(True)
    contract = getattr(module, "contract", None) or (lambda a, b: contract_by_equation(
        getattr(module, "equation", None), a, b))

    def backward(grad):
        with torch.enable_grad():
            out = contract(left_mid, right_mid)
            return torch.autograd.grad(out, (left_mid, right_mid), grad)

    return backward


bilinear.operands = 2
bilinear.needs_reference_output = False


def contract_by_equation(equation, left, right):
    """tangermeme's ``BilinearOp`` contraction: matmul (None), elementwise product
    (``"...,...->..."``) or ``torch.einsum(equation, left, right)``."""
    if equation is None:
        return torch.matmul(left, right)
    if equation == "...,...->...":
        return left * right
    return torch.einsum(equation, left, right)


def linear(module, x, x_ref, y, y_ref, local_grad) -> None:
    """Treat the layer as linear: keep its ordinary gradient."""
    return None


NAMED_RULES = {"rescale": rescale, "rescale_elementwise": rescale_elementwise,
               "rescale_relu": rescale_relu,
               "maxpool": maxpool, "softmax": softmax, "layernorm": layernorm,
               "rmsnorm": rmsnorm, "bilinear": bilinear, "linear": linear}

ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.RReLU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
               nn.ELU, nn.LeakyReLU, nn.PReLU, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Softshrink,
               nn.Hardshrink, nn.Tanhshrink, nn.LogSigmoid, nn.Hardtanh, nn.Hardsigmoid,
               nn.Hardswish, nn.Softsign, nn.Threshold)
POOLING = (nn.MaxPool1d, nn.MaxPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


def default_rules() -> dict[type, Callable]:
    """The built-in table: module class -> rule (a fresh dict on every call)."""
    table = {cls: rescale_elementwise for cls in ELEMENTWISE}
    table[nn.ReLU] = rescale_relu
    table.update({cls: maxpool for cls in POOLING})
    table[nn.Softmax] = softmax
    table[nn.LayerNorm] = layernorm
    table[nn.RMSNorm] = rmsnorm
    table[BilinearOp] = bilinear
    table.update(known_third_party_rules())
    return table


def build_rules(additional_nonlinear_ops=None) -> dict[type, Callable]:
    """Merge user rules into the built-in table.

    Parameters
    ----------
    additional_nonlinear_ops : dict, optional
        ``{module class: rule}`` where a rule is a name (``"rescale"``, ``"maxpool"``,
        ``"softmax"``, ``"linear"``) or a callable with the signature described in this
        module's docstring. Entries override the built-in ones.

    Raises
    ------
    motifscope.errors.InputError
        For keys that are not classes or unknown rule names.
    """
    table = default_rules()
    for cls, rule in (additional_nonlinear_ops or {}).items():
        if not isinstance(cls, type):
            raise InputError(f"additional_nonlinear_ops: key {cls!r} is not a module class; "
                             "use e.g. {MyActivation: 'rescale'}")
        if isinstance(rule, str):
            if rule not in NAMED_RULES:
                raise InputError(f"additional_nonlinear_ops: unknown rule '{rule}' for "
                                 f"{cls.__name__}; use one of {', '.join(NAMED_RULES)} or a "
                                 "callable")
            rule = NAMED_RULES[rule]
        elif not callable(rule):
            raise InputError(f"additional_nonlinear_ops: the rule for {cls.__name__} is "
                             "neither a rule name nor a callable")
        table[cls] = rule
    return table
