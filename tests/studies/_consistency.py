"""Shared check: every finding's verdict is what its study's verdict logic gives."""

from __future__ import annotations

from unitscope import report
from unitscope.studies import StudyResult
from unitscope.studies._finding import Finding

VERDICTS = {"supported", "refuted", "mixed", "inconclusive"}


def check_result(result: StudyResult, n_findings: int) -> None:
    assert not result.failures, result.failures
    assert len(result.findings) == n_findings
    ids = {f.id for f in result.figures}
    for spec in result.figures:  # the path the demo draws them by
        assert report.figure_from_spec(spec).id == spec.id
    assert len(ids) == len(result.figures), "figure ids must be unique"
    for f in result.findings:
        assert isinstance(f, Finding) and f.verdict in VERDICTS
        assert f.study == result.name and f.summary and f.numbers
        assert set(f.figures) <= ids, (f.claim, f.figures, ids)
        # the verdicts contract: an interval over seeds, a control, a measured premise
        assert f.interval, f"{f.claim!r} has no interval over seeds"
        for name, iv in f.interval.items():
            assert iv.n >= 1 and iv.lo <= iv.value <= iv.hi, (f.claim, name, iv)
        assert f.control is not None, f"{f.claim!r} has no control"
        assert f.control.verdict in VERDICTS
        assert f.premise is not None, f"{f.claim!r} has no measured premise"
        if f.verdict == "supported":
            assert f.control.verdict != "supported" and f.premise.holds
