"""views.recording_views: every number of a recording's page, computed before the report draws."""

from __future__ import annotations

import warnings
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from unitscope import report, views
from unitscope._errors import UnitscopeError
from unitscope.measures import (
    DegenerateInputWarning,
    distinct_units,
    effective_rank,
    linear_cka,
    symmetry_spread,
)
from unitscope.train import Config, fit

SINGLE = {
    "symmetry_spread": lambda rec, layer, t, k: (
        symmetry_spread(rec.weights(layer)[t, k].astype(np.float64)).max_distance
    ),
    "effective_rank": lambda rec, layer, t, k: effective_rank(
        rec.activations(layer)[t, k].astype(np.float64)
    ),
    "distinct_units": lambda rec, layer, t, k: distinct_units(
        rec.activations(layer)[t, k].astype(np.float64)
    ),
}


@pytest.fixture(scope="module")
def moons_views(moons_rec):
    return views.recording_views(moons_rec, resolution=6)


def test_measures_over_training_are_the_single_measures(moons_rec, moons_views):
    assert [m.name for m in moons_views.measures] == list(SINGLE)
    for m in moons_views.measures:
        assert m.undefined == ()
        for layer in moons_rec.layers:
            got = m.values[layer]  # (K, T)
            assert got.shape == (moons_rec.members, len(moons_rec.steps))
            for t in range(len(moons_rec.steps)):
                for k in range(moons_rec.members):
                    want = SINGLE[m.name](moons_rec, layer, t, k)
                    assert got[k, t] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_layer_cka_is_member_0_against_member_1(moons_rec, moons_views):
    across = moons_views.across
    assert across is not None and across.cka_undefined == ()
    acts = [moons_rec.activations(n)[-1].astype(np.float64) for n in moons_rec.layers]
    want = [[linear_cka(a[0], b[1]) for b in acts] for a in acts]
    np.testing.assert_allclose(across.cka, want, atol=1e-12)
    assert across.comparison.pairs == [(0, 1)]


def test_views_are_frozen_and_the_report_only_draws_them(moons_rec, moons_views):
    with pytest.raises(FrozenInstanceError):
        moons_views.member = 1  # type: ignore[misc]
    doc = report.recording_document(moons_views, title="t")
    assert doc.title == "t" and "stitching" in {f.id for f in doc.figures()}
    with pytest.raises(
        UnitscopeError,
        match=r"^recording_document draws finished numbers: pass "
        r"unitscope\.views\.recording_views\(rec\), got a Recording\.$",
    ):
        report.recording_document(moons_rec)  # type: ignore[arg-type]
    with pytest.raises(UnitscopeError, match=r"^report\.RecordingReport is gone: the report only"):
        report.RecordingReport  # noqa: B018


def test_a_dead_layer_is_nan_with_its_reason_and_warns_nothing():
    rec = fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 60}, "n_probe": 16},
                "model": {"hidden": [4]},
                "init": {"scheme": "zeros"},  # every unit stays 0: a constant layer
                "train": {"steps": 4, "n_checkpoints": 2},
                "seeds": {"init": [0, 1]},
            }
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateInputWarning)
        got = views.recording_views(rec, resolution=4)
    rank = next(m for m in got.measures if m.name == "effective_rank")
    assert np.isnan(rank.values["hidden.0"]).all()
    assert rank.undefined and all(r.startswith("hidden.0: ") for r in rank.undefined)
    assert "constant over samples" in rank.undefined[0]
    assert got.across is not None and np.isnan(got.across.cka).all()
    assert got.across.cka_undefined == (
        "linear CKA is 0/0: `x` is constant over samples (hidden.0 x hidden.0)",
    )
    doc = report.recording_document(got)
    caption = next(f.caption for f in doc.figures() if f.id == "measure-effective_rank")
    assert caption.endswith("Missing points are undefined (NaN): " + rank.undefined[0] + ".")


def test_plan_lists_the_stages_it_runs(cnn_rec):
    plan = views.RecordingViewPlan(cnn_rec, n_images=2)
    assert plan.stages == [
        "training curves",
        "units of conv.0",
        "units of conv.1",
        "measures over training",
        "across members",
        "units across seeds",
        "feature maps",
    ]
    done: list[int] = []
    got = plan.compute(progress=done.append)
    assert done == [1, 2, 3, 4, 5, 6, 7]
    fm = got.feature_maps
    assert fm is not None and fm.images.shape[0] == 2 and len(fm.layers) == 2
    assert got.layers[0].panels is None and got.across is not None
    assert got.across.stitching is None  # stitching is drawn for unitscope's MLPs only
