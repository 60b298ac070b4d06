"""Counter-based randomness: the same (seed, step, index) always gives the same number.

Dropout masks and minibatch orders are computed from a hash of (member seed, counter, index)
rather than drawn from a shared generator. Member k's random draws therefore depend only on
its own seeds: a batched ensemble sees exactly the minibatches and dropout masks of K
separate runs, and no Python loop over members is needed. (The arithmetic of a batched
product may still round differently from an unbatched one: invisible in float64, ~1e-7 a step
in float32, where training can grow it to a drift of ~1e-3; see docs/architecture.md.)

The hash is 32-bit. :func:`mix32` states it on int64 tensors (every product stays inside
int64); the per-element work of :func:`bits24` runs the same rounds on int32 tensors holding
the 32 bits, where a product wraps around exactly as an unsigned 32-bit product does and a
right shift is made logical by masking. Half the memory traffic and native 32-bit multiplies:
a dropout mask for 64 members x 128 samples x 64 units costs ~1 ms instead of ~10 ms, with
the same bits (tests/train/test_rng.py checks them against :func:`mix32`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31 keep every product of a 32-bit value inside int64.
_M1, _M2, _M3 = 0x7FEB352D, 0x6B43A9B5, 0x2C1B3C6D
_INDEX_OFFSET = 0x9E3779B9
BITS = 24  # uniform numbers are (hash >> 8) / 2**24


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


def _mix32_int32_(x: Tensor) -> Tensor:
    """:func:`mix32` on an int32 tensor holding 32-bit values, in place (same bits)."""
    t = torch.empty_like(x)
    for shift, m in ((16, _M1), (16, _M2), (16, _M3), (15, 1)):
        torch.bitwise_right_shift(x, shift, out=t)
        x ^= t.bitwise_and_((1 << (32 - shift)) - 1)  # a logical shift: no sign copies
        if m != 1:
            x *= m  # wraps modulo 2**32
    return x


def _mix32_host(x: np.ndarray) -> np.ndarray:
    """:func:`mix32` on a few host integers (uint64 numpy): the per-member keys, without a
    dozen tiny device kernels per draw."""
    x = x & _MASK32
    for m in (_M1, _M2, _M3):
        x = x ^ (x >> np.uint64(16))
        x = (x * np.uint64(m)) & _MASK32
    return x ^ (x >> np.uint64(15))


@lru_cache(maxsize=64)
def _seed_hashes(seeds: tuple[int, ...]) -> np.ndarray:
    return _mix32_host(np.array(seeds, dtype=np.int64).astype(np.uint64))


def member_keys(seeds: Tensor, counter: int) -> np.ndarray:
    """The key of each member's draw number ``counter``: mix32(mix32(seed) ^ mix32(counter)),
    (K,) uint64 on the host."""
    c = _mix32_host(np.array([counter], dtype=np.uint64))
    return _mix32_host(_seed_hashes(tuple(seeds.tolist())) ^ c)


def _as_int32(x: Tensor) -> Tensor:
    """int64 values in [0, 2**32) -> int32 tensors with the same 32 bits."""
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


@lru_cache(maxsize=16)
def _index_hash(n: int, device: torch.device) -> Tensor:
    """mix32(index + offset) for index in range(n), as int32 bits: the same for every draw."""
    index = torch.arange(n, device=device, dtype=torch.int64)
    return _as_int32(mix32(index + _INDEX_OFFSET))


def bits24(
    seeds: Tensor, counter: int, shape: tuple[int, ...], device=None, *, transpose: bool = False
) -> Tensor:
    """Random 24-bit integers of shape (K, *shape) as int32, member k keyed by ``seeds[k]``.

    ``uniform`` is ``bits24 / 2**24``. With ``transpose`` (a 2-D ``shape`` (a, b)) the result
    is (K, b, a): the same numbers, laid out transposed.
    """
    device = torch.device(device) if device is not None else seeds.device
    key = member_keys(seeds, counter).astype(np.int64)  # (K,) in [0, 2**32)
    key32 = torch.from_numpy(np.where(key >= 2**31, key - 2**32, key).astype(np.int32))
    index = _index_hash(math.prod(shape), device).view(shape)
    if transpose:
        index = index.t()
    x = key32.to(device).view(-1, *[1] * index.dim()) ^ index  # (K, *shape)
    _mix32_int32_(x)
    x >>= 32 - BITS
    return x.bitwise_and_((1 << BITS) - 1)


def uniform(seeds: Tensor, counter: int, shape: tuple[int, ...], device=None) -> Tensor:
    """Uniform [0, 1) numbers of shape (K, *shape), member k keyed by ``seeds[k]``.

    Args:
        seeds: (K,) int64 member seeds (best kept on the CPU: the keys are made there).
        counter: what distinguishes draws of the same member (step, layer, epoch...).
        shape: per-member shape.
    """
    return bits24(seeds, counter, shape, device).to(torch.float64) / float(1 << BITS)


def keep_mask(
    seeds: Tensor,
    counter: int,
    shape: tuple[int, ...],
    p: float,
    device=None,
    *,
    transpose: bool = False,
) -> Tensor:
    """Dropout's keep decisions, ``uniform(...) >= p``, computed on the integers (K, *shape)."""
    threshold = math.ceil(p * (1 << BITS))  # u >= p  <=>  bits >= p * 2**24 (both exact)
    return bits24(seeds, counter, shape, device, transpose=transpose) >= threshold


def permutations(seeds: Tensor, counter: int, n: int) -> Tensor:
    """One random permutation of range(n) per member, shape (K, n)."""
    return torch.argsort(bits24(seeds, counter, (n,)), dim=1, stable=True)


def counter(*parts: int) -> int:
    """Fold several small integers (step, layer, ...) into one counter."""
    out = 0
    for p in parts:
        out = (out * 1_000_003 + int(p)) & 0x7FFFFFFF
    return out
