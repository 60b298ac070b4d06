"""A report from one recording, through the library and through ``unitscope report``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unitscope import report, views
from unitscope._errors import UnitscopeError
from unitscope.cli import main


def ids(doc) -> dict[str, str]:
    return {f.id: f.kind for f in doc.figures()}


def test_mlp_report_has_unit_views_and_curves(moons_rec):
    plan = views.RecordingViewPlan(moons_rec, member=1, resolution=8)
    done = []
    doc = report.recording_document(plan.compute(progress=done.append))
    assert done == list(range(1, len(plan.stages) + 1))
    kinds = ids(doc)
    assert kinds["units-0"] == kinds["units-1"] == "unit_grid"
    assert kinds["curve-loss"] == "lines" and kinds["corr-0"] == "heatmap"
    grid = next(f for f in doc.figures() if f.id == "units-1").data
    assert grid["values"].shape == (len(moons_rec.steps), 4, 8, 8)
    assert grid["incoming_labels"] == [f"hidden.0 u{i}" for i in range(6)] + ["bias"]
    assert grid["outgoing_labels"] == ["output 0", "output 1"]
    sib, _ = views.sibling_correlation(moons_rec.activations("hidden.1")[:, 1].astype(float))
    np.testing.assert_allclose(
        grid["measures"]["correlation with most similar sibling"], sib, rtol=1e-6
    )
    html = report.render_html(doc)
    assert "http://" not in html and "https://" not in html


def test_one_recorded_point_is_a_table_not_an_empty_curve():
    """A recording of your own networks at one checkpoint has one point per curve: the page
    gives the numbers in a table (the probe set named), and no line figure that draws nothing."""
    import torch

    from unitscope.record import Recording

    torch.manual_seed(0)
    nets = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
            for _ in range(3)]  # fmt: skip
    x = torch.randn(30, 3)
    rec = Recording.from_models(nets, (x, (x[:, 0] > 0).long()), ["1"])
    doc = report.recording_document(views.recording_views(rec))
    kinds = ids(doc)
    assert kinds["curve-point"] == "table" and "curve-loss" not in kinds
    fig = next(f for f in doc.figures() if f.id == "curve-point")
    rows = {row[0]: row[1:] for row in fig.data["rows"]}
    loss = rec.curves["probe_loss"][:, -1]
    assert rows["probe loss"] == [f"{loss.mean():.4g}", f"{loss.min():.4g}", f"{loss.max():.4g}"]
    assert "on the probe set" in fig.caption and "step 1" in fig.title
    assert "not known" in report.render_html(doc)  # no seeds for networks trained elsewhere
    siblings = next(f for f in doc.figures() if f.id == "siblings-0")
    assert "at step 1, the one checkpoint recorded" in siblings.caption


def test_curve_captions_name_the_sets_drawn(moons_rec):
    doc = report.recording_document(views.recording_views(moons_rec, resolution=8))
    fig = next(f for f in doc.figures() if f.id == "curve-loss")
    assert "on the train and test sets" in fig.caption
    siblings = next(f for f in doc.figures() if f.id == "siblings-0")
    assert f"before training (step 0) and at step {int(moons_rec.steps[-1])}" in siblings.caption


def test_cnn_report_has_zeiler_fergus_figures(cnn_rec):
    doc = report.recording_document(views.recording_views(cnn_rec, n_images=2))
    kinds = ids(doc)
    for fid in (
        "filters",
        "maps-0",
        "top-1",
        "deconv-1",
        "occlusion",
        "evolution-1",
        "deconv-evolution",
    ):
        assert kinds[fid] == "image_grid", fid
    assert "units-0" not in kinds  # no plane views for images
    evolution = next(f for f in doc.figures() if f.id == "evolution-1").data
    assert evolution["images"].shape == (3, 4, 8, 8) and evolution["steps"].tolist() == [0, 1, 6]


def test_report_options_are_checked(moons_rec):
    with pytest.raises(UnitscopeError, match="member 2 is out of range"):
        views.RecordingViewPlan(moons_rec, member=2)
    with pytest.raises(UnitscopeError, match="`n_images` must be >= 1"):
        views.RecordingViewPlan(moons_rec, n_images=0)


def test_cli_report(moons_rec, tmp_path, capsys):
    moons_rec.save(tmp_path / "rec")
    main(
        [
            "report",
            str(tmp_path / "rec"),
            "--out",
            str(tmp_path / "r.html"),
            "--resolution",
            "6",
            "--json",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["html"] == str(tmp_path / "r.html") and summary["figures"] >= 6
    assert json.loads((tmp_path / "results.json").read_text())["format"] == "unitscope.report"
    main(["report", str(tmp_path / "rec"), "--resolution", "4"])
    assert (tmp_path / "rec" / "report.html").is_file()
    assert "report:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nowhere"], "is not a recording folder"),
        (["report", "REC", "--member", "9"], "member 9 is out of range"),
    ],
)
def test_cli_report_errors(moons_rec, tmp_path, capsys, args, message):
    moons_rec.save(tmp_path / "REC")
    args = [str(tmp_path / a) if a in ("REC", "nowhere") else a for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_report_refuses_what_it_cannot_draw_before_building(moons_rec, monkeypatch):
    from unitscope.train import Config, fit

    linear = fit(Config.from_dict({"model": {"hidden": []}, "train": {"steps": 3}}))
    with pytest.raises(
        UnitscopeError,
        match=r"^the recording has no hidden layer \(it was trained with model\.hidden = \[\]\): "
        r"there are no units to report; train with one, e\.g\. --set model\.hidden=\[16\]\.$",
    ):
        views.RecordingViewPlan(linear)
    monkeypatch.setattr("unitscope._memory.memory_limit", lambda: 16 * 10**9)
    with pytest.raises(UnitscopeError, match=r"^unit views at resolution 200000 .* TB of memory"):
        views.RecordingViewPlan(moons_rec, resolution=200_000)
