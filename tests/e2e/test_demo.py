"""``unitscope demo`` end to end at the tiny scale: report and findings.json agree."""

from __future__ import annotations

import json

import pytest

from unitscope.cli import main
from unitscope.report._html import escape
from unitscope.studies import NAMES


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    try:
        main(["demo", "--out", str(out), "--scale", "tiny", "--json"])
    except SystemExit as exit_:
        assert exit_.code in (0, None)
    return out


def test_demo_writes_report_and_findings(demo_dir):
    html = (demo_dir / "report.html").read_text()
    findings = json.loads((demo_dir / "findings.json").read_text())
    results = json.loads((demo_dir / "results.json").read_text())
    assert "http://" not in html and "https://" not in html
    assert [s["name"] for s in findings["studies"]] == list(NAMES)
    assert all(not s["failures"] for s in findings["studies"]), findings["studies"]
    claims = [(f["claim"], f["verdict"]) for f in findings["findings"]]
    assert claims == [(f["claim"], f["verdict"]) for f in results["findings"]]
    assert len(claims) >= 2 * len(NAMES)
    for claim, verdict in claims:
        assert escape(claim) in html
        assert verdict in html


def test_demo_findings_carry_their_numbers(demo_dir):
    findings = json.loads((demo_dir / "findings.json").read_text())["findings"]
    for f in findings:
        assert f["numbers"] and f["summary"]


def test_unknown_study_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["study", "symetry"])
    assert exit_.value.code == 2
    assert "unknown study 'symetry'. Did you mean 'symmetry'?" in capsys.readouterr().err


def test_unwritable_output_fails_before_any_study_runs(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--out", str(blocker / "demo"), "--scale", "tiny"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and "choose another --out" in err
    assert "study" not in err.split("choose")[0]  # nothing ran before the message


def test_studies_side_by_side_give_the_same_numbers_in_the_same_order():
    from unitscope.cli.study import _run_all

    names = ["convex", "saddle"]
    alone = _run_all(names, "tiny", quiet=True, jobs=1)
    together = _run_all(names, "tiny", quiet=True, jobs=2)
    assert [r.name for r in together] == names
    for a, b in zip(alone, together):
        assert json.dumps([f.to_dict() for f in a.findings], default=str) == json.dumps(
            [f.to_dict() for f in b.findings], default=str
        )
