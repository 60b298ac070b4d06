"""The straight line between two ``nn.Module`` networks: BatchNorm reset, REPAIR, loss curve.

``θ(λ) = (1 − λ) θ_A + λ θ_B`` over every float tensor of the state_dict (integer buffers such
as ``num_batches_tracked`` come from A). Interpolated BatchNorm running statistics are not the
statistics of the interpolated network, so without a reset every point inside the line is
evaluated with wrong normalization; ``reset_bn=`` recomputes them on a loader (cumulative
average over its batches, in train mode for the BatchNorm layers only).

REPAIR (Jordan et al., 2022) works through forward hooks on the spec's repair points (the
BatchNorm after a conv, else the conv or Linear itself): each channel's pre-activation mean
and std on the REPAIR inputs are reset, point by point from the input, to
``(1 − λ) μ_A + λ μ_B`` and ``(1 − λ) σ_A + λ σ_B`` by folding ``z ← s (z − μ) + μ*``
(``s = σ* / σ``) into the module's weight and bias (without a bias only the scale is reset).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._errors import UnitscopeError
from ..models import UnitModel
from ..record._hooks import eval_mode
from ._checks import pair_models
from ._curve import Curve
from ._interpolate import line_params
from ._module import need_spec, refuse_mixed
from ._repair import preact_stats, repair_members
from ._spec import PermutationSpec, RepairPoint

_BATCH = 1024  # rows per forward pass when data come as whole tensors
Batches = Callable[[], Iterator[tuple[Tensor, Tensor | None]]]
Stats = dict[str, tuple[Tensor, Tensor]]  # module -> (mean (C,), std (C,)) float64


def as_module(model: Any, build: Any, name: str) -> nn.Module:
    """An nn.Module as is, or a state_dict loaded into ``build()``."""
    if isinstance(model, nn.Module):
        return model
    if not isinstance(model, Mapping):
        raise UnitscopeError(
            f"`{name}` must be a torch nn.Module or a state_dict, got {type(model).__name__}."
        )
    if build is None:
        raise UnitscopeError(
            f"`{name}` is a state_dict; pass build= (a function that returns a new model of "
            "that architecture) so that it can be evaluated."
        )
    net = build()
    if not isinstance(net, nn.Module):
        raise UnitscopeError(f"`build()` must return an nn.Module, got {type(net).__name__}.")
    try:
        net.load_state_dict(model)
    except RuntimeError as err:
        line = str(err).strip().splitlines()[0]
        raise UnitscopeError(f"`{name}` does not fit `build()`'s model: {line}") from None
    return net


def same_layout(a: nn.Module, b: nn.Module) -> None:
    """Raise unless the two modules have the same state_dict keys and shapes."""
    sa, sb = a.state_dict(), b.state_dict()
    diff = sorted(set(sa) ^ set(sb)) or [k for k in sa if sa[k].shape != sb[k].shape]
    if diff:
        raise UnitscopeError(
            f"the models have different architectures (first difference: tensor {diff[0]!r}); "
            "only networks of one architecture can be interpolated."
        )


def batches(data: Any, like: Tensor, what: str, *, labels: bool) -> Batches:
    """A re-iterable source of ``(x, y)`` batches on ``like``'s device and dtype.

    ``data``: an ``(x, y)`` pair of arrays, a Dataset, inputs ``x`` alone (without labels), or
    any iterable of batches ``x`` / ``(x, y)`` (a DataLoader; a generator is read once).
    """
    if hasattr(data, "x") and hasattr(data, "y"):
        data = (data.x, data.y)
    if _is_pair(data):
        x, y = _tensor(data[0], like), _tensor(data[1], like)
        items: Iterable[Any] = [
            (x[i : i + _BATCH], y[i : i + _BATCH]) for i in range(0, len(x), _BATCH)
        ]
    elif _is_array(data):
        x = _tensor(data, like)
        items = [x[i : i + _BATCH] for i in range(0, len(x), _BATCH)]
    elif isinstance(data, Iterable):
        items = list(data) if iter(data) is data else data
    else:
        raise UnitscopeError(
            f"{what} must be an (x, y) pair, a Dataset, inputs x, or an iterable of batches "
            f"(a DataLoader), got {type(data).__name__}."
        )

    def run() -> Iterator[tuple[Tensor, Tensor | None]]:
        n = 0
        for item in items:
            x, y = (
                (item[0], item[1])
                if isinstance(item, (tuple, list)) and len(item) > 1
                else (item, None)
            )
            if isinstance(x, (tuple, list)) and len(x) == 1:
                x = x[0]
            if labels and y is None:
                raise UnitscopeError(f"{what} must give (x, y) batches with labels.")
            n += 1
            yield _tensor(x, like), None if y is None else _tensor(y, like)
        if n == 0:
            raise UnitscopeError(f"{what} gave no batches.")

    return run


def _is_pair(data: Any) -> bool:
    """``(x, y)``: two arrays of equal length, y with fewer axes or integer labels (a list of
    two same-shaped float batches is batches)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        return False
    x, y = data
    if not (_is_array(x) and _is_array(y)) or len(x) != len(y):
        return False
    integer = not torch.as_tensor(y[:1]).is_floating_point()
    return isinstance(data, tuple) or integer or np.ndim(y) != np.ndim(x)


def _is_array(a: Any) -> bool:
    return isinstance(a, (Tensor, np.ndarray))


def _tensor(a: Any, like: Tensor) -> Tensor:
    t = a if isinstance(a, Tensor) else torch.as_tensor(np.asarray(a))
    dtype = like.dtype if t.is_floating_point() else t.dtype
    return t.to(device=like.device, dtype=dtype)


def _first_param(net: nn.Module) -> Tensor:
    for t in (*net.parameters(), *net.buffers()):
        if t.is_floating_point():
            return t
    raise UnitscopeError(f"{type(net).__name__} has no floating-point parameters to interpolate.")


def mix(a: nn.Module, b: nn.Module, lam: float) -> nn.Module:
    """A copy of ``a`` holding ``(1 − λ) θ_A + λ θ_B`` (integer buffers from A), in eval mode."""
    sa, sb = a.state_dict(), b.state_dict()
    state = {
        k: torch.lerp(v, sb[k].to(v.dtype), lam) if v.is_floating_point() else v
        for k, v in sa.items()
    }
    net = copy.deepcopy(a)
    net.load_state_dict(state)
    return net.eval()


def reset_bn(net: nn.Module, data: Batches) -> nn.Module:
    """Recompute every BatchNorm's running statistics on ``data``, in place (eval on exit)."""
    norms = [
        m
        for m in net.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]
    if not norms:
        return net
    saved = [m.momentum for m in norms]
    net.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches
        m.train()
    try:
        with torch.no_grad():
            for x, _ in data():
                net(x)
    finally:
        for m, momentum in zip(norms, saved):
            m.momentum = momentum
        net.eval()
    return net


def channel_stats(net: nn.Module, data: Batches, points: Iterable[RepairPoint]) -> Stats:
    """Mean and std (float64) of each channel of each point's output over ``data`` (eval)."""
    sums: dict[str, list[Any]] = {}
    handles = []

    def hook_for(point: RepairPoint):
        def hook(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
            z = output.detach().to(torch.float64).movedim(point.dim, -1)
            z = z.reshape(-1, z.shape[-1])  # (observations, C)
            acc = sums.setdefault(point.module, [0, 0.0, 0.0])
            acc[0] += z.shape[0]
            acc[1] = acc[1] + z.sum(0)
            acc[2] = acc[2] + (z * z).sum(0)

        return hook

    try:
        for p in points:
            handles.append(net.get_submodule(p.module).register_forward_hook(hook_for(p)))
        with eval_mode(net), torch.no_grad():
            for x, _ in data():
                net(x)
    finally:
        for h in handles:
            h.remove()
    out = {}
    for name, (n, s1, s2) in sums.items():
        mean = s1 / n
        out[name] = (mean, (s2 / n - mean * mean).clamp_min(0.0).sqrt())
    return out


def _fold(module: nn.Module, moments: tuple[Tensor, Tensor], target: tuple[Tensor, Tensor]):
    """Fold ``z ← s (z − μ) + μ*`` into the module's weight and bias (only ``z ← s z`` without a
    bias); returns ``(s, offset)`` with which the module's output changes: ``s z + offset``."""
    (mean, std), (target_mean, target_std) = moments, target
    scale = torch.where(std > 1e-12, target_std / std.clamp_min(1e-12), 1.0)
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    offset = torch.zeros_like(scale)
    with torch.no_grad():
        if isinstance(weight, Tensor):
            weight.mul_(scale.to(weight.dtype).view(-1, *([1] * (weight.dim() - 1))))
        if isinstance(bias, Tensor):
            offset = target_mean - scale * mean
            bias.copy_((scale * bias.to(torch.float64) + offset).to(bias.dtype))
    return scale, offset


class _Reused(Exception):
    """A repair point ran twice in one forward pass."""


def _repair_one_pass(net: nn.Module, targets: Stats, x: Tensor, spec: PermutationSpec) -> bool:
    """REPAIR every point in one forward pass over one batch: each hook measures its output
    (upstream points already corrected), folds the correction and passes the corrected output
    on. False (``net`` untouched) when a point module runs twice."""
    state = copy.deepcopy(net.state_dict())
    seen: set[str] = set()
    handles = []

    def hook_for(point: RepairPoint):
        def hook(module: nn.Module, _inputs: Any, output: Tensor) -> Tensor:
            if point.module in seen:
                raise _Reused
            seen.add(point.module)
            z = output.to(torch.float64).movedim(point.dim, -1)
            z = z.reshape(-1, z.shape[-1])
            moments = (z.mean(0), z.std(0, unbiased=False))
            scale, offset = _fold(module, moments, targets[point.module])
            shape = [1] * output.dim()
            shape[point.dim] = -1
            s, o = scale.to(output.dtype).view(shape), offset.to(output.dtype).view(shape)
            return output * s + o

        return hook

    try:
        for p in spec.repair:
            handles.append(net.get_submodule(p.module).register_forward_hook(hook_for(p)))
        with eval_mode(net), torch.no_grad():
            net(x)
    except _Reused:
        net.load_state_dict(state)
        return False
    finally:
        for h in handles:
            h.remove()
    return True


def repair_net(
    net: nn.Module, ends: tuple[Stats, Stats], lam: float, data: Batches, spec: PermutationSpec
) -> nn.Module:
    """REPAIR ``net`` in place at λ: point by point from the input, each channel's mean and
    std to the interpolation of the endpoints' (one pass when the data are one batch)."""
    stats_a, stats_b = ends
    targets: Stats = {}
    for p in spec.repair:
        (ma, sa), (mb, sb) = stats_a[p.module], stats_b[p.module]
        targets[p.module] = (torch.lerp(ma, mb, lam), torch.lerp(sa, sb, lam))
    batches_ = data()
    first, second = next(batches_), next(batches_, None)
    if second is None and _repair_one_pass(net, targets, first[0], spec):
        return net
    for p in spec.repair:
        moments = channel_stats(net, data, [p])[p.module]
        _fold(net.get_submodule(p.module), moments, targets[p.module])
    return net


def evaluate(net: nn.Module, data: Batches, loss: str) -> dict[str, float]:
    """Mean loss (and accuracy for integer labels) of ``net`` over ``data``."""
    total, correct, n = 0.0, 0, 0
    classify = True
    with eval_mode(net), torch.no_grad():
        for x, y in data():
            y = cast(Tensor, y)  # labels=True: every batch has them
            out = net(x)
            if not isinstance(out, Tensor):
                raise UnitscopeError(
                    f"the model returned {type(out).__name__}; interpolate needs one tensor of "
                    "scores (n, n_outputs)."
                )
            classify = not y.is_floating_point()
            kind = loss if loss != "auto" else ("cross_entropy" if classify else "mse")
            total += float(_loss_sum(out.to(torch.float64), y, kind))
            if classify:
                correct += int((out.argmax(-1) == y).sum())
            n += x.shape[0]
    values = {"loss": total / n}
    if classify:
        values["acc"] = correct / n
    return values


def _loss_sum(out: Tensor, y: Tensor, kind: str) -> Tensor:
    if kind == "cross_entropy":
        if y.is_floating_point():
            raise UnitscopeError("`loss` = 'cross_entropy' needs integer class labels.")
        return F.cross_entropy(out, y, reduction="sum")
    target = F.one_hot(y, out.shape[-1]).to(out.dtype) if not y.is_floating_point() else y
    return ((out - target.to(out.dtype)) ** 2).reshape(out.shape[0], -1).mean(1).sum()


def endpoints(
    ma: nn.Module, mb: nn.Module, reset: Batches | None, repair_data: Batches, spec: PermutationSpec
) -> tuple[Stats, Stats]:
    """Channel statistics of A and B (after their own BatchNorm reset when asked)."""
    out = []
    for m in (ma, mb):
        net = reset_bn(copy.deepcopy(m), reset) if reset is not None else m
        out.append(channel_stats(net, repair_data, spec.repair))
    return out[0], out[1]


def point(
    ma: nn.Module,
    mb: nn.Module,
    lam: float,
    reset: Batches | None,
    repair: tuple[tuple[Stats, Stats], Batches, PermutationSpec] | None,
) -> nn.Module:
    """The network at λ: interpolated, BatchNorm reset, REPAIRed (as asked)."""
    net = mix(ma, mb, lam)
    if reset is not None:
        reset_bn(net, reset)
    if repair is not None:
        ends, data, spec = repair
        repair_net(net, ends, lam, data, spec)
    return net


def module_interpolate(
    model_a: Any,
    model_b: Any,
    data: Any,
    *,
    n_points: int,
    repair: bool,
    repair_x: Any,
    loss: str,
    reset_bn: Any,
    spec: Any,
    build: Any,
) -> Curve:
    """``interpolate`` for two nn.Modules (or state_dicts with ``build``): one pair."""
    refuse_mixed(model_a, model_b)
    ma, mb = as_module(model_a, build, "model_a"), as_module(model_b, build, "model_b")
    same_layout(ma, mb)
    like = _first_param(ma)
    splits = data if isinstance(data, Mapping) else {"data": data}
    evals = {str(k): batches(v, like, f"data split {k!r}", labels=True) for k, v in splits.items()}
    reset = None if reset_bn is None else batches(reset_bn, like, "`reset_bn`", labels=False)
    plan = None
    if repair:
        spec = need_spec(spec, model_a, "model_a")
        spec.fit(ma.state_dict(), "model_a")
        source = repair_x if repair_x is not None else next(iter(splits.values()))
        rdata = batches(source, like, "`repair_x`", labels=False)
        plan = (endpoints(ma, mb, reset, rdata, spec), rdata, spec)
    lambdas = np.linspace(0.0, 1.0, n_points)
    rows: dict[str, list[float]] = {}
    for lam in lambdas:
        net = point(ma, mb, float(lam), reset, plan)
        for split, source_ in evals.items():
            for key, value in evaluate(net, source_, loss).items():
                rows.setdefault(f"{split}_{key}", []).append(value)
    return Curve(lambdas, {k: np.asarray([v], dtype=np.float64) for k, v in rows.items()}, repair)


def repair(
    model_a: Any,
    model_b: Any,
    x: Any,
    *,
    lam: float = 0.5,
    spec: Any = None,
    reset_bn: Any = None,
    build: Any = None,
) -> Any:
    """The network at ``λ`` on the line from A to B, with REPAIR (Jordan et al., 2022).

    Each repaired channel's pre-activation mean and std on ``x`` become the interpolation of
    A's and B's: ``(1 − λ) μ_A + λ μ_B`` and ``(1 − λ) σ_A + λ σ_B``.

    Args:
        model_a, model_b: MLP / SmallCNN models (pairs as in :func:`interpolate`), or two
            ``nn.Module`` networks (or state_dicts with ``build``) with their ``spec`` — B
            already aligned to A (``permute(model_b, weights(...).perms, spec=spec)``).
        x: the inputs on which the statistics are measured (a tensor, ``(x, y)``, or an
            iterable of batches).
        lam: the point on the line, in [0, 1].
        spec: the :class:`~unitscope.match.PermutationSpec` of an ``nn.Module`` (its repair
            points are the hooked layers).
        reset_bn: inputs on which BatchNorm statistics are recomputed first (nn.Module only).
        build: for state_dicts: a function returning a new model to load them into.

    Returns:
        A new model (an ``nn.Module`` in eval mode, or a P-member unitscope model).
    """
    if not 0.0 <= float(lam) <= 1.0:
        raise UnitscopeError(f"`lam` must be in [0, 1], got {lam}.")
    if isinstance(model_a, UnitModel) and isinstance(model_b, UnitModel):
        a, b = pair_models(model_a, model_b)
        if not _is_array(x):
            raise UnitscopeError(f"`x` must be an array of inputs, got {type(x).__name__}.")
        rx = _tensor(x, next(a.parameters()))
        lambdas = np.array([float(lam)])
        net = copy.deepcopy(a).load_params(line_params(a, b, lambdas, slice(0, a.members)))
        stats = (preact_stats(a, rx), preact_stats(b, rx), rx)
        return repair_members(net, stats, lambdas, slice(0, a.members))
    refuse_mixed(model_a, model_b)
    spec = need_spec(spec, model_a, "model_a")
    ma, mb = as_module(model_a, build, "model_a"), as_module(model_b, build, "model_b")
    same_layout(ma, mb)
    spec.fit(ma.state_dict(), "model_a")
    like = _first_param(ma)
    data = batches(x, like, "`x`", labels=False)
    reset = None if reset_bn is None else batches(reset_bn, like, "`reset_bn`", labels=False)
    return point(ma, mb, float(lam), reset, (endpoints(ma, mb, reset, data, spec), data, spec))
