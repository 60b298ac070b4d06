"""Model stitching: float64 references for every fitted map, planted permutations, the controls
and their flags, recordings, and every error path."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.match import (
    invert,
    permute,
    random_perms,
    stitch,
    stitch_recordings,
)
from unitscope.match._stitch import Stitching
from unitscope.match._stitch_maps import (
    Gaussian,
    direct_map,
    lowrank_map,
    orthogonal_map,
    parse_fit,
    permutation_map,
)
from unitscope.match._stitch_run import StitchEntry
from unitscope.train import Config, fit


# ---- plain float64 references ------------------------------------------------------------
def ref_lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares with a bias via the normal equations (x full column rank)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    coef = np.linalg.solve(design.T @ design, design.T @ y)
    return coef[:-1], coef[-1]


def ref_procrustes(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """argmin over orthogonal Q of ‖(x − x̄) Q − (y − ȳ)‖ (Schönemann 1966), plus the offset."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    u, _, vt = np.linalg.svd(xc.T @ yc)
    q = u @ vt
    return q, y.mean(0) - x.mean(0) @ q


def ref_mahalanobis(acts: np.ndarray, ref: np.ndarray, shrink: float) -> float:
    mu = ref.mean(0)
    cov = np.cov(ref, rowvar=False)
    cov = cov + shrink * np.trace(cov) / len(cov) * np.eye(len(cov))
    inv = np.linalg.inv(cov)
    return float(np.mean([math.sqrt((a - mu) @ inv @ (a - mu)) for a in acts]))


def test_direct_map_is_least_squares(rng):
    x, y = rng.normal(size=(80, 5)), rng.normal(size=(80, 4))
    got = direct_map(x, y)
    w, b = ref_lstsq(x, y)
    np.testing.assert_allclose(got.weight, w, atol=1e-10)
    np.testing.assert_allclose(got.bias, b, atol=1e-10)
    # a planted affine map is recovered exactly
    planted = direct_map(x, x @ w + b)
    np.testing.assert_allclose(planted.weight, w, atol=1e-10)


def test_orthogonal_map_is_procrustes(rng):
    x, y = rng.normal(size=(60, 6)), rng.normal(size=(60, 6))
    got = orthogonal_map(x, y)
    q, b = ref_procrustes(x, y)
    np.testing.assert_allclose(got.weight, q, atol=1e-10)
    np.testing.assert_allclose(got.bias, b, atol=1e-10)
    np.testing.assert_allclose(got.weight.T @ got.weight, np.eye(6), atol=1e-10)
    # a planted rotation plus offset is recovered
    rot = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    found = orthogonal_map(x, x @ rot + 3.0)
    np.testing.assert_allclose(found.weight, rot, atol=1e-10)
    np.testing.assert_allclose(found.bias, np.full(6, 3.0), atol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_lowrank_map_is_the_best_rank_k_fit(rng, k):
    x, y = rng.normal(size=(120, 6)), rng.normal(size=(120, 5)) + rng.normal(size=(120, 6))[:, :5]
    got = lowrank_map(x, y, k)
    assert np.linalg.matrix_rank(got.weight, tol=1e-8) == k
    # Eckart-Young: the rank-k residual is the full residual plus the dropped singular values²
    xc, yc = x - x.mean(0), y - y.mean(0)
    full = np.linalg.solve(xc.T @ xc, xc.T @ yc)
    s = np.linalg.svd(xc @ full, compute_uv=False)
    resid = ((y - x @ got.weight - got.bias) ** 2).sum()
    expected = ((yc - xc @ full) ** 2).sum() + (s[k:] ** 2).sum()
    np.testing.assert_allclose(resid, expected, rtol=1e-10)
    # full rank equals plain least squares
    np.testing.assert_allclose(lowrank_map(x, y, 5).weight, ref_lstsq(x, y)[0], atol=1e-10)


def test_permutation_map_finds_a_planted_permutation(rng):
    x = rng.normal(size=(100, 7))
    order = rng.permutation(7)
    found = permutation_map(x, x[:, order])  # B's unit j is A's unit order[j]
    np.testing.assert_array_equal(found.perm, np.argsort(order))
    out = found.apply(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(out, x[:, order])  # a gather, bit for bit


def test_gaussian_distance_is_mahalanobis(rng):
    ref = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 4))
    acts = rng.normal(size=(30, 4))
    got = Gaussian.fit(ref, shrink=1e-3).distance(acts)
    assert got == pytest.approx(ref_mahalanobis(acts, ref, 1e-3), rel=1e-10)


# ---- networks -----------------------------------------------------------------------------
def splits(seed: int = 0, n: int = 120):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 12, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (2 * n,), generator=gen)
    return {"train": (x[:n], y[:n]), "test": (x[n:], y[n:])}


def test_planted_permutation_is_found_and_costs_nothing(random_mlp):
    a = random_mlp(2, 8, K=1, seed=3)
    perms = random_perms(a, seed=5)
    b = permute(a, perms)  # B's unit j is A's unit perms[layer][0, j]
    s = stitch(a, b, splits(), fits=["permutation", "direct"], controls=[])
    for layer in ("hidden.0", "hidden.1"):
        e = s.entry("trained", "permutation", layer, layer)
        np.testing.assert_array_equal(e.map.perm, invert(perms)[layer][0])
        assert e.penalty["test_acc"] == 0.0 and e.penalty["train_acc"] == 0.0
        assert abs(e.penalty["test_loss"]) < 1e-12
        assert abs(s.entry("trained", "direct", layer, layer).penalty["test_loss"]) < 1e-9


def test_permutation_stitcher_is_the_identity_from_b_to_b(random_mlp):
    b = random_mlp(2, 8, K=1, seed=4)
    s = stitch(b, b, splits(), fits=["permutation"], controls=["self"])
    for layer in ("hidden.0", "hidden.1"):
        assert s.entry("trained", "permutation", layer, layer).map.perm.tolist() == list(range(8))
    np.testing.assert_array_equal(s.matrix("permutation", "self").diagonal(), [0.0, 0.0])


def test_grid_controls_and_shapes(random_mlp):
    a, b, u = (random_mlp(2, 6, K=1, seed=s) for s in (1, 2, 3))
    s = stitch(a, b, splits(), fits=["direct", "orthogonal", "lowrank:2"], untrained=u)
    assert s.sources == ["trained", "self", "input", "untrained"]
    assert len(s.entries) == 3 * (4 + 4 + 2 + 4)
    assert s.matrix("lowrank:2", "trained").shape == (2, 2)
    assert s.matrix("direct", "input").shape == (1, 2)
    # self-stitch with a closed-form fit reproduces A exactly on the diagonal
    for f in ("direct", "orthogonal"):
        assert np.abs(s.matrix(f, "self", "acc").diagonal()).max() == 0.0
        assert np.abs(s.matrix(f, "self", "loss").diagonal()).max() < 1e-9
    diag = s.entry("self", "direct", "hidden.1", "hidden.1")
    assert diag.ood == pytest.approx(diag.ood_reference, rel=1e-8)
    # the untrained source is an input into B like A's trained one
    assert s.entry("untrained", "direct", "hidden.0", "hidden.1").map.weight.shape == (6, 6)
    json.dumps(s.summary())


def test_permutation_between_unequal_widths_is_an_empty_cell(random_mlp):
    from unitscope.models import MLP

    a = random_mlp(1, 6, K=1)
    b = MLP(12, [4], 5).double()
    s = stitch(a, b, splits(), fits=["permutation", "direct"], controls=["input"])
    e = s.entry("trained", "permutation", "hidden.0", "hidden.0")
    assert math.isnan(e.penalty["test_acc"]) and "equal widths" in e.note
    assert math.isfinite(s.entry("trained", "direct", "hidden.0", "hidden.0").penalty["test_acc"])


@pytest.mark.parametrize("lr", [0.1, 1e3])
def test_task_fit_lowers_the_training_loss_from_the_direct_map(random_mlp, lr):
    a, b = random_mlp(1, 6, K=1, seed=1), random_mlp(1, 6, K=1, seed=2)
    s = stitch(a, b, splits(), fits=["direct", "task"], controls=[], task_steps=60, task_lr=lr)
    direct = s.entry("trained", "direct", "hidden.0", "hidden.0").stitched["train_loss"]
    task = s.entry("trained", "task", "hidden.0", "hidden.0").stitched["train_loss"]
    assert task < direct  # even a learning rate far too large only slows it down


def entry(source: str, la: str, lb: str, acc_points: float) -> StitchEntry:
    nan = math.nan
    return StitchEntry(source, "direct", la, lb, {}, {"test_acc": acc_points}, nan, nan)


def test_cannot_discriminate_flag_follows_the_numbers():
    layers = ["h0", "h1"]
    trained = {("h0", "h0"): 1.0, ("h0", "h1"): 5.0, ("h1", "h0"): 0.5, ("h1", "h1"): 10.0}
    raw = {"h0": 2.9, "h1": 7.5}  # within 2 points of h0->h0 (1.9), better than h1->h1
    entries = [entry("trained", i, j, v) for (i, j), v in trained.items()]
    entries += [entry("input", "input", j, v) for j, v in raw.items()]
    s = Stitching(
        layers, layers, ["direct"], ["trained", "input"], "train", "test",
        {"test_acc": 0.9}, {"test_acc": 0.9}, entries,
    )  # fmt: skip
    np.testing.assert_array_equal(s.cannot_discriminate("direct"), [[True, False], [False, True]])
    assert s.flags() == [
        "direct: stitching cannot discriminate here (h0->h0, h1->h1): the raw input stitches "
        "within 2 points of A's trained layer."
    ]
    regression = Stitching(
        layers, layers, ["direct"], ["trained", "input"], "train", "test", {"test_loss": 1.0},
        {"test_loss": 1.0}, entries,
    )  # fmt: skip
    assert regression.cannot_discriminate("direct") is None and regression.flags() == []


# ---- a trained digits MLP: the targets --------------------------------------------------
@pytest.fixture(scope="module")
def digits_rec():
    cfg = {
        "data": {"name": "digits", "n_probe": 64},
        "model": {"hidden": [32, 32]},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"steps": 200, "n_checkpoints": 4},
        "seeds": {"init": [0, 1]},
    }
    return fit(Config.from_dict(cfg))


def test_self_stitch_costs_at_most_half_a_point(digits_rec):
    fits = ["direct", "task", "permutation", "orthogonal", "lowrank:32"]
    s = stitch_recordings(digits_rec, fits=fits, controls=["self", "input", "untrained"])
    assert s.members == (0, 1) and s.step == int(digits_rec.steps[-1])
    # premise: A and B fit their training data (a task stitcher would otherwise go on training
    # A into A and "beat" it) and generalize
    assert s.self_target["train_acc"] == 1.0 and s.target["test_acc"] > 0.9
    for f in fits:
        for split in ("train", "test"):
            diag = s.matrix(f, "self", "acc", split).diagonal()
            assert np.abs(diag).max() <= 0.5, (f, split, diag)
    # A's trained units serve B better than the same network before training
    assert s.matrix("permutation", "trained").diagonal().mean() < (
        s.matrix("permutation", "untrained").diagonal().mean()
    )


def test_recording_without_step_zero_drops_the_untrained_control(mlp_config):
    rec = fit(mlp_config.override({"train.checkpoints": [30, 60]}))
    s = stitch_recordings(rec, members=(1, 2), fits=["direct"])
    assert s.sources == ["trained", "self", "input"]
    assert "untrained control was left out" in s.notes[0]
    with pytest.raises(UnitscopeError, match="member 5 of B does not exist"):
        stitch_recordings(rec, members=(0, 5))


def test_regression_recording_reports_loss_penalties():
    cfg = {
        "data": {"name": "teacher", "options": {"n_samples": 120}},
        "model": {"hidden": [6]},
        "train": {"steps": 20, "n_checkpoints": 2},
        "seeds": {"init": [0, 1]},
    }
    s = stitch_recordings(fit(Config.from_dict(cfg)), fits=["direct"])
    assert set(s.target) == {"train_loss", "test_loss"}
    assert s.matrix("direct", "self", "loss").shape == (1, 1)
    assert s.cannot_discriminate("direct") is None


# ---- errors -------------------------------------------------------------------------------
def test_fit_specs():
    assert parse_fit("lowrank:3") == ("lowrank", 3) and parse_fit("task") == ("task", None)
    with pytest.raises(UnitscopeError, match="unknown stitching fit 'orthogonl'. Did you mean"):
        parse_fit("orthogonl")
    for bad in ("lowrank", "lowrank:0", "lowrank:x", "lowrank:-2"):
        with pytest.raises(UnitscopeError, match="needs a rank k >= 1"):
            parse_fit(bad)


def test_errors(random_mlp, random_cnn):
    from unitscope.models import MLP

    a, b = random_mlp(2, 6, K=1, seed=1), random_mlp(2, 6, K=1, seed=2)
    data = splits()
    with pytest.raises(UnitscopeError, match="unknown layer of A 'hiden.0'. Did you mean"):
        stitch(a, b, data, layers_a=["hiden.0"], controls=[])
    with pytest.raises(UnitscopeError, match="rank k = 7 exceeds"):
        stitch(a, b, data, fits=["lowrank:7"], controls=[])
    with pytest.raises(UnitscopeError, match="the 'untrained' control needs A before training"):
        stitch(a, b, data, fits=["direct"])
    with pytest.raises(UnitscopeError, match="unknown stitching control 'raw'"):
        stitch(a, b, data, controls=["raw"])
    with pytest.raises(UnitscopeError, match="holds 2 members"):
        stitch(random_mlp(2, 6), b, data)
    with pytest.raises(UnitscopeError, match="must be a unitscope MLP"):
        stitch(random_cnn(K=1), b, data)
    with pytest.raises(UnitscopeError, match="`model_b` has no hidden layer"):
        stitch(a, MLP(12, [], 5).double(), data)
    with pytest.raises(UnitscopeError, match="names a fit twice"):
        stitch(a, b, data, fits=["direct", "direct"], controls=[])
    s = stitch(a, b, data, fits=["direct"], controls=[])
    with pytest.raises(UnitscopeError, match="unknown stitching source 'self'"):
        s.matrix("direct", "self")
