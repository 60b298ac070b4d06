"""The stitching-penalty matrix of a recording's report: drawn from match's numbers only."""

from __future__ import annotations

import numpy as np

from unitscope import report
from unitscope.match import stitch_recordings
from unitscope.report import _rec_across
from unitscope.views import recording_views
from unitscope.views._member_views import stitch_view


def test_matrix_is_the_stitching_penalty_with_its_controls(moons_rec):
    fig = _rec_across.stitch_figure(stitch_view(moons_rec))
    assert fig is not None and fig.kind == "heatmap" and fig.id == "stitching"
    s = stitch_recordings(
        moons_rec, members=(0, 1), fits=["direct"], controls=["input", "untrained"]
    )
    raw = s.matrix("direct", "input")
    want = np.stack(
        [
            np.vstack([raw, s.matrix("direct", "trained")]),
            np.vstack([raw, s.matrix("direct", "untrained")]),
        ]
    )
    np.testing.assert_allclose(fig.data["values"], want, rtol=1e-6, atol=1e-6)
    assert fig.data["row_labels"] == ["raw input", "hidden.0", "hidden.1"]
    assert fig.data["col_labels"] == ["hidden.0", "hidden.1"]
    assert fig.data["panel_titles"] == ["A trained", "A at step 0"]
    # the caption's verdict is the one match computes from the same numbers
    flags = s.flags()
    if flags:
        assert flags[0] in fig.caption
    else:
        assert "worse than every trained layer" in fig.caption


def test_probe_set_is_used_when_the_data_cannot_be_rebuilt(moons_rec, monkeypatch):
    from unitscope._errors import UnitscopeError
    from unitscope.match import _compare

    def gone(_rec):
        raise UnitscopeError("cannot read 'data.npz': no such file.")

    monkeypatch.setattr(_compare, "recording_data", gone)
    fig = _rec_across.stitch_figure(stitch_view(moons_rec))
    assert fig is not None and "the first half of the probe set" in fig.caption
    half = len(moons_rec.probe_x) // 2
    probe = {
        "train": (moons_rec.probe_x[:half], moons_rec.probe_y[:half]),
        "test": (moons_rec.probe_x[half:], moons_rec.probe_y[half:]),
    }
    s = stitch_recordings(moons_rec, fits=["direct"], controls=["input", "untrained"], data=probe)
    np.testing.assert_allclose(fig.data["values"][0, 1:], s.matrix("direct"), atol=1e-6)


def test_across_section_shows_it_and_cnns_do_not(moons_rec, cnn_rec):
    doc = report.recording_document(recording_views(moons_rec, resolution=4))
    assert "stitching" in {f.id for f in doc.figures()}
    assert stitch_view(cnn_rec) is None
    assert stitch_view(moons_rec.select([0])) is None
