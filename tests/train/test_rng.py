"""The int32 hash of ``_rng`` gives the bits of the plain int64 statement, bit for bit."""

from __future__ import annotations

import pytest
import torch

from unitscope.train import _rng

MASK = 0xFFFFFFFF


def mix32_reference(x: torch.Tensor) -> torch.Tensor:
    """The hash written out on int64, one round per line."""
    x = x & MASK
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & MASK
    x = ((x ^ (x >> 16)) * 0x6B43A9B5) & MASK
    x = ((x ^ (x >> 16)) * 0x2C1B3C6D) & MASK
    return x ^ (x >> 15)


def uniform_reference(seeds: torch.Tensor, counter: int, shape: tuple[int, ...]) -> torch.Tensor:
    key = mix32_reference(mix32_reference(seeds) ^ mix32_reference(torch.tensor(counter)))
    n = 1
    for s in shape:
        n *= s
    index = mix32_reference(torch.arange(n) + 0x9E3779B9)
    h = mix32_reference(key.unsqueeze(1) ^ index.unsqueeze(0))  # (K, n)
    return ((h >> 8).to(torch.float64) / float(1 << 24)).reshape(-1, *shape)


SEEDS = torch.tensor([0, 1, 7, 2**31 - 1, 2**32 + 5, 123456789])


@pytest.mark.parametrize("shape", [(1,), (7,), (33, 5), (128, 64), (3, 17, 11)])
@pytest.mark.parametrize("counter", [0, 1, 2**31 - 1, _rng.counter(2, 399, 1)])
def test_uniform_is_the_int64_hash_bit_for_bit(shape, counter):
    want = uniform_reference(SEEDS, counter, shape)
    got = _rng.uniform(SEEDS, counter, shape)
    assert got.shape == want.shape and torch.equal(got, want)


def test_mix32_matches_the_reference_on_many_values():
    x = torch.randint(0, 2**32, (100_003,), generator=torch.Generator().manual_seed(0))
    assert torch.equal(_rng.mix32(x), mix32_reference(x))
    bits = _rng._as_int32(x).clone()
    _rng._mix32_int32_(bits)
    assert torch.equal(bits.to(torch.int64) & MASK, mix32_reference(x))


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 1 / 3, 0.999])
def test_keep_mask_is_uniform_at_least_p_and_transposes(p):
    want = uniform_reference(SEEDS, 42, (19, 6)) >= p
    assert torch.equal(_rng.keep_mask(SEEDS, 42, (19, 6), p), want)
    assert torch.equal(_rng.keep_mask(SEEDS, 42, (19, 6), p, transpose=True), want.transpose(1, 2))


def test_permutations_sort_the_uniform_numbers():
    perm = _rng.permutations(SEEDS, 9, 1000)
    want = torch.argsort(uniform_reference(SEEDS, 9, (1000,)), dim=1, stable=True)
    assert torch.equal(perm, want)
    assert torch.equal(perm.sort(1).values, torch.arange(1000).expand(len(SEEDS), -1))
