"""The recording page's universal-units and cycle-consistency figures: drawn from the views'
numbers (ids, samples, markers, captions), reasons where a view cannot be made, and a page
that still renders with one member."""

from __future__ import annotations

import json
from html import escape

import numpy as np
import pytest

from unitscope import report, views
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
            "train": {"steps": 10, "n_checkpoints": 3, **train},
            "seeds": {"init": list(range(K))},
        }
    )


@pytest.fixture(scope="module")
def three():
    return views.recording_views(fit(digits(3)))


def figure(doc, fid):
    return next(f for f in doc.figures() if f.id == fid)


def test_written_report_has_the_figures_and_their_captions(three, tmp_path):
    doc = report.recording_document(three)
    across = next(s for s in doc.sections if s.title == "Across members")
    ids = [f.id for f in across.figures]
    assert ids[-4:] == ["universal-0", "cycle-0", "universal-1", "cycle-1"]
    assert across.intro == ""  # every view was made
    out = report.write_report(doc, tmp_path / "page.html")
    html = (tmp_path / "page.html").read_text(encoding="utf-8")
    numbers = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    written = json.dumps(numbers)
    for fid in ids[-4:]:
        fig = figure(doc, fid)
        assert f'id="fig-{fid}"' in html and escape(fig.caption) in html
        assert fid in written and json.dumps(fig.caption)[1:-1] in written
    assert out["figures"] == len(doc.figures())


def test_universal_figure_draws_the_views_numbers(three):
    doc = report.recording_document(three)
    for index, s in enumerate(three.seeds):
        u = s.universal
        assert u is not None
        fig = figure(doc, f"universal-{index}")
        assert fig.kind == "histogram"
        assert [m["x"] for m in fig.data["markers"]] == [u.threshold]
        counts = {series["name"]: series["counts"] for series in fig.data["series"]}
        assert list(counts) == list(u.samples)
        edges = fig.data["edges"]
        for name, values in u.samples.items():  # shares of each sample (density)
            inside = np.sum((values >= edges[0]) & (values <= edges[-1]))
            assert counts[name].sum() == pytest.approx(inside / np.isfinite(values).sum())
        for number in (f"{u.threshold:.3f}", f"{100 * u.share:.1f}%", f"{u.cka:.3f}"):
            assert number in fig.caption
        assert f"{100 * u.rotated_share:.1f}% under the rotated null" in fig.caption
        assert f"{u.live} of {u.units} units" in fig.caption


def test_cycle_figure_draws_the_views_numbers(three):
    doc = report.recording_document(three)
    for index, s in enumerate(three.seeds):
        c = s.cycle
        assert c is not None and c.untrained is not None
        fig = figure(doc, f"cycle-{index}")
        assert [m["x"] for m in fig.data["markers"]] == [c.chance]
        counts = [series["counts"].sum() for series in fig.data["series"]]
        assert counts == [len(c.trained), len(c.untrained)] == [1, 1]
        assert f"Mean {c.mean:.3f}; chance 1/{c.width} = {c.chance:.3f}" in fig.caption
        assert f"step 0: mean {c.untrained_mean:.3f}" in fig.caption
        assert f"{c.consensus_units} of {c.width} positions" in fig.caption


def test_reasons_go_to_the_introduction():
    two = report.recording_document(views.recording_views(fit(digits(2))))
    across = next(s for s in two.sections if s.title == "Across members")
    ids = {f.id for f in across.figures}
    assert {"universal-0", "universal-1"} <= ids and not any(i.startswith("cycle-") for i in ids)
    assert across.intro.startswith(
        "Cycle consistency of hidden.0, hidden.1: not shown, cycle consistency needs K ≥ 3"
    )


def test_one_member_page_renders_with_the_reasons(tmp_path):
    doc = report.recording_document(views.recording_views(fit(digits(1))))
    across = next(s for s in doc.sections if s.title == "Across members")
    assert across.figures == []
    assert across.intro.startswith("Universal units of hidden.0, hidden.1: not shown, universal")
    assert "Cycle consistency of hidden.0, hidden.1: not shown" in across.intro
    report.write_report(doc, tmp_path / "page.html")
    assert escape(across.intro) in (tmp_path / "page.html").read_text(encoding="utf-8")


def test_no_step_0_says_so_in_the_captions():
    got = views.recording_views(fit(digits(3, checkpoints=[4, 10])))
    doc = report.recording_document(got)
    u, c = got.seeds[0].universal, got.seeds[0].cycle
    assert u is not None and c is not None
    fig = figure(doc, "universal-0")
    assert [s["name"] for s in fig.data["series"]] == [
        "trained",
        "rotated partners",
        "shuffled rows",
    ]
    assert f"There is no untrained null: {u.untrained_reason}." in fig.caption
    assert (
        f"There is no untrained baseline: {c.untrained_reason}." in figure(doc, "cycle-0").caption
    )
