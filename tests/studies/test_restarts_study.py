"""Study ``restarts``: verdicts on both sides of their thresholds, each control flipping its
finding, plain references for the pairwise numbers, and a tiny run end to end."""

from __future__ import annotations

import functools
import json
from itertools import combinations

import numpy as np
import pytest

from unitscope import report
from unitscope.match import pairs
from unitscope.studies import restarts as r
from unitscope.studies._finding import Interval
from unitscope.studies._stats import pair_interval, t_interval
from unitscope.train import Config, fit, prepare_data

from ._consistency import check_result


def _iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 8)


# ---- verdicts on both sides of their thresholds --------------------------------------------
def test_zone_has_three_zones_and_straddling_is_inconclusive():
    assert r.zone(_iv(0.9, 0.95), 0.9, 0.5) == "supported"
    assert r.zone(_iv(0.2, 0.45), 0.9, 0.5) == "refuted"
    assert r.zone(_iv(0.6, 0.8), 0.9, 0.5) == "mixed"
    assert r.zone(_iv(0.85, 0.95), 0.9, 0.5) == "inconclusive"
    assert r.zone(_iv(0.4, 0.6), 0.9, 0.5) == "inconclusive"
    assert r.zone(Interval(0.5, -np.inf, np.inf, 1), 0.9, 0.5) == "inconclusive"


def test_interval_verdicts_on_both_sides():
    d, m, b = r.DIFFERENT_WEIGHTS, r.DISAGREE_MIN, r.BARRIER_REMOVED
    assert r.verdict_different_solutions(_iv(d + 0.01, d + 0.2)) == "supported"
    assert r.verdict_different_solutions(_iv(0.0, d - 0.01)) == "refuted"
    assert r.verdict_different_solutions(_iv(d - 0.01, d + 0.01)) == "inconclusive"
    assert r.verdict_disagree(_iv(m + 0.001, 0.1)) == "supported"
    assert r.verdict_disagree(_iv(0.0, m - 0.001)) == "refuted"
    assert r.verdict_barrier(_iv(b + 0.01, 0.99)) == "supported"
    assert r.verdict_barrier(_iv(-0.2, b - 0.01)) == "refuted"
    assert r.verdict_barrier(_iv(b - 0.1, b + 0.1)) == "inconclusive"  # can say so


def test_verdict_same_units_is_a_family_over_layers():
    same, part, diff = _iv(0.92, 0.97), _iv(0.6, 0.7), _iv(0.1, 0.3)
    assert r.verdict_same_units({"a": same, "b": same}) == "supported"
    assert r.verdict_same_units({"a": diff, "b": diff}) == "refuted"
    assert r.verdict_same_units({"a": part, "b": part}) == "mixed"
    assert r.verdict_same_units({"a": same, "b": diff}) == "mixed"


def test_verdict_init_decides_on_both_sides():
    kept, lost, across = _iv(0.85, 0.95), _iv(-0.05, 0.1), _iv(0.75, 0.85)
    assert r.verdict_init_decides({"init": lost, "data": kept, "dropout": kept}) == "supported"
    assert r.verdict_init_decides({"init": lost, "data": lost, "dropout": kept}) == "refuted"
    assert r.verdict_init_decides({"init": kept, "data": kept, "dropout": kept}) == "refuted"
    assert r.verdict_init_decides({"init": lost, "data": across, "dropout": kept}) == (
        "inconclusive"
    )
    assert r.verdict_init_decides({"data": kept}) == "inconclusive"


def test_verdict_teacher_on_both_sides():
    assert r.verdict_teacher(_iv(0.8, 1.0)) == "supported"
    assert r.verdict_teacher(_iv(0.4, 0.6)) == "mixed"
    assert r.verdict_teacher(_iv(0.0, 0.2)) == "refuted"
    assert r.verdict_teacher(_iv(0.6, 0.8)) == "inconclusive"


# ---- pairs of seeds --------------------------------------------------------------------------
def test_pairwise_is_the_pair_mean_with_an_interval_over_seeds(rng):
    K = 6
    block = {"K": K, "pairs": [list(p) for p in combinations(range(K), 2)]}
    values = rng.normal(size=len(block["pairs"]))
    iv = r.pairwise(block, values)
    assert iv.value == pytest.approx(values.mean(), rel=1e-12) and iv.n == K
    assert iv.lo <= iv.value <= iv.hi
    m = r.pair_matrix(K, block["pairs"], values)
    assert np.isnan(m[1, 0]) and m[0, 1] == values[0] and pair_interval(m) == iv


# ---- plain references for the pairwise numbers -----------------------------------------------
@pytest.fixture(scope="module")
def small_rec():
    cfg = Config.from_dict(
        {
            "data": {"name": "digits", "options": {"n_samples": 200}},
            "model": {"hidden": [5, 4]},
            "optim": {"name": "adam", "lr": 0.01},
            "train": {"steps": 30},
            "seeds": {"init": [0, 1, 2]},
        }
    )
    return fit(cfg)


def _forward(params: dict, k: int, x: np.ndarray) -> np.ndarray:
    h = x
    for i in range(2):
        h = np.maximum(h @ params[f"hidden.{i}.weight"][k].T + params[f"hidden.{i}.bias"][k], 0)
    return h @ params["out.weight"][k].T + params["out.bias"][k]


def test_disagreement_matches_a_float64_forward_pass(small_rec):
    _, test, _ = prepare_data(Config.from_dict(small_rec.config))
    params = {k: v[-1].astype(np.float64) for k, v in small_rec.params.items()}
    pred = [_forward(params, k, test.x.reshape(test.n_samples, -1)).argmax(1) for k in range(3)]
    want = [float(np.mean(pred[i] != pred[j])) for i, j in [(0, 1), (0, 2), (1, 2)]]
    got = r.disagreement(small_rec, [(0, 1), (0, 2), (1, 2)])
    assert got == pytest.approx(want, abs=1.5 / test.n_samples)  # float32 ties at most one


def test_weight_distances_match_a_plain_permutation(small_rec):
    comp = pairs(small_rec, method="weights", barrier=False)
    raw, aligned = r.weight_distances(small_rec, comp)
    p = {k: v[-1].astype(np.float64) for k, v in small_rec.params.items()}
    for n, (i, j) in enumerate(comp.pairs):
        p0, p1 = comp.perms["hidden.0"][n], comp.perms["hidden.1"][n]
        a = np.concatenate([p[k][i].ravel() for k in p])
        moved = {
            "hidden.0.weight": p["hidden.0.weight"][j][p0],
            "hidden.0.bias": p["hidden.0.bias"][j][p0],
            "hidden.1.weight": p["hidden.1.weight"][j][p1][:, p0],
            "hidden.1.bias": p["hidden.1.bias"][j][p1],
            "out.weight": p["out.weight"][j][:, p1],
            "out.bias": p["out.bias"][j],
        }
        b = np.concatenate([p[k][j].ravel() for k in p])
        m = np.concatenate([moved[k].ravel() for k in p])
        norm = np.linalg.norm(a)
        assert raw[n] == pytest.approx(np.linalg.norm(a - b) / norm, rel=1e-5)
        assert aligned[n] == pytest.approx(np.linalg.norm(a - m) / norm, rel=1e-5)
        assert aligned[n] <= raw[n] + 1e-6  # matching maximizes <θ_A, π θ_B>


# ---- each control flips its finding (numbers made by hand) -----------------------------------
@pytest.fixture
def fast_boot(monkeypatch):
    """Fewer bootstrap draws: the hand-made numbers decide far from every threshold."""
    monkeypatch.setattr(r, "pair_interval", functools.partial(pair_interval, n_boot=200))


K = 6
PAIRS = [list(p) for p in combinations(range(K), 2)]
P = len(PAIRS)


def _const(v: float, spread: float = 0.01) -> list[float]:
    return list(v + spread * np.sin(np.arange(P)))  # varies a little, deterministic


def fake_seeds(**change) -> dict:
    same = [list(p) for p in combinations(range(3), 2)]
    s = {
        "K": K,
        "pairs": PAIRS,
        "layers": ["hidden.0", "hidden.1"],
        "training": {
            "final_train_acc": [0.99] * K,
            "final_test_acc": [0.96] * K,
            "live_share": {"hidden.0": 0.9, "hidden.1": 0.95},
        },
        "distance_aligned": _const(1.0),
        "distance_unaligned": _const(1.4),
        "disagreement": _const(0.04, 0.005),
        "matched": {"hidden.0": _const(0.95), "hidden.1": _const(0.95)},
        "unaligned": {"hidden.0": _const(0.0), "hidden.1": _const(0.0)},
        "untrained_matched": {"hidden.0": _const(0.3), "hidden.1": _const(0.3)},
        "reduction": _const(0.9),
        "reduction_random": _const(0.0, 0.1),
        "barrier_naive": _const(0.9),
        "barrier_aligned": _const(0.09),
        "weight_matching": {"sweeps": 5, "converged": True},
        "same_seed": {
            "K": 3,
            "pairs": same,
            "distance_aligned": [0.0] * 3,
            "disagreement": [0.0] * 3,
        },
    }
    for key, value in change.items():
        target, _, leaf = key.partition(".")
        if leaf:
            s[target] = {**s[target], leaf: value}
        else:
            s[key] = value
    return s


def _verdicts(s: dict) -> list[str]:
    return [f.verdict for f in r.seeds_findings(s)]


def test_with_failing_controls_the_seed_findings_keep_their_verdicts(fast_boot):
    fs = r.seeds_findings(fake_seeds())
    assert [f.measured for f in fs] == ["supported"] * 4
    assert [f.verdict for f in fs] == ["supported"] * 4
    assert all(f.control.verdict == "refuted" for f in fs)


@pytest.mark.parametrize(
    ("index", "change"),
    [
        (0, {"same_seed.distance_aligned": [1.0, 1.01, 0.99]}),  # same seed differs: a bug
        (1, {"same_seed.disagreement": [0.05, 0.06, 0.04]}),
        (2, {"untrained_matched": {"hidden.0": _const(0.95), "hidden.1": _const(0.95)}}),
        (3, {"reduction_random": _const(0.9)}),  # a random permutation removes it too
    ],
)
def test_a_control_that_passes_makes_its_seed_finding_inconclusive(index, change, fast_boot):
    f = r.seeds_findings(fake_seeds(**change))[index]
    assert f.measured == "supported" and f.control.verdict == "supported"
    assert f.verdict == "inconclusive" and "cannot discriminate" in f.reason


def test_an_untrained_network_or_dead_units_make_the_seed_findings_inconclusive(fast_boot):
    t = fake_seeds()["training"]
    for bad in ({**t, "final_train_acc": [0.5] * K}, {**t, "live_share": {"hidden.0": 0.5}}):
        fs = r.seeds_findings(fake_seeds(training=bad))
        assert all(not f.premise.holds and f.verdict == "inconclusive" for f in fs)


def test_no_barrier_to_remove_fails_the_barrier_premise(fast_boot):
    f = r.seeds_findings(fake_seeds(barrier_naive=_const(0.0, 0.01)))[3]
    assert not f.premise.holds and f.verdict == "inconclusive"


def test_the_summaries_follow_the_numbers(fast_boot):
    yes = r.seeds_findings(fake_seeds())
    no = r.seeds_findings(
        fake_seeds(
            distance_aligned=_const(0.01, 0.001),
            disagreement=_const(0.001, 0.0001),
            matched={"hidden.0": _const(0.2), "hidden.1": _const(0.2)},
            reduction=_const(0.1),
        )
    )
    assert [f.measured for f in no] == ["refuted"] * 4
    for a, b in zip(yes, no, strict=True):
        assert a.summary.split(":")[0] != b.summary.split(":")[0]
    assert no[0].summary.startswith("Aligned restarts have nearly the same weights")


def fake_sources(data: float, relabelled: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict:
    def block(identity: float, shuffled: float) -> dict:
        return {
            "K": K,
            "pairs": PAIRS,
            "identity": _const(identity),
            "identity_relabelled": _const(shuffled),
            "matched": _const(0.9),
            "barrier_naive": _const(0.1),
            "barrier_aligned": _const(0.01),
            "training": fake_seeds()["training"],
        }

    ident = {"init": 0.0, "data": data, "dropout": 0.9}
    return {k: block(v, sh) for (k, v), sh in zip(ident.items(), relabelled, strict=True)}


def test_the_sources_finding_and_its_control(fast_boot):
    f = r.sources_finding(fake_sources(data=0.9))
    assert (f.measured, f.control.verdict, f.verdict) == ("supported", "refuted", "supported")
    scrambled = r.sources_finding(fake_sources(data=0.3))
    assert scrambled.measured == "refuted"
    assert f.summary.split(":")[0] != scrambled.summary.split(":")[0]
    # a relabelling that left data and dropout units in place: the measure could not tell
    blind = r.sources_finding(fake_sources(data=0.9, relabelled=(0.0, 0.9, 0.9)))
    assert blind.control.verdict == "supported" and blind.verdict == "inconclusive"


def test_the_teacher_finding_and_its_control():
    t = {
        "recovered": [1.0, 0.75, 1.0, 1.0, 1.0, 0.75, 1.0, 1.0],
        "recovered_init": [0.0] * 8,
        "best_corr": [[0.95] * 4] * 8,
        "test_r2": [0.99] * 8,
    }
    f = r.teacher_finding(t)
    assert (f.measured, f.control.verdict, f.verdict) == ("supported", "refuted", "supported")
    assert f.interval["share recovered"] == t_interval(t["recovered"])
    passes = r.teacher_finding({**t, "recovered_init": t["recovered"]})  # init recovers too
    assert passes.control.verdict == "supported" and passes.verdict == "inconclusive"
    unfit = r.teacher_finding({**t, "test_r2": [0.5] * 8})
    assert not unfit.premise.holds and unfit.verdict == "inconclusive"
    few = r.teacher_finding({**t, "recovered": [0.0, 0.25] * 4})
    assert few.measured == "refuted" and few.summary.split(":")[0] != f.summary.split(":")[0]


# ---- a tiny run ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def result():
    return r.run("tiny")


def test_tiny_run_passes_the_contract_and_its_figures_build(result):
    check_result(result, 6)
    for spec in result.figures:
        report.figure_from_spec(spec)
    json.dumps(result.to_dict())


def test_tiny_run_verdicts_and_controls_follow_from_their_numbers(result):
    s, src, t = (result.numbers[k] for k in ("seeds", "sources", "teacher"))
    iv = r.seeds_intervals(s)
    dist, dis, same, barrier, source, teacher = result.findings
    assert dist.measured == r.verdict_different_solutions(iv["distance"])
    assert dist.control.verdict == r.verdict_different_solutions(iv["distance_same"])
    assert dis.measured == r.verdict_disagree(iv["disagreement"])
    assert same.measured == r.verdict_same_units(iv["matched"])
    assert same.control.verdict == r.verdict_same_units(iv["untrained"])
    assert barrier.measured == r.verdict_barrier(iv["reduction"])
    assert barrier.control.verdict == r.verdict_barrier(iv["reduction_random"])
    siv = r.sources_intervals(src)
    assert source.measured == r.verdict_init_decides(siv["identity"])
    assert source.control.verdict == r.verdict_init_decides(siv["identity_relabelled"])
    assert teacher.measured == r.verdict_teacher(t_interval(t["recovered"]))
    assert teacher.control.verdict == r.verdict_teacher(t_interval(t["recovered_init"]))


def test_tiny_run_measured_controls_differ_from_their_claims(result):
    s = result.numbers["seeds"]
    # the same seed twice trains the same network: no distance, no disagreement
    assert max(s["same_seed"]["distance_aligned"]) < 1e-4
    assert max(s["same_seed"]["disagreement"]) == 0.0
    dist, dis = result.findings[:2]
    assert dist.measured == dis.measured == "supported"
    assert dist.control.verdict == dis.control.verdict == "refuted"
    # matching only raises the correlation above the unaligned order
    for layer in s["layers"]:
        assert min(np.subtract(s["matched"][layer], s["unaligned"][layer])) >= 0


def test_tiny_run_uses_two_hidden_layers_and_the_source_split_barrier(result):
    s, src = result.numbers["seeds"], result.numbers["sources"]
    assert s["layers"] == ["hidden.0", "hidden.1"]
    assert set(src) == {"init", "data", "dropout"}
    assert all(len(v["barrier_naive"]) == len(v["pairs"]) for v in src.values())


def test_a_failed_part_is_reported_and_the_rest_still_run(monkeypatch):
    def broken(scale, source):
        raise RuntimeError("no data")

    monkeypatch.setattr(r, "source_run", broken)
    res = r.run("tiny")
    assert len(res.failures) == 3 and res.failures[0].startswith("vary only the init seed: ")
    assert len(res.findings) == 5 and "restarts-sources" not in {f.id for f in res.figures}
