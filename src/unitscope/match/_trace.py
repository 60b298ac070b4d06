"""Trace any ``nn.Module`` with ``torch.fx`` into a :class:`PermutationSpec`.

The graph is walked once, input to output. Each traced value carries a :class:`Label` (which
axis holds units, made of which variables) or None (nothing permutable on it). Linear, conv
and embedding modules create variables; BatchNorm, LayerNorm, GroupNorm (1 group or one per
channel), PReLU, depthwise convolutions and parameters added or multiplied in place register
their axes on the variables they see; activations, pooling, dropout and softmax pass labels
through; a reshape moves them (a flatten turns a channel into a block of ``H * W`` features);
a residual addition or a product of two branches joins them; a concatenation lays them side by
side. Anything else fixes the units it touches, with the reason, and the model's outputs are
always fixed. Shapes come from one run on an example input (``ShapeProp``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.fx import Node, symbolic_trace
from torch.fx.passes.shape_prop import ShapeProp

from .._errors import UnitscopeError
from ._spec import PermutationSpec, as_args
from ._trace_module import ModuleRules
from ._trace_vars import (
    Label,
    Seg,
    UnitVars,
    args_of,
    kwargs_of,
    repair_points,
    reshape_label,
    shape_of,
)

UNARY = {
    "relu", "relu6", "gelu", "silu", "elu", "selu", "celu", "leaky_relu", "hardswish",
    "hardsigmoid", "hardtanh", "mish", "softplus", "softsign", "sigmoid", "tanh", "exp", "log",
    "abs", "neg", "clamp", "clip", "dropout", "alpha_dropout", "dropout1d", "dropout2d",
    "dropout3d", "feature_alpha_dropout", "contiguous", "clone", "float", "double", "half",
    "bfloat16", "to", "type", "type_as", "detach", "softmax", "log_softmax", "sqrt", "rsqrt",
    "square", "erf", "sin", "cos", "logsigmoid", "tanhshrink", "threshold", "reciprocal",
    "sign", "expm1", "log1p", "nan_to_num", "hardshrink", "softshrink",
}  # fmt: skip
BINARY = {"add", "sub", "mul", "truediv", "div", "true_divide", "maximum", "minimum", "pow",
          "rsub", "iadd", "isub", "imul", "itruediv"}  # fmt: skip
SPATIAL = {
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "interpolate",
    "upsample",
}  # fmt: skip
RESHAPE = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "view_as", "unflatten",
           "expand", "expand_as"}  # fmt: skip
REDUCE = {"mean", "sum", "amax", "amin", "std", "var", "logsumexp", "nansum", "nanmean"}
SIZE = {"size", "dim", "numel", "ndimension", "getattr"}


def permutation_spec(
    model: nn.Module, example: Any, *, check: bool = True, seed: int = 0
) -> PermutationSpec:
    """Trace ``model`` into the groups of units that can be permuted together.

    Args:
        model: any ``nn.Module`` that ``torch.fx.symbolic_trace`` can trace.
        example: an input batch (a tensor, or a tuple of positional inputs) that runs through
            the model; it gives the shapes (e.g. the ``H * W`` of a flattened channel).
        check: run the self-check (:meth:`PermutationSpec.check`): random permutations of
            every group must leave the outputs unchanged (float64, eval mode).
        seed: seed of the self-check's permutations.

    Returns:
        The :class:`PermutationSpec`; ``spec.fixed`` says what stays in place and why (the
        model's outputs; attention; grouped convolutions; operations the tracer does not know).

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 3))
        >>> spec = permutation_spec(net, torch.randn(2, 4))
        >>> spec.sizes, spec.fixed
        ({'0': 8, '2': 8}, {'3': 'model output'})
    """
    if not isinstance(model, nn.Module):
        raise UnitscopeError(f"`model` must be a torch nn.Module, got {type(model).__name__}.")
    name = type(model).__name__
    net = copy.deepcopy(model).eval()
    try:
        graph = symbolic_trace(net)
    except Exception as err:  # noqa: BLE001 - every tracing failure becomes one line
        raise UnitscopeError(
            f"cannot trace {name} with torch.fx ({_first_line(err)}); control flow or "
            "Python calls that depend on the input cannot be traced — write that part without "
            "them, or write the PermutationSpec by hand."
        ) from None
    try:
        with torch.no_grad():
            ShapeProp(graph).propagate(*as_args(example))
    except Exception as err:  # noqa: BLE001
        raise UnitscopeError(
            f"the example input does not run through {name} ({_first_line(err)}); pass a "
            "batch the model accepts."
        ) from None
    spec = Tracer(net).run(graph.graph.nodes)
    if check:
        spec.check(model, example, seed=seed)
    return spec


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 160 else line[:157] + "..."


class Tracer(ModuleRules):
    """Walks the graph; module rules in :class:`ModuleRules`, function rules here."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model, UnitVars())
        self.values: dict[Node, Any] = {}

    def run(self, nodes: Any) -> PermutationSpec:
        for node in nodes:
            self.values[node] = self.visit(node)
        groups, roots = self.vars.groups()
        fixed = self.vars.fixed()
        fixed.update({k: v for k, v in self.notes.items() if k not in fixed})
        state = self.model.state_dict()
        return PermutationSpec(
            groups=groups,
            fixed=fixed,
            shapes={k: tuple(v.shape) for k, v in state.items()},
            params=tuple(n for n, _ in self.model.named_parameters()),
            repair=repair_points(self.points, self.vars, roots),
        )

    def val(self, arg: Any) -> Any:
        return self.values.get(arg) if isinstance(arg, Node) else None

    def labels(self, value: Any) -> Iterator[Label]:
        """Every label inside a value (nested tuples, lists, dicts and nodes)."""
        if isinstance(value, Label):
            yield value
        elif isinstance(value, Node):
            yield from self.labels(self.values.get(value))
        elif isinstance(value, (tuple, list)):
            for v in value:
                yield from self.labels(v)
        elif isinstance(value, dict):
            for v in value.values():
                yield from self.labels(v)

    def fix_all(self, value: Any, reason: str) -> None:
        for label in self.labels(value):
            self.vars.fix([s[0] for s in label.segs], reason)

    def visit(self, node: Node) -> Any:
        if node.op in ("placeholder", "get_attr"):
            return None
        if node.op == "output":
            self.fix_all(args_of(node), "model output")
            return None
        if node.op == "call_module":
            return self.module(node, self.model.get_submodule(str(node.target)))
        name = node.target if isinstance(node.target, str) else node.target.__name__
        return self.function(node, name.strip("_").removesuffix("_"))

    def generic(self, node: Node, what: str) -> Any:
        if "tensor_meta" in node.meta or any(
            True for _ in self.labels((args_of(node), kwargs_of(node)))
        ):
            self.fix_all(
                (args_of(node), kwargs_of(node)), f"{what} is not understood by the tracer"
            )
        return None

    def function(self, node: Node, name: str) -> Any:
        x = args_of(node)[0] if args_of(node) else None
        lab, shape_in, shape_out = self.val(x), shape_of(x), shape_of(node)
        if name in SIZE:
            return None
        if name == "getitem":
            return self.getitem(node, x, lab, shape_in)
        if not any(True for _ in self.labels((args_of(node), kwargs_of(node)))):
            return None
        where = f"`{name}` ({node.name})"
        if name in UNARY and (name == "type_as" or not list(self.labels(args_of(node)[1:]))):
            return lab
        if name in BINARY:
            return self.binary(node, where)
        if name in ("cat", "concat", "concatenate"):
            return self.cat(node, where)
        if lab is None or shape_in is None or shape_out is None:
            return self.generic(node, where)
        if name in SPATIAL:
            return lab if lab.dim == 1 and len(shape_in) >= 3 else self.generic(node, where)
        if name in RESHAPE:
            return self.reshape(lab, shape_in, shape_out, where)
        if name in REDUCE:
            return self.reduce(node, lab, len(shape_in), where)
        if name in ("permute", "transpose", "t", "swapaxes"):
            return self.move_axes(node, name, lab, len(shape_in))
        if name == "pad" and len(args_of(node)) > 1 and isinstance(args_of(node)[1], (tuple, list)):
            padded = len(shape_in) - len(args_of(node)[1]) // 2
            return lab if lab.dim < padded else self.generic(node, where)
        return self.generic(node, where)

    def reshape(self, lab: Label, shape_in: Any, shape_out: Any, where: str) -> Label | None:
        try:
            return reshape_label(lab, shape_in, shape_out)
        except ValueError:
            self.vars.fix([s[0] for s in lab.segs], f"{where} splits the unit axis")
            return None

    def reduce(self, node: Node, lab: Label, nd: int, where: str) -> Label | None:
        dims = args_of(node)[1] if len(args_of(node)) > 1 else kwargs_of(node).get("dim")
        if dims is None:
            return None  # reduced to a scalar: invariant
        if not isinstance(dims, (tuple, list)):
            dims = [dims]
        if not all(isinstance(d, int) for d in dims):
            return self.generic(node, where)
        dims = [d % nd for d in dims]
        if lab.dim in dims:
            return None  # summed over the units: invariant
        keep = kwargs_of(node).get("keepdim", args_of(node)[2] if len(args_of(node)) > 2 else False)
        return Label(lab.dim - (0 if keep else sum(d < lab.dim for d in dims)), lab.segs)

    def move_axes(self, node: Node, name: str, lab: Label, nd: int) -> Label | None:
        args = [a for a in args_of(node)[1:]]
        if name == "permute":
            order = list(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
            order = [d % nd for d in order]
            return Label(order.index(lab.dim), lab.segs)
        a, b = (args[0] % nd, args[1] % nd) if len(args) == 2 else (0, 1)
        swap = {a: b, b: a}
        return Label(swap.get(lab.dim, lab.dim), lab.segs)

    def getitem(self, node: Node, x: Any, lab: Any, shape_in: Any) -> Any:
        index = args_of(node)[1]
        if isinstance(lab, (tuple, list)):
            return lab[index] if isinstance(index, int) else None
        if lab is None or not isinstance(lab, Label) or shape_in is None:
            return None
        items = list(index) if isinstance(index, tuple) else [index]
        if any(it is Ellipsis for it in items):
            at = items.index(Ellipsis)
            used = sum(it is not None and it is not Ellipsis for it in items)
            items[at : at + 1] = [slice(None)] * (len(shape_in) - used)
        d_in = d_out = 0
        new = None
        for it in items:
            if it is None:
                d_out += 1
                continue
            full = isinstance(it, slice) and it.step in (None, 1) and it.start in (None, 0)
            full = full and (
                it.stop is None or (isinstance(it.stop, int) and it.stop >= shape_in[d_in])
            )
            if d_in == lab.dim and not full or not isinstance(it, (slice, int)):
                return self.generic(node, f"indexing ({node.name})")
            if d_in == lab.dim:
                new = d_out
            d_in += 1
            d_out += isinstance(it, slice)
        return Label(new if new is not None else d_out + lab.dim - d_in, lab.segs)

    def binary(self, node: Node, where: str) -> Label | None:
        out = shape_of(node)
        operands = [a for a in args_of(node)[:2] if shape_of(a) is not None]
        labeled = [(a, self.val(a)) for a in operands if isinstance(self.val(a), Label)]
        if out is None or not labeled:
            return self.generic(node, where)
        nd = len(out)
        dims = [lab.dim + nd - len(shape_of(a) or ()) for a, lab in labeled]
        if len(labeled) == 2:
            (_, la), (_, lb) = labeled
            if dims[0] != dims[1]:
                self.fix_all([la, lb], f"{where} combines two different unit axes")
                return None
            self.vars.join(la.segs, lb.segs, where)
            return Label(dims[0], la.segs)
        (a, lab), d = labeled[0], dims[0]
        for other in operands:
            if other is a:
                continue
            sh = shape_of(other) or ()
            od = d - (nd - len(sh))
            if od < 0 or sh[od] == 1:
                continue
            if other.op == "get_attr" and str(other.target) in self.state_keys:
                self.register(str(other.target), od, lab.segs)
            else:
                self.vars.fix(
                    [s[0] for s in lab.segs], f"{where} mixes the units with a tensor kept in place"
                )
        return Label(d, lab.segs)

    def cat(self, node: Node, where: str) -> Label | None:
        pieces = list(args_of(node)[0]) if args_of(node) else []
        out = shape_of(node)
        if out is None:
            return self.generic(node, where)
        dim = (args_of(node)[1] if len(args_of(node)) > 1 else kwargs_of(node).get("dim", 0)) % len(
            out
        )
        labs = [self.val(p) for p in pieces]
        shapes = [shape_of(p) or () for p in pieces]
        if all(lab is None or lab.dim == dim for lab in labs):
            segs: list[Seg] = []
            offset = 0
            for lab, sh in zip(labs, shapes):
                segs += [(v, o + offset, b) for v, o, b in (lab.segs if lab else ())]
                offset += sh[dim]
            return Label(dim, tuple(segs))
        first = next(lab for lab in labs if lab is not None)
        if any(lab is None or lab.dim != first.dim for lab in labs):
            self.fix_all(labs, f"{where} joins pieces that do not carry the same units")
            return None
        for lab in labs[1:]:
            self.vars.join(first.segs, lab.segs, where)
        return first
