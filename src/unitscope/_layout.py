"""Which axis of an activation tensor is what: said by a layout string, never guessed.

A (N, 65, 192) tensor may be a ViT's tokens (65 tokens of 192 features) or a 1-D conv map
(65 channels at 192 positions); a (N, 7, 7, 768) tensor may be a channels-last ConvNeXt map or
a channels-first one with 7 channels. Reading either the wrong way gives numbers that look
fine and mean nothing, so every tensor of more than two axes needs a ``layout``: one capital
letter per axis,

=========== ==============================================================================
``N``       samples (exactly one)
``C``/``D`` units: channels or features (exactly one of the two)
``K``       members of an ensemble (only where a function takes a member axis)
any other   a position: ``H``, ``W`` (image), ``T`` (tokens, time), ``L`` (length)
=========== ==============================================================================

so ``"NCHW"`` (torch conv maps), ``"NHWC"`` (channels-last), ``"NTD"`` (transformer tokens),
``"TND"`` (sequence-first RNN outputs), ``"NCL"`` (1-D conv) and ``"ND"`` (dense) all parse.
A 2-D tensor is ``"ND"`` unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import UnitscopeError

LAYOUTS = ("ND", "NCHW", "NHWC", "NTD", "NCL")  # the common ones, named in messages
_CANDIDATES = {3: ("NCL", "NTD"), 4: ("NCHW", "NHWC")}
_KCANDIDATES = {3: ("KND",), 4: ("KNCL", "KNTD"), 5: ("KNCHW", "KNHWC")}
_WHAT = {"ND": "units", "NCL": "1-D conv maps", "NTD": "tokens", "NCHW": "maps", "NHWC": "maps"}
_GRAMMAR = "one letter per axis: N samples, C or D units, K members, others positions (H, W, T)"


@dataclass(frozen=True)
class Layout:
    """A parsed layout: the axis of samples, units, members (or None) and positions.

    ``order`` lists the axes as (K, N, positions..., units), the order every reader wants.
    """

    text: str
    samples: int
    units: int
    members: int | None
    positions: tuple[int, ...]

    @property
    def order(self) -> tuple[int, ...]:
        lead = () if self.members is None else (self.members,)
        return (*lead, self.samples, *self.positions, self.units)


def parse_layout(layout: Any, ndim: int, name: str, *, members: bool = False) -> Layout:
    """Parse ``layout`` for a ``ndim``-D tensor called ``name``; one clear line if it is wrong.

    >>> parse_layout("NHWC", 4, "acts").order
    (0, 1, 2, 3)
    >>> parse_layout("NCHW", 4, "acts").order
    (0, 2, 3, 1)
    """
    if not isinstance(layout, str) or not layout.isalpha() or not layout.isupper():
        raise UnitscopeError(
            f"`layout` must be a string of capital letters such as 'NCHW', got {layout!r} "
            f"({_GRAMMAR})."
        )
    if len(set(layout)) != len(layout):
        raise UnitscopeError(f"layout {layout!r} names an axis twice ({_GRAMMAR}).")
    if len(layout) != ndim:
        raise UnitscopeError(
            f"layout {layout!r} names {len(layout)} axes but `{name}` has {ndim}; give one "
            f"letter per axis ({_GRAMMAR})."
        )
    unit_axes = [i for i, c in enumerate(layout) if c in "CD"]
    if "N" not in layout or len(unit_axes) != 1:
        raise UnitscopeError(
            f"layout {layout!r} needs exactly one N (samples) and one C or D (units), "
            f"e.g. 'NCHW' or 'NTD'."
        )
    if "K" in layout and not members:
        raise UnitscopeError(
            f"layout {layout!r} has a member axis K, which `{name}` does not take here; "
            "pass one member's activations."
        )
    k = layout.index("K") if "K" in layout else None
    special = {layout.index("N"), unit_axes[0], *(() if k is None else (k,))}
    positions = tuple(i for i in range(ndim) if i not in special)
    return Layout(layout, layout.index("N"), unit_axes[0], k, positions)


def require_layout(
    shape: tuple[int, ...], layout: Any, name: str, *, members: bool = False
) -> Layout:
    """The layout of a tensor of ``shape``: ``layout`` parsed, ``"ND"`` for 2-D, or an error.

    Only a 2-D tensor (and, with ``members``, nothing else) has an obvious layout; for more
    axes the caller must say, and the error names the layouts that fit the shape.
    """
    ndim = len(shape)
    if layout is not None:
        return parse_layout(layout, ndim, name, members=members)
    if ndim == 2:
        return parse_layout("ND", 2, name)
    raise ambiguous(shape, name, members=members)


def ambiguous(shape: tuple[int, ...], name: str, *, members: bool = False) -> UnitscopeError:
    """The error for a tensor whose layout was not given: which layouts fit, how to pass one."""
    ndim = len(shape)
    fits = [*_CANDIDATES.get(ndim, ()), *(_KCANDIDATES.get(ndim, ()) if members else ())]
    if fits:
        could = "could be " + " or ".join(f"{_what(c)} (layout={c!r})" for c in fits)
    else:
        could = f"has no default layout (common ones: {', '.join(LAYOUTS)})"
    return UnitscopeError(
        f"`{name}` has shape {tuple(shape)}: a {ndim}-D tensor {could}; unitscope never "
        f"guesses which axis holds the units, so pass layout= ({_GRAMMAR})."
    )


def _what(layout: str) -> str:
    """``(K, N, C, H, W) maps`` for ``"KNCHW"``."""
    return f"({', '.join(layout)}) {_WHAT[layout.lstrip('K')]}"


def layout_for(name: str, ndim: int, layout: Any) -> Any:
    """The layout of layer ``name`` from a per-call ``layout``: a string for every tensor of
    that many axes (2-D tensors stay ``"ND"``), or a dict layer → layout."""
    if isinstance(layout, Mapping):
        return layout.get(name)
    if layout is None or ndim == 2:
        return None
    if isinstance(layout, str) and len(layout) != ndim:
        raise UnitscopeError(
            f"layer {name!r} outputs {ndim}-D tensors but layout={layout!r} names "
            f"{len(layout)} axes; pass a dict layer → layout, e.g. layout={{{name!r}: ...}}."
        )
    return layout
