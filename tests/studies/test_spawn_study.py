"""Study spawn: verdicts on both sides, the different-init control flipping them, the
perturbation touching one weight per copy, and the tiny run re-deriving its verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope.studies import spawn as s
from unitscope.studies._finding import Interval

from ._consistency import check_result


def iv(lo, hi):
    return Interval((lo + hi) / 2, lo, hi, 4)


def test_verdict_functions_on_both_sides():
    assert s.verdict_same_units(iv(0.92, 0.97)) == "supported"
    assert s.verdict_same_units(iv(0.0, 0.2)) == "refuted"
    assert s.verdict_same_units(iv(0.85, 0.95)) == "inconclusive"
    assert s.verdict_connected(iv(0.0, 0.01)) == "supported"
    assert s.verdict_connected(iv(0.5, 1.0)) == "refuted"


def test_earliest_is_the_start_of_the_last_supported_run_of_steps():
    assert s.earliest({0: "supported", 10: "supported"}) == 0
    assert s.earliest({0: "refuted", 10: "supported", 100: "supported"}) == 10
    assert s.earliest({0: "supported", 10: "refuted", 100: "supported"}) == 100
    assert s.earliest({0: "supported", 10: "inconclusive"}) is None


def test_each_perturbed_copy_differs_from_the_parent_in_exactly_one_weight():
    rng = np.random.default_rng(0)
    params = {
        "hidden.0.weight": rng.normal(size=(1, 8, 5)),
        "out.weight": rng.normal(size=(1, 3, 8)),
    }
    out = s.perturbed(params, 4)
    diff = out["hidden.0.weight"] - params["hidden.0.weight"]
    rms = np.sqrt(np.mean(params["hidden.0.weight"] ** 2))
    for c in range(4):
        changed = np.flatnonzero(diff[c])
        assert changed.size == 1 and diff[c].reshape(-1)[changed[0]] == pytest.approx(s.EPS * rms)
    assert len({int(np.flatnonzero(diff[c])[0]) for c in range(4)}) == 4
    assert (out["out.weight"] == params["out.weight"]).all()


def pair_matrix(values):
    K = 4
    m = np.full((K, K), np.nan)
    it = iter(values)
    for i in range(K):
        for j in range(i + 1, K):
            m[i, j] = m[j, i] = next(it)
    return m.tolist()


def rows(control_identity, control_barrier, acc=0.95):
    out = {}
    for source in s.SOURCES:
        for k in (0, 10):
            out[f"{source}|{k}"] = {
                "identity": pair_matrix([0.95, 0.96, 0.94, 0.95, 0.97, 0.96]),
                "barrier": pair_matrix([0.001, 0.002, 0.0, 0.003, 0.001, 0.002]),
                "disagreement": pair_matrix([0.01] * 6),
                "test_acc": [acc] * 4,
            }
    out[s.CONTROL] = {
        "identity": pair_matrix(control_identity),
        "barrier": pair_matrix(control_barrier),
        "disagreement": pair_matrix([0.1] * 6),
        "test_acc": [acc] * 4,
    }
    return out


def test_same_units_is_supported_only_while_different_inits_differ():
    r = rows([0.0, 0.05, -0.02, 0.01, 0.03, 0.0], [0.9, 1.0, 0.8, 1.1, 0.9, 1.0])
    f = s.finding_same_units(r, [0, 10])
    assert f.measured == "supported" and f.control.verdict == "refuted" and f.verdict == "supported"
    r = rows([0.95, 0.96, 0.94, 0.95, 0.97, 0.96], [0.9, 1.0, 0.8, 1.1, 0.9, 1.0])
    f = s.finding_same_units(r, [0, 10])  # a control that matches too: the test can't tell
    assert f.control.verdict == "supported" and f.verdict == "inconclusive"


def test_connected_is_inconclusive_when_different_inits_are_connected_too():
    r = rows([0.0, 0.05, -0.02, 0.01, 0.03, 0.0], [0.001, 0.0, 0.002, 0.001, 0.0, 0.001])
    f = s.finding_earliest(r, [0, 10])
    assert f.measured == "supported" and f.verdict == "inconclusive"
    assert f.numbers["earliest_step"] == {source: 0 for source in s.SOURCES}


def test_untrained_copies_make_the_findings_inconclusive():
    r = rows([0.0, 0.05, -0.02, 0.01, 0.03, 0.0], [0.9, 1.0, 0.8, 1.1, 0.9, 1.0], acc=0.3)
    f = s.finding_same_units(r, [0, 10])
    assert not f.premise.holds and f.verdict == "inconclusive"


def test_the_identity_title_follows_the_verdict():
    r = rows([0.0, 0.05, -0.02, 0.01, 0.03, 0.0], [0.9, 1.0, 0.8, 1.1, 0.9, 1.0])
    a = {f.id: f.title for f in s.figures(r, [0, 10], "supported")}["spawn-identity"]
    b = {f.id: f.title for f in s.figures(r, [0, 10], "refuted")}["spawn-identity"]
    assert a != b and "start decides" in a


def test_tiny_run_verdicts_follow_from_numbers():
    result = s.run("tiny")
    check_result(result, 2)
    same, connected = result.findings
    assert same.numbers["per_source"] == {
        src: s.verdict_same_units(same.interval[f"identity {src}"]) for src in s.SOURCES
    }
    rows = result.numbers["pairs"]
    # fresh starts share no units; copies of one start do
    control = np.asarray(rows[s.CONTROL]["identity"])
    copies = np.asarray(rows["data order|0"]["identity"])
    assert np.nanmean(copies) > np.nanmean(control) + 0.5
    assert connected.measured in ("supported", "refuted", "mixed")
