"""How the tracer reads each kind of ``torch.nn`` module (the leaves of a ``torch.fx`` graph)."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import nn
from torch.fx import Node

from ._trace_vars import Label, Seg, UnitVars, args_of, kwargs_of, reshape_label, shape_of


def _types(*names: str) -> tuple[type, ...]:
    """The ``torch.nn`` classes (or private base classes) of these names that exist."""
    found = []
    for name in names:
        for space in (nn, nn.modules.pooling, nn.modules.padding, nn.modules.batchnorm):
            if hasattr(space, name):
                found.append(getattr(space, name))
                break
    return tuple(found)


ELEMENTWISE = _types(
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus", "Softsign", "Tanhshrink",
    "LogSigmoid", "Identity", "Dropout", "AlphaDropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "FeatureAlphaDropout", "Softmax", "LogSoftmax", "Softmin", "Threshold", "Hardshrink",
    "Softshrink",
)  # fmt: skip
SPATIAL = _types(
    "_MaxPoolNd", "_AvgPoolNd", "_AdaptiveAvgPoolNd", "_AdaptiveMaxPoolNd", "_LPPoolNd",
    "Upsample", "_ConstantPadNd", "_ReflectionPadNd", "_ReplicationPadNd", "_CircularPadNd",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
)  # fmt: skip
CHANNEL_NORMS = _types("_NormBase")  # BatchNorm*, InstanceNorm*, SyncBatchNorm
CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
LAYERS = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)
TRANSFORMERS = (*LAYERS, nn.TransformerEncoder, nn.TransformerDecoder, nn.Transformer)
NORMS = (*CHANNEL_NORMS, nn.LayerNorm, nn.GroupNorm)


class ModuleRules:
    """One rule per module kind; each returns the label of the module's output."""

    def __init__(self, model: nn.Module, vars_: UnitVars) -> None:
        self.model = model
        self.vars = vars_
        self.params = {n for n, _ in model.named_parameters()}
        self.state_keys = set(model.state_dict())
        self.outputs: dict[str, int] = {}  # module -> its output variable (reused modules)
        self.notes: dict[str, str] = {}  # module -> why it stays in place
        self.points: list[tuple[str, int, Label]] = []  # REPAIR points

    def val(self, arg: Any) -> Any:
        raise NotImplementedError

    def register(self, tensor: str, axis: int, segs: tuple[Seg, ...]) -> None:
        """Axis ``axis`` of ``tensor`` holds ``segs`` (``()``: nothing permuted on it)."""
        if tensor in self.state_keys:
            self.vars.register(tensor, axis, segs, tensor in self.params)

    def fix(self, lab: Any, reason: str) -> None:
        if isinstance(lab, Label):
            self.vars.fix([s[0] for s in lab.segs], reason)

    def out_var(self, name: str, size: int) -> tuple[Seg, ...]:
        if name not in self.outputs:
            self.outputs[name] = self.vars.new(size, name)
        return ((self.outputs[name], 0, 1),)

    def own(self, name: str, m: nn.Module, segs: tuple[Seg, ...], which=("weight", "bias")):
        """Register axis 0 of the module's own per-unit tensors."""
        for p in which:
            if getattr(m, p, None) is not None:
                self.register(f"{name}.{p}", 0, segs)

    def module(self, node: Node, m: nn.Module) -> Any:
        name = str(node.target)
        x = args_of(node)[0] if args_of(node) else None
        lab = self.val(x)
        meta = x.meta.get("tensor_meta") if isinstance(x, Node) else None
        nd = len(meta.shape) if meta is not None and hasattr(meta, "shape") else 0
        if isinstance(m, ELEMENTWISE):
            return lab
        if isinstance(m, SPATIAL):
            if lab is not None and (lab.dim != 1 or nd < 3):
                self.fix(lab, f"{name} ({type(m).__name__}) runs along the unit axis")
            return lab
        if isinstance(m, nn.Linear):
            return self.linear(node, name, m, lab, nd)
        if isinstance(m, CONVS):
            return self.conv(node, name, m, lab)
        if isinstance(m, CHANNEL_NORMS + (nn.GroupNorm, nn.PReLU)):
            return self.channelwise(name, m, lab)
        if isinstance(m, nn.LayerNorm):
            return self.layer_norm(name, m, lab, nd)
        if isinstance(m, nn.Embedding):
            segs = self.out_var(name, m.embedding_dim)
            self.register(f"{name}.weight", 1, segs)
            out = node.meta.get("tensor_meta")
            return Label(len(out.shape) - 1, segs) if out is not None else None
        if isinstance(m, (nn.Flatten, nn.Unflatten)) and lab is not None:
            return self.reshape_module(node, name, lab)
        if isinstance(m, TRANSFORMERS):
            return self.transformer(name, m, node)
        return self.unknown(name, m, node)

    def transformer(self, name: str, m: nn.Module, node: Node) -> None:
        """``torch.nn``'s transformer layers (and stacks of them), read whole: the hidden
        units of each layer's feed-forward block (``linear1`` → activation → ``linear2``) are
        a group; attention keeps the embedding axis, so the inputs and outputs stay in place."""
        self.keep_in_place(
            name,
            m,
            node,
            f"{type(m).__name__}: attention keeps the embedding axis in place (only the "
            "feed-forward units inside are permuted)",
        )
        layers = [(name, m)] if isinstance(m, LAYERS) else []
        layers += [(f"{name}.{n}", s) for n, s in m.named_modules() if n and isinstance(s, LAYERS)]
        for prefix, layer in layers:
            act = getattr(layer, "activation", None)
            if not (act in (F.relu, F.gelu) or isinstance(act, ELEMENTWISE)):
                continue  # a custom activation may mix units: the layer stays as it is
            segs = self.out_var(f"{prefix}.linear1", layer.linear1.out_features)
            self.own(f"{prefix}.linear1", layer.linear1, segs)
            self.register(f"{prefix}.linear2.weight", 1, segs)
        return None

    def reshape_module(self, node: Node, name: str, lab: Label) -> Any:
        try:
            return reshape_label(lab, shape_of(args_of(node)[0]) or (), shape_of(node) or ())
        except ValueError:
            self.fix(lab, f"{name} splits the unit axis")
            return None

    def unknown(self, name: str, m: nn.Module, node: Node) -> None:
        kind = type(m).__name__
        reason = f"{kind} is not understood by the tracer: its inputs and outputs stay in place"
        if isinstance(m, nn.MultiheadAttention):
            reason = "attention: heads and the embedding axis are not permuted"
        self.keep_in_place(name, m, node, reason)
        return None

    def keep_in_place(self, name: str, m: nn.Module, node: Node, reason: str) -> None:
        """The module's inputs (and so its outputs' producers) stay in place, with ``reason``;
        a module with weights is listed among what is kept."""
        for arg in (*args_of(node), *kwargs_of(node).values()):
            self.fix(self.val(arg), f"{name}: {reason}")
        if any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
            self.notes[name] = reason

    def point(self, node: Node, name: str, dim: int, out: Label) -> None:
        """REPAIR renormalizes the output of ``name``, or of the norm that alone reads it."""
        users = list(node.users)
        if len(users) == 1 and users[0].op == "call_module":
            follower = self.model.get_submodule(str(users[0].target))
            affine = getattr(follower, "weight", None)
            flat = not isinstance(follower, nn.LayerNorm) or len(follower.normalized_shape) == 1
            if isinstance(follower, NORMS) and affine is not None and flat:
                name = str(users[0].target)
        self.points.append((name, dim, out))

    def linear(self, node: Node, name: str, m: nn.Linear, lab: Any, nd: int) -> Label:
        if lab is not None and lab.dim != nd - 1:
            self.fix(lab, f"{name} (Linear) reads axis {nd - 1}, the units are on axis {lab.dim}")
            lab = None
        self.register(f"{name}.weight", 1, lab.segs if lab is not None else ())
        out = Label(nd - 1, self.out_var(name, m.out_features))
        self.own(name, m, out.segs)
        self.point(node, name, nd - 1, out)
        return out

    def conv(self, node: Node, name: str, m: Any, lab: Any) -> Label | None:
        groups, c_in, c_out = m.groups, m.in_channels, m.out_channels
        if lab is not None and lab.dim != 1:
            self.fix(lab, f"{name} reads axis 1, the units are on axis {lab.dim}")
            lab = None
        if groups == 1:
            self.register(f"{name}.weight", 1, lab.segs if lab is not None else ())
            out = Label(1, self.out_var(name, c_out))
        elif groups == c_in and c_out % c_in == 0:  # depthwise: the permutation passes
            if lab is None:
                self.own(name, m, ())  # read unpermuted (a second call must agree)
                return None
            k = c_out // c_in
            out = Label(1, tuple((v, o * k, b * k) for v, o, b in lab.segs))
        else:
            reason = f"grouped convolution (groups={groups}): channels stay in place"
            self.fix(lab, f"{name}: {reason}")
            self.notes[name] = reason
            return None
        self.own(name, m, out.segs)
        self.point(node, name, 1, out)
        return out

    def channelwise(self, name: str, m: nn.Module, lab: Any) -> Any:
        if lab is None:
            self.own(name, m, (), ("weight", "bias", "running_mean", "running_var"))
            return None
        if lab.dim != 1:
            self.fix(lab, f"{name} ({type(m).__name__}) acts on axis 1, the units are on {lab.dim}")
            return lab
        if isinstance(m, nn.GroupNorm) and 1 < m.num_groups < m.num_channels:
            reason = f"GroupNorm with {m.num_groups} groups mixes the channels of each group"
            self.fix(lab, f"{name}: {reason}")
            self.notes[name] = reason
            return lab
        if isinstance(m, nn.PReLU) and m.num_parameters == 1:
            return lab
        self.own(name, m, lab.segs, ("weight", "bias", "running_mean", "running_var"))
        return lab

    def layer_norm(self, name: str, m: nn.LayerNorm, lab: Any, nd: int) -> Any:
        first = nd - len(m.normalized_shape)
        if lab is not None and lab.dim >= first:
            for p in ("weight", "bias"):
                if getattr(m, p, None) is not None:
                    self.register(f"{name}.{p}", lab.dim - first, lab.segs)
        return lab
