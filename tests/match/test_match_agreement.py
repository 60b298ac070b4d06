"""Prediction agreement: κ from a confusion table, JSD from its formula, identical and permuted
networks, every member pair at every checkpoint of a recording, and the error paths."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.match import agreement, permute, prediction_agreement, random_perms
from unitscope.train import Config, fit


def logits_for(labels: np.ndarray, C: int, rng: np.random.Generator) -> np.ndarray:
    """Random logits whose argmax is ``labels``."""
    z = rng.normal(size=(len(labels), C))
    z[np.arange(len(labels)), labels] = z.max(1) + 1.0
    return z


def ref_kappa(table: np.ndarray) -> float:
    """Cohen's κ from a C x C confusion table of two labelers (rows: A, columns: B)."""
    n = table.sum()
    observed = sum(table[c, c] for c in range(len(table))) / n
    chance = sum(table[c, :].sum() * table[:, c].sum() for c in range(len(table))) / n**2
    return (observed - chance) / (1 - chance)


def ref_jsd_bits(p: np.ndarray, q: np.ndarray) -> float:
    total = 0.0
    for pi, qi in zip(p, q):
        m = 0.5 * (pi + qi)
        kl_p = sum(a * math.log2(a / b) for a, b in zip(pi, m) if a > 0)
        kl_q = sum(a * math.log2(a / b) for a, b in zip(qi, m) if a > 0)
        total += 0.5 * kl_p + 0.5 * kl_q
    return total / len(p)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_kappa_from_a_confusion_table(rng):
    table = np.array([[20, 5, 0], [3, 15, 2], [1, 4, 10]])
    pairs = [(a, b) for a in range(3) for b in range(3) for _ in range(table[a, b])]
    a, b = (np.array(col) for col in zip(*pairs))
    y = rng.integers(0, 3, len(a))
    got = prediction_agreement(logits_for(a, 3, rng), logits_for(b, 3, rng), y)
    assert float(got["kappa"]) == pytest.approx(ref_kappa(table), abs=1e-12)
    assert float(got["disagreement"]) == pytest.approx(1 - np.trace(table) / table.sum())
    expected = abs((a == y).mean() - (b == y).mean())
    assert float(got["delta_accuracy"]) == pytest.approx(expected, abs=1e-15)


def test_jsd_from_the_formula(rng):
    za, zb = rng.normal(size=(40, 5)) * 3, rng.normal(size=(40, 5)) * 3
    got = float(prediction_agreement(za, zb)["jsd"])
    assert got == pytest.approx(ref_jsd_bits(softmax(za), softmax(zb)), rel=1e-10)
    assert 0 < got < 1
    # disjoint certain predictions differ by exactly one bit
    hot = np.array([[0.0, 800.0], [800.0, 0.0]])
    assert float(prediction_agreement(hot, hot[::-1])["jsd"]) == pytest.approx(1.0, abs=1e-12)


def test_leading_axes_are_pairs(rng):
    za, zb = rng.normal(size=(3, 30, 4)), rng.normal(size=(3, 30, 4))
    y = rng.integers(0, 4, 30)
    batched = prediction_agreement(za, zb, y)
    for p in range(3):
        one = prediction_agreement(za[p], zb[p], y)
        for key, value in one.items():
            assert batched[key][p] == pytest.approx(float(value), abs=1e-15)


def test_one_constant_class_on_both_sides_is_full_agreement():
    z = np.zeros((6, 3))
    z[:, 1] = 1.0
    got = prediction_agreement(z, z + 0.5)
    assert float(got["kappa"]) == 1.0 and float(got["disagreement"]) == 0.0


def test_identical_and_permuted_networks_agree(random_mlp):
    net = random_mlp(2, 16, K=1, seed=2)
    moved = permute(net, random_perms(net, seed=7))
    x = torch.randn(300, 12, dtype=torch.float64)
    y = torch.randint(0, 5, (300,))
    out = net(x)[0]  # (n, classes)
    same = prediction_agreement(out, net(x)[0], y)
    assert [float(same[k]) for k in ("disagreement", "jsd", "delta_accuracy")] == [0.0] * 3
    assert float(same["kappa"]) == 1.0
    permuted = prediction_agreement(out, moved(x)[0], y)
    assert float(permuted["disagreement"]) == 0.0 and float(permuted["delta_accuracy"]) == 0.0
    assert float(permuted["kappa"]) == 1.0
    assert float(permuted["jsd"]) < 1e-28  # outputs differ by rounding (~1e-16) only
    other = prediction_agreement(out, random_mlp(2, 16, K=1, seed=3)(x)[0], y)
    assert float(other["jsd"]) > 1e-3 and float(other["disagreement"]) > 0.1


@pytest.fixture(scope="module")
def rec4():
    cfg = {
        "data": {"name": "gaussians", "options": {"n_samples": 200}},
        "model": {"hidden": [8]},
        "optim": {"name": "adam", "lr": 0.02},
        "train": {"steps": 40, "n_checkpoints": 4, "dtype": "float64"},
        "seeds": {"init": [0, 1, 2, 3]},
    }
    return fit(Config.from_dict(cfg))


def test_every_pair_at_every_checkpoint(rec4):
    from unitscope.match._compare import recording_data

    result = agreement(rec4)
    T = len(rec4.steps)
    assert result.pairs == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert result.values["kappa"].shape == (T, 6) and result.steps.tolist() == rec4.steps.tolist()
    test = recording_data(rec4)["test"]
    x = torch.as_tensor(test.x)
    for t in (0, T - 1):
        out = rec4.model(int(rec4.steps[t]))(x)
        one = prediction_agreement(out[1], out[3], test.y)
        for key in ("disagreement", "kappa", "jsd", "delta_accuracy"):
            assert result.values[key][t, 4] == pytest.approx(float(one[key]), abs=1e-15)
    # the recorded accuracy curves agree with the predictions made here
    final = rec4.curves["test_acc"][:, -1]
    np.testing.assert_allclose(result.values["accuracy_a"][-1, 0], final[0], atol=1e-12)
    json.dumps(result.summary())
    assert len(json.loads(json.dumps(result.summary(-1)))["kappa"]) == 6


def test_two_recordings_and_a_recording_with_itself(rec4):
    same = agreement(rec4, rec4, split="probe")
    assert same.pairs == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert np.all(same.values["disagreement"] == 0) and np.all(same.values["jsd"] == 0)
    assert np.all(same.values["kappa"] == 1)


def test_errors(rec4):
    with pytest.raises(UnitscopeError, match="same shape"):
        prediction_agreement(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(UnitscopeError, match=">= 2 classes"):
        prediction_agreement(np.zeros((4, 1)), np.zeros((4, 1)))
    with pytest.raises(UnitscopeError, match="NaN or infinite"):
        prediction_agreement(np.full((4, 3), np.nan), np.zeros((4, 3)))
    with pytest.raises(UnitscopeError, match="one label per input"):
        prediction_agreement(np.zeros((4, 3)), np.zeros((4, 3)), [0, 1])
    with pytest.raises(UnitscopeError, match="`split` must be 'train', 'test' or 'probe'"):
        agreement(rec4, split="val")
    reg = fit(
        Config.from_dict(
            {
                "data": {"name": "teacher", "options": {"n_samples": 60}},
                "train": {"steps": 2, "n_checkpoints": 2},
                "seeds": {"init": [0, 1]},
            }
        )
    )
    with pytest.raises(UnitscopeError, match="needs a classification task, got 'regression'"):
        agreement(reg)
