"""Counter-based randomness: the same (seed, step, index) always gives the same number.

Dropout masks and minibatch orders are computed from a hash of (member seed, counter, index)
rather than drawn from a shared generator. Member k's random draws therefore depend only on
its own seeds: a batched ensemble sees exactly the minibatches and dropout masks of K
separate runs, and no Python loop over members is needed. (The arithmetic of a batched
product may still round differently from an unbatched one: invisible in float64, ~1e-7 a step
in float32, where training can grow it to a drift of ~1e-3; see docs/architecture.md.)
"""

from __future__ import annotations

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31 keep every product of a 32-bit value inside int64.
_M1, _M2, _M3 = 0x7FEB352D, 0x6B43A9B5, 0x2C1B3C6D


def mix32(x: Tensor) -> Tensor:
    """A 32-bit integer hash (xorshift-multiply rounds) of an int64 tensor, elementwise.

    >>> t = torch.arange(4)
    >>> bool((mix32(t) == mix32(t)).all()), len(set(mix32(t).tolist()))
    (True, 4)
    """
    x = x & _MASK32
    for m in (_M1, _M2, _M3):
        x = x ^ (x >> 16)
        x = (x * m) & _MASK32
    return x ^ (x >> 15)


def uniform(seeds: Tensor, counter: int, shape: tuple[int, ...], device=None) -> Tensor:
    """Uniform [0, 1) numbers of shape (K, *shape), member k keyed by ``seeds[k]``.

    Args:
        seeds: (K,) int64 member seeds.
        counter: what distinguishes draws of the same member (step, layer, epoch...).
        shape: per-member shape.
    """
    key = mix32(mix32(seeds.to(device=device, dtype=torch.int64)) ^ mix32(torch.tensor(counter)))
    n = 1
    for s in shape:
        n *= s
    index = torch.arange(n, device=device, dtype=torch.int64)  # (n,)
    h = mix32(key.unsqueeze(1) ^ mix32(index + 0x9E3779B9).unsqueeze(0))  # (K, n)
    return ((h >> 8).to(torch.float64) / float(1 << 24)).reshape(-1, *shape)


def permutations(seeds: Tensor, counter: int, n: int) -> Tensor:
    """One random permutation of range(n) per member, shape (K, n)."""
    return torch.argsort(uniform(seeds, counter, (n,)), dim=1, stable=True)


def counter(*parts: int) -> int:
    """Fold several small integers (step, layer, ...) into one counter."""
    out = 0
    for p in parts:
        out = (out * 1_000_003 + int(p)) & 0x7FFFFFFF
    return out
