"""Controlled initializations: random schemes, identical units, identical plus a perturbation.

Every member k draws from its own generator seeded with ``seeds[k]``, so member k of a batched
ensemble starts exactly where a K=1 run with the same seed starts.

Schemes for the weights (biases start at zero except for ``uniform``):

=================== =========================================================================
``kaiming``         N(0, g^2 / fan_in), g from the activation (relu sqrt 2, tanh 5/3)
``xavier``          N(0, g^2 * 2 / (fan_in + fan_out))
``orthogonal``      g * a random orthogonal matrix (rows or columns orthonormal)
``normal``          N(0, scale^2)
``uniform``         U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases (PyTorch default)
``zeros``           all zeros
``symmetric``       ``base`` draws one unit; every unit of the chosen layers is a copy of it:
                    same incoming weights, same bias, same outgoing weights
``symmetric_eps``   ``symmetric``, then Gaussian noise of std eps * RMS(tensor) on each
                    tensor that was made symmetric
``incoming_symmetric`` incoming weights and bias identical, outgoing weights random
``checkpoint``      parameters read from a safetensors file or a recording folder
=================== =========================================================================

``gain`` multiplies every weight a random scheme draws (also the template unit of the
symmetric schemes), so ``gain=1e-3`` is a kaiming start a thousand times smaller. The scale of
the start decides the regime: near ``gain=1`` units move little from where they started (the
lazy regime); at small gain their incoming weights *condense* onto a few directions early in
training (Luo, Xu, Ma & Zhang 2021). Biases and the ``checkpoint`` scheme are not scaled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ._errors import UnitscopeError, unknown_name
from .models import UnitAxes, UnitModel
from .models._layers import GAINS

RANDOM_SCHEMES = ("kaiming", "xavier", "orthogonal", "normal", "uniform", "zeros")
SYMMETRIC_SCHEMES = ("symmetric", "symmetric_eps", "incoming_symmetric")
SCHEMES = RANDOM_SCHEMES + SYMMETRIC_SCHEMES + ("checkpoint",)

__all__ = ["RANDOM_SCHEMES", "SCHEMES", "SYMMETRIC_SCHEMES", "initialize", "load_checkpoint"]


def initialize(
    model: UnitModel,
    scheme: str = "kaiming",
    *,
    seeds: Sequence[int],
    base: str = "kaiming",
    scale: float = 0.1,
    eps: float = 1e-3,
    gain: float = 1.0,
    layers: Sequence[str] | None = None,
    path: str | None = None,
) -> UnitModel:
    """Set every member's parameters in place and return the model.

    Args:
        model: the model to initialize, with K members.
        scheme: one of :data:`SCHEMES` (see the module docstring).
        seeds: one init seed per member (length K).
        base: random scheme that draws the template unit of the symmetric schemes.
        scale: standard deviation of the ``normal`` scheme.
        eps: relative size of the ``symmetric_eps`` perturbation.
        gain: multiplier (> 0) on every weight a random scheme draws; small gain gives the
            condensed regime, gain 1 the standard one.
        layers: layers made symmetric (default: every studied layer).
        path: file or recording folder of the ``checkpoint`` scheme.

    Example:
        >>> from unitscope.models import MLP
        >>> net = initialize(MLP(2, [4], 1, members=2), "symmetric", seeds=[0, 1])
        >>> w = net.hidden[0].weight            # (K, 4, 2)
        >>> bool((w == w[:, :1]).all()), bool((w[0] != w[1]).any())
        (True, True)
    """
    if scheme not in SCHEMES:
        raise unknown_name("init scheme", scheme, SCHEMES)
    if len(seeds) != model.members:
        raise UnitscopeError(
            f"`seeds` must give one init seed per member: {model.members} members, "
            f"got {len(seeds)} seeds."
        )
    if scheme == "checkpoint":
        if not path:
            raise UnitscopeError(
                "the 'checkpoint' init needs `path` (a .safetensors file or a recording folder)."
            )
        return model.load_params(load_checkpoint(path, model.members))
    if scheme in SYMMETRIC_SCHEMES and base not in RANDOM_SCHEMES:
        raise unknown_name("base init scheme", base, RANDOM_SCHEMES)
    if scale <= 0:
        raise UnitscopeError(f"`scale` must be > 0, got {scale}.")
    if eps < 0:
        raise UnitscopeError(f"`eps` must be >= 0, got {eps}.")
    if not (math.isfinite(gain) and gain > 0):
        raise UnitscopeError(f"`gain` must be a finite number > 0, got {gain}.")
    chosen = list(model.layers) if layers is None else list(layers)
    for name in chosen:
        model.check_layer(name)
    draw_scheme = base if scheme in SYMMETRIC_SCHEMES else scheme
    act = model.spec.get("activation", "relu")
    with torch.no_grad():
        for k, seed in enumerate(seeds):
            gen = torch.Generator().manual_seed(int(seed))
            params = _draw(model, draw_scheme, gen, act, scale)  # name -> per-member tensor
            if gain != 1.0:
                params = {n: v if n.endswith(".bias") else v * gain for n, v in params.items()}
            if scheme in SYMMETRIC_SCHEMES:
                axes = model.unit_axes()
                touched = _symmetrize(params, [axes[n] for n in chosen], scheme)
                if scheme == "symmetric_eps":
                    _perturb(params, touched, eps, gen)
            for name, p in model.named_parameters():
                p[k] = params[name].to(dtype=p.dtype, device=p.device)
    return model


def _fans(shape: torch.Size) -> tuple[int, int]:
    """(fan_in, fan_out) of a per-member weight (out, in) or (out, in, k, k)."""
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _uniform(shape: torch.Size, gen: torch.Generator, bound: float) -> Tensor:
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


def _draw(
    model: UnitModel, scheme: str, gen: torch.Generator, act: str, scale: float
) -> dict[str, Tensor]:
    """One member's parameters, float64, drawn in the model's parameter order."""
    out: dict[str, Tensor] = {}
    for name, p in model.named_parameters():
        shape = p.shape[1:]
        if name.endswith(".bias"):
            fan_in = _fans(model.get_parameter(name[:-5] + ".weight").shape[1:])[0]
            out[name] = (
                _uniform(shape, gen, 1 / math.sqrt(fan_in))
                if scheme == "uniform"
                else torch.zeros(shape, dtype=torch.float64)
            )
            continue
        fan_in, fan_out = _fans(shape)
        gain = 1.0 if name.startswith("out.") else GAINS[act]
        if scheme == "zeros":
            out[name] = torch.zeros(shape, dtype=torch.float64)
        elif scheme == "uniform":
            out[name] = _uniform(shape, gen, 1 / math.sqrt(fan_in))
        else:
            normal = torch.randn(shape, generator=gen, dtype=torch.float64)
            if scheme == "orthogonal":
                out[name] = gain * _orthogonal(normal.reshape(shape[0], -1)).reshape(shape)
            else:
                std = {
                    "kaiming": gain / math.sqrt(fan_in),
                    "xavier": gain * math.sqrt(2.0 / (fan_in + fan_out)),
                    "normal": scale,
                }[scheme]
                out[name] = normal * std
    return out


def _orthogonal(a: Tensor) -> Tensor:
    """Orthonormal rows (or columns, whichever are fewer) from a Gaussian matrix, via QR."""
    transpose = a.shape[0] < a.shape[1]
    q, r = torch.linalg.qr(a.T if transpose else a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # make the decomposition unique
    return q.T if transpose else q


def _symmetrize(params: dict[str, Tensor], layers: list[UnitAxes], scheme: str) -> set[str]:
    """Copy unit 0 onto every unit of each layer; return the names of the tensors touched."""
    touched = set()
    for axes in layers:
        places = axes.incoming if scheme == "incoming_symmetric" else axes.all
        for place in places:
            t = params[place.param]
            axis = place.axis - 1  # per-member tensors have no member axis
            moved = t.movedim(axis, 0)  # (U * block, ...)
            blocks = moved.reshape(axes.n_units, place.block, *moved.shape[1:])
            blocks[:] = blocks[:1].clone()
            params[place.param] = blocks.reshape(moved.shape).movedim(0, axis).contiguous()
            touched.add(place.param)
    return touched


def _perturb(params: dict[str, Tensor], names: set[str], eps: float, gen: torch.Generator) -> None:
    for name in sorted(names):
        t = params[name]
        rms = t.pow(2).mean().sqrt()
        params[name] = t + eps * rms * torch.randn(t.shape, generator=gen, dtype=torch.float64)


def load_checkpoint(path: str | Path, members: int) -> dict[str, Tensor]:
    """Parameters (name -> (K, ...)) from a safetensors file or a recording folder.

    A recording folder gives its last checkpoint. A file holding one member (no member
    axis, or K=1) is repeated for all ``members``; otherwise its K must equal ``members``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    file = path / "recording.safetensors" if path.is_dir() else path
    if not file.is_file():
        raise UnitscopeError(
            f"checkpoint {str(path)!r} not found; give a .safetensors file or a recording folder."
        )
    try:
        raw = load_file(str(file))
    except (SafetensorError, OSError) as err:
        raise UnitscopeError(
            f"checkpoint {str(file)!r} is not a readable safetensors file: {err}"
        ) from None
    if any(k.startswith("params/") for k in raw):
        raw = {k[len("params/") :]: v[-1] for k, v in raw.items() if k.startswith("params/")}
    out = {}
    for name, value in raw.items():
        if value.shape[0] == members:
            out[name] = value
        elif value.shape[0] == 1:
            out[name] = value.expand(members, *value.shape[1:]).clone()
        else:
            raise UnitscopeError(
                f"checkpoint holds {value.shape[0]} members for {name!r} but the model has "
                f"{members}; use K=1 or the same K."
            )
    return out
