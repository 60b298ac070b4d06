from __future__ import annotations

from unitscope.studies import restarts as r

from ._consistency import check_result


def test_verdicts_on_both_sides():
    assert r.verdict_same_units(r.SAME_UNITS) == "supported"
    assert r.verdict_same_units((r.SAME_UNITS + r.DIFFERENT_UNITS) / 2) == "mixed"
    assert r.verdict_same_units(r.DIFFERENT_UNITS - 0.01) == "refuted"
    assert r.verdict_different_solutions(r.DIFFERENT_WEIGHTS + 0.01) == "supported"
    assert r.verdict_different_solutions(r.DIFFERENT_WEIGHTS - 0.01) == "refuted"
    assert r.verdict_barrier(0.2, 0.9) == "supported"
    assert r.verdict_barrier(0.2, 0.1) == "refuted"
    assert r.verdict_barrier(0.0, 0.9) == "inconclusive"
    assert r.verdict_init_decides({"init": 0.1, "data": 0.95, "dropout": 0.9}) == "supported"
    assert r.verdict_init_decides({"init": 0.1, "data": 0.05, "dropout": 0.9}) == "refuted"
    assert r.verdict_init_decides({"init": 0.1, "data": 0.7, "dropout": 0.9}) == "mixed"
    assert r.verdict_teacher(0.8) == "supported"
    assert r.verdict_teacher(0.5) == "mixed"
    assert r.verdict_teacher(0.1) == "refuted"


def test_tiny_run_verdicts_follow_from_numbers():
    result = r.run("tiny")
    check_result(result, 5)
    diff, same, barrier, source, teacher = result.findings
    assert diff.verdict == r.verdict_different_solutions(diff.numbers["distance_aligned"])
    assert same.verdict == r.verdict_same_units(same.numbers["matched_mean"])
    assert barrier.verdict == r.verdict_barrier(
        barrier.numbers["naive"], barrier.numbers["reduction"]
    )
    assert source.verdict == r.verdict_init_decides(source.numbers["identity"])
    assert teacher.verdict == r.verdict_teacher(teacher.numbers["recovered_fraction"])
    # matching can only raise the correlation above the unaligned order
    s = result.numbers["seeds"]
    assert s["matched_mean"] >= s["unaligned_mean"]
