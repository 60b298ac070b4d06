"""Weight matching: planted permutations come back exactly; the objective never decreases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.match import invert, permute, random_perms, weights
from unitscope.match._weights import layer_cost
from unitscope.models import MLP


def _recovered(found: dict, planted: dict) -> bool:
    """``found`` undoes ``planted`` in every layer and member."""
    inverse = invert(planted)
    return all(np.array_equal(found[layer], inverse[layer]) for layer in planted)


@pytest.mark.parametrize("width", [8, 32, 512])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_planted_mlp_permutation_is_recovered_exactly(random_mlp, width, depth):
    a = random_mlp(depth, width, K=2, seed=depth)
    planted = random_perms(a, seed=width + depth)
    m = weights(a, permute(a, planted), seed=depth)
    assert _recovered(m.perms, planted)
    assert m.converged
    # the global optimum: J = ||θ||², reached only by the exact inverse
    norm2 = sum(p.pow(2).flatten(1).sum(1) for p in a.param_dict().values()).numpy()
    np.testing.assert_allclose(m.objective, norm2, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_cnn_permutation_is_recovered_exactly(random_cnn, seed):
    a = random_cnn(K=2, seed=seed, channels=(6, 8))
    planted = random_perms(a, seed=seed + 5)
    b = permute(a, planted)
    m = weights(a, b, seed=seed)
    assert _recovered(m.perms, planted)
    x = torch.randn(3, 2, 8, 8, dtype=torch.float64)
    assert (permute(b, m.perms)(x) - a(x)).abs().max() <= 1e-12


@pytest.mark.parametrize("start", ["forward", "identity"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_objective_never_decreases_between_independent_networks(random_mlp, seed, start):
    a, b = random_mlp(3, 10, K=3, seed=seed), random_mlp(3, 10, K=3, seed=seed + 50)
    m = weights(a, b, seed=seed, start=start)
    assert (np.diff(m.trace, axis=0) >= 0).all()
    assert len(m.layer_trace) == len(m.trace) - 1
    # row 0 is the unaligned objective <θ_A, θ_B>, computed here by a plain sum
    plain = sum((a.param_dict()[n] * p).flatten(1).sum(1) for n, p in b.param_dict().items())
    np.testing.assert_allclose(m.trace[0], plain.numpy(), rtol=1e-12)
    # the final value is what the returned permutations score
    moved = permute(b, m.perms).param_dict()
    final = sum((a.param_dict()[n] * p).flatten(1).sum(1) for n, p in moved.items())
    np.testing.assert_allclose(m.objective, final.numpy(), rtol=1e-12)


def test_stops_after_a_sweep_without_improvement(random_mlp):
    a, b = random_mlp(2, 12, K=1, seed=0), random_mlp(2, 12, K=1, seed=9)
    m = weights(a, b, start="identity", seed=3)
    assert m.converged
    last_sweep = m.trace[-len(a.layers) - 1 :, 0]
    assert np.all(last_sweep == last_sweep[0])


def test_layer_cost_matches_a_plain_reference(random_mlp):
    a, b = random_mlp(2, 4, K=1, seed=1), random_mlp(2, 4, K=1, seed=2)
    pa, pb = a.param_dict(), b.param_dict()
    perms = {"hidden.0": torch.tensor([[2, 0, 3, 1]]), "hidden.1": torch.tensor([[1, 0, 3, 2]])}
    cost = layer_cost("hidden.1", pa, pb, a.unit_axes(), perms)[0]
    w1a, w1b = pa["hidden.1.weight"][0], pb["hidden.1.weight"][0][:, [2, 0, 3, 1]]
    ref = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            ref[i, j] = (
                float(w1a[i] @ w1b[j])
                + float(pa["hidden.1.bias"][0, i] * pb["hidden.1.bias"][0, j])
                + float(pa["out.weight"][0][:, i] @ pb["out.weight"][0][:, j])
            )
    np.testing.assert_allclose(cost.numpy(), ref, rtol=1e-12)


def test_identical_models_give_the_identity(random_mlp):
    a = random_mlp(3, 16, K=2)
    m = weights(a, a)
    assert all((p == np.arange(16)).all() for p in m.perms.values())


def test_same_seed_same_answer_and_one_member_broadcasts(random_mlp):
    a, b = random_mlp(2, 10, K=1, seed=0), random_mlp(2, 10, K=3, seed=4)
    m1, m2 = weights(a, b, seed=5), weights(a, b, seed=5)
    assert all(np.array_equal(m1.perms[k], m2.perms[k]) for k in m1.perms)
    assert m1.perms["hidden.0"].shape == (3, 10)
    single = weights(a, b.select([2]), seed=5)
    assert np.array_equal(single.perms["hidden.1"][0], m1.perms["hidden.1"][2])


def test_bad_inputs_are_refused(random_mlp):
    a = random_mlp(1, 4, K=2)
    with pytest.raises(UnitscopeError, match=r"different architectures \(kind='mlp', hidden=\[4\]"):
        weights(a, random_mlp(1, 5, K=2))
    with pytest.raises(UnitscopeError, match="model A has 2 members and model B 3"):
        weights(a, random_mlp(1, 4, K=3))
    with pytest.raises(UnitscopeError, match="`max_sweeps` must be >= 1, got 0"):
        weights(a, a, max_sweeps=0)
    with pytest.raises(UnitscopeError, match="`start` must be one of"):
        weights(a, a, start="random")
    with pytest.raises(UnitscopeError, match="must be a unitscope model"):
        weights(a, torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_widths_must_agree_even_if_names_do():
    a, b = MLP(3, [4], 2), MLP(3, [4], 2, activation="tanh")
    with pytest.raises(UnitscopeError, match="activation='relu'.* vs .*activation='tanh'"):
        weights(a, b)
