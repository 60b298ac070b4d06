"""views.recording_views(...).seeds: universal units and cycle consistency of every layer across
the members — the same numbers as direct calls to match.universal / match.consensus, checked
against plain float64 references, and a reason wherever a view cannot be made."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from itertools import combinations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from unitscope import match, views
from unitscope.train import Config, fit


def digits(K: int, **train) -> Config:
    return Config.from_dict(
        {
            "data": {
                "name": "digits",
                "options": {"flatten": True, "n_samples": 200},
                "n_probe": 48,
            },
            "model": {"hidden": [8, 6]},
            "optim": {"name": "adam", "lr": 1e-2},
            "train": {"steps": 20, "n_checkpoints": 3, **train},
            "seeds": {"init": list(range(K))},
        }
    )


@pytest.fixture(scope="module")
def rec4():
    return fit(digits(4))


@pytest.fixture(scope="module")
def seeds4(rec4):
    return views.recording_views(rec4).seeds


# ---- plain float64 references ---------------------------------------------------------------
def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(U, V) Pearson correlation of the columns of a (n, U) and b (n, V); a unit that does
    not vary correlates 0 with every other (as match does)."""
    U = a.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.corrcoef(a.T.astype(np.float64), b.T.astype(np.float64))[:U, U:]
    return np.nan_to_num(r, nan=0.0)


def best_partner(acts: np.ndarray) -> np.ndarray:
    """(K, U) mean over the other members of each unit's best correlation with their units."""
    K = acts.shape[0]
    return np.stack(
        [
            np.mean([corr(acts[k], acts[l]).max(axis=1) for l in range(K) if l != k], axis=0)
            for k in range(K)
        ]
    )


def match_perm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """perm[i]: the unit of b matched to unit i of a (Hungarian, maximal correlation)."""
    rows, cols = linear_sum_assignment(-corr(a, b))
    return cols[np.argsort(rows)]


# ---- the views --------------------------------------------------------------------------------
def test_universal_view_is_match_universal(rec4, seeds4):
    assert [s.layer for s in seeds4] == rec4.layers
    for s in seeds4:
        u = match.universal(rec4, layer=s.layer, quantile=0.99)
        v = s.universal
        assert v is not None and s.universal_reason == "" and s.step == rec4.steps[-1]
        assert list(v.samples) == ["trained", "rotated partners", "shuffled rows", "untrained"]
        np.testing.assert_array_equal(v.samples["trained"], u.best[u.active])
        np.testing.assert_array_equal(v.samples["rotated partners"], u.rotated[:, u.active].ravel())
        np.testing.assert_array_equal(v.samples["shuffled rows"], u.shuffled[u.active])
        assert u.untrained is not None
        np.testing.assert_array_equal(v.samples["untrained"], u.untrained.ravel())
        assert v.threshold == u.threshold and v.quantile == 0.99 and v.draws == u.rotated.shape[0]
        assert v.share == pytest.approx(float(u.fraction().mean()), abs=0)
        assert (
            v.null_shares == u.null_fractions() and v.rotated_share == u.null_fractions()["rotated"]
        )
        off = ~np.eye(rec4.members, dtype=bool)
        assert v.cka == pytest.approx(float(u.cka[off].mean()), rel=1e-12)
        assert v.svcca == pytest.approx(float(np.nanmean(u.svcca[off])), rel=1e-12)
        assert (v.live, v.units) == (int(u.active.sum()), u.active.size)


def test_universal_view_against_a_plain_reference(rec4, seeds4):
    for s in seeds4:
        v = s.universal
        assert v is not None
        acts = rec4.activations(s.layer)[-1].astype(np.float64)  # (K, n, U)
        live = acts.std(axis=1) > 0  # (K, U)
        best = best_partner(acts)
        np.testing.assert_allclose(v.samples["trained"], best[live], atol=1e-9)
        # the threshold is the rotated samples' 99th percentile; shares count live units above
        assert v.threshold == pytest.approx(
            np.quantile(v.samples["rotated partners"], 0.99), abs=1e-12
        )
        per_member = [(best[k, live[k]] > v.threshold).mean() for k in range(rec4.members)]
        assert v.share == pytest.approx(np.mean(per_member), abs=1e-12)
        rotated = v.samples["rotated partners"]
        assert v.rotated_share == pytest.approx((rotated > v.threshold).mean(), abs=1e-12)


def test_cycle_view_is_match_consensus_with_the_same_threshold(rec4, seeds4):
    for s in seeds4:
        c, v = s.cycle, s.universal
        assert c is not None and v is not None and s.cycle_reason == ""
        want = match.consensus(rec4, layer=s.layer, threshold=v.threshold)
        triples = list(combinations(range(rec4.members), 3))
        np.testing.assert_array_equal(c.trained, [want.cycle[t] for t in triples])
        assert want.untrained is not None and c.untrained is not None
        np.testing.assert_array_equal(c.untrained, [want.untrained[t] for t in triples])
        assert c.mean == pytest.approx(want.cycle_mean, rel=1e-12)
        assert c.untrained_mean == pytest.approx(want.untrained_mean, rel=1e-12)
        assert c.consensus_units == int(want.is_consensus.sum()) and c.threshold == v.threshold
        width = rec4.activations(s.layer).shape[-1]
        assert (c.width, c.chance, c.fraction) == (width, 1.0 / width, 0.5)


def test_cycle_consistency_against_a_plain_reference(rec4, seeds4):
    acts = rec4.activations("hidden.0")[-1].astype(np.float64)
    got = seeds4[0].cycle
    assert got is not None
    for index, (a, b, c) in enumerate(combinations(range(rec4.members), 3)):
        ab, bc, ac = (
            match_perm(acts[a], acts[b]),
            match_perm(acts[b], acts[c]),
            match_perm(acts[a], acts[c]),
        )
        assert got.trained[index] == pytest.approx(np.mean(bc[ab] == ac), abs=1e-12)


def test_views_are_frozen(seeds4):
    with pytest.raises(FrozenInstanceError):
        seeds4[0].universal = None  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        seeds4[0].cycle.mean = 1.0  # type: ignore[misc,union-attr]


def test_two_members_have_universal_units_and_a_reason_for_cycles(moons_rec):
    got = views.recording_views(moons_rec, resolution=4).seeds
    assert len(got) == 2
    for s in got:
        assert s.universal is not None and s.cycle is None
        assert s.cycle_reason.startswith("cycle consistency needs K ≥ 3 members")
        assert "this recording has 2" in s.cycle_reason


def test_one_member_gives_reasons_only():
    rec = fit(digits(1))
    got = views.recording_views(rec).seeds
    assert [s.layer for s in got] == rec.layers
    for s in got:
        assert s.universal is None and s.cycle is None and s.members == 1
        assert s.universal_reason.startswith("universal units need K ≥ 2 members")
        assert "this recording has 1" in s.cycle_reason


def test_no_step_0_gives_the_untrained_reason():
    rec = fit(digits(3, checkpoints=[5, 20]))
    assert rec.steps.tolist() == [5, 20]
    for s in views.recording_views(rec).seeds:
        u, c = s.universal, s.cycle
        assert u is not None and c is not None
        assert "untrained" not in u.samples and c.untrained is None and np.isnan(c.untrained_mean)
        assert u.untrained_reason == c.untrained_reason
        assert u.untrained_reason.startswith(
            "the recording's first checkpoint is step 5, not step 0"
        )
        assert "untrained" not in u.null_shares
        assert "train.checkpoints=[0, ...]" in u.untrained_reason


def test_your_own_networks_are_told_to_number_their_untrained_checkpoint_0():
    import torch

    from unitscope.record import Recording

    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh()) for _ in range(3)]
    x = torch.randn(40, 3)
    rec = Recording.from_models(nets, (x, (x[:, 0] > 0).long()), ["1"])
    (s,) = views.recording_views(rec).seeds
    assert s.universal is not None and "untrained" not in s.universal.samples
    reason = s.universal.untrained_reason
    assert reason.startswith("the recording's first checkpoint is step 1, not step 0")
    assert "steps=[0, ...]" in reason and "--steps 0" in reason and "train." not in reason


def test_the_stage_is_listed_and_cheap_stages_stay_out_for_one_member():
    plan = views.RecordingViewPlan(fit(digits(1)))
    assert "units across seeds" not in plan.stages  # reasons only, nothing to compute
    assert views.RecordingViewPlan(fit(digits(2, steps=2))).stages[-1] == "units across seeds"
