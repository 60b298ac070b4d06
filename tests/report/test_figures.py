"""Figure constructors: known inputs give known codes, bands and counts; contracts enforced."""

from __future__ import annotations

import numpy as np
import pytest

from unitscope import report
from unitscope._errors import UnitscopeError
from unitscope.report import Figure
from unitscope.report._pictures import quantize_signed


def test_unit_grid_codes_of_a_relu_unit():
    """A unit max(x, 0) on x in [-1, 1]: code 128 (zero) left of 0, up to 255 at x = 1."""
    xs = np.linspace(-1, 1, 5)
    grid = np.maximum(np.tile(xs, (5, 1)), 0)  # rows along y, columns along x
    fig = report.unit_grid("u", [0], grid[None, None], extent=(-1, 1, -1, 1), caption="c")
    assert fig.data["values"][0, 0, 0].tolist() == [128, 128, 128, 191, 255]
    assert fig.data["scale"].tolist() == [[1.0]]
    assert fig.data["orders"]["index"].tolist() == [0]


def test_quantize_signed_round_trips_within_half_a_step(rng):
    v = rng.normal(size=(3, 4, 8, 8))
    q, scale = quantize_signed(v, (2, 3))
    back = (q / 127.5 - 1) * scale[..., None, None]
    assert np.abs(back - v).max() <= scale.max() / 255 + 1e-12


def test_image_grid_ranges_and_cmaps():
    images = np.array([[[0.0, 1.0], [2.0, 3.0]], [[-2.0, 0.0], [1.0, 2.0]]])
    fig = report.image_grid("g", images, caption="c", cmap=["gray", "diverging"])
    assert fig.data["images"][0].ravel().tolist() == [0, 85, 170, 255]
    assert fig.data["images"][1].ravel().tolist() == [0, 128, 191, 255]
    assert fig.data["lo"].tolist() == [0.0, -2.0] and fig.data["hi"].tolist() == [3.0, 2.0]
    fixed = report.image_grid("g", images, caption="c", ranges=[(0.0, 6.0), None])
    assert fixed.data["images"][0].ravel().tolist() == [0, 42, 85, 128]


def test_image_grid_with_steps_and_rgb(rng):
    timed = report.image_grid("t", rng.normal(size=(3, 2, 1, 4, 4)), caption="c", steps=[0, 1, 5])
    assert timed.data["images"].shape == (3, 2, 4, 4) and timed.data["lo"].shape == (3, 2)
    rgb = report.image_grid("r", rng.uniform(size=(2, 3, 4, 4)), caption="c", cmap="rgb")
    assert rgb.data["images"].shape == (2, 3, 4, 4)


def test_lines_band_skips_diverged_members():
    members = np.array([[1.0, 2.0, 3.0], [3.0, np.nan, 5.0]])
    fig = report.lines("l", [0, 1, 2], {"loss": members}, caption="c")
    s = fig.data["series"][0]
    np.testing.assert_allclose(s["mean"], [2.0, 2.0, 4.0])
    np.testing.assert_allclose(s["lo"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(s["hi"], [3.0, 2.0, 5.0])
    std = report.band(members, "std")
    np.testing.assert_allclose(std["hi"], [3.0, 2.0, 5.0])


def test_histogram_counts_match_numpy(rng):
    a, b = rng.normal(size=100), rng.normal(1, 1, size=50)
    fig = report.histogram("h", {"a": a, "b": b}, caption="c", bins=7, markers={"zero": 0.0})
    edges = fig.data["edges"]
    assert fig.data["series"][1]["counts"].tolist() == np.histogram(b, edges)[0].tolist()
    assert fig.data["series"][0]["counts"].sum() == 100
    b[:5] = np.nan  # NaN is not counted; a value outside the range counts in the total
    shares = report.histogram(
        "h", {"a": a, "b": b}, caption="c", bins=7, value_range=(-1.0, 1.0), density=True
    ).data["series"]
    inside = np.histogram(b[5:], np.linspace(-1.0, 1.0, 8))[0]
    np.testing.assert_allclose(shares[1]["counts"], inside / 45, rtol=1e-15)
    assert shares[0]["counts"].sum() == pytest.approx(np.mean(np.abs(a) <= 1.0))


def test_heatmap_default_range_is_symmetric():
    fig = report.heatmap("h", np.array([[0.5, -2.0]]), caption="c")
    assert (fig.data["vmin"], fig.data["vmax"]) == (-2.0, 2.0)
    seq = report.heatmap("h", np.array([[0.5, 3.0]]), caption="c", cmap="sequential")
    assert (seq.data["vmin"], seq.data["vmax"]) == (0.5, 3.0)


@pytest.mark.parametrize(
    ("kind", "data", "match"),
    [
        (
            "heatmap",
            {"values": np.zeros(3), "cmap": "diverging", "vmin": 0, "vmax": 1},
            "non-empty 2 or 3-D array",
        ),
        (
            "heatmap",
            {"values": np.zeros((2, 2)), "cmap": "jet", "vmin": 0, "vmax": 1},
            "`cmap` must be",
        ),
        (
            "heatmap",
            {"values": np.zeros((2, 2)), "cmap": "diverging", "vmin": 1, "vmax": 1},
            "`vmin` must be < `vmax`",
        ),
        (
            "heatmap",
            {
                "values": np.zeros((2, 2)),
                "cmap": "diverging",
                "vmin": 0,
                "vmax": 1,
                "row_labels": ["a"],
            },
            "needs 2 labels",
        ),
        (
            "lines",
            {"x": np.arange(3), "series": [{"name": "a", "mean": np.zeros(4)}]},
            r"mean has shape \(4,\), expected \(3,\)",
        ),
        ("lines", {"x": np.arange(3), "series": []}, "at least one line"),
        (
            "histogram",
            {"edges": np.arange(4), "series": [{"name": "a", "counts": [1, 2]}]},
            "counts has shape",
        ),
        (
            "image_grid",
            {"images": np.zeros((2, 3, 3)), "lo": [0, 0], "hi": [1, 1], "cmap": "gray", "cols": 2},
            "must be uint8",
        ),
        (
            "image_grid",
            {
                "images": np.zeros((2, 3, 3), np.uint8),
                "lo": [0, 0],
                "hi": [1, 1],
                "cmap": "hot",
                "cols": 2,
            },
            "`cmap` must be one of",
        ),
        ("table", {"columns": ["a", "b"], "rows": [[1]]}, "1 cells for 2 columns"),
        ("pie", {}, "unknown figure kind 'pie'"),
    ],
)
def test_contract_violations_are_named(kind, data, match):
    with pytest.raises(UnitscopeError, match=match):
        report.check_figure(Figure("f", kind, "c", data))


def test_unit_grid_contract():
    good = report.unit_grid("u", [0, 1], np.zeros((2, 3, 4, 4)), extent=(0, 1, 0, 1), caption="c")
    bad = dict(good.data, orders={"x": np.array([0, 0, 1])})
    with pytest.raises(UnitscopeError, match="not a permutation of the 3 units"):
        report.check_figure(Figure("u", "unit_grid", "c", bad))
    bad = dict(good.data, measures={"m": np.zeros((2, 2))})
    with pytest.raises(UnitscopeError, match=r"measure 'm' has shape \(2, 2\)"):
        report.check_figure(Figure("u", "unit_grid", "c", bad))
    with pytest.raises(UnitscopeError, match=r"`units` must be \(T, U, R, R\)"):
        report.unit_grid("u", [0], np.zeros((3, 4, 4)), extent=(0, 1, 0, 1), caption="c")
    with pytest.raises(UnitscopeError, match="decision mode"):
        report.unit_grid(
            "u",
            [0],
            np.zeros((1, 1, 2, 2)),
            extent=(0, 1, 0, 1),
            caption="c",
            decision=("argmax", np.zeros((1, 2, 2)), np.zeros((1, 2, 2))),
        )
    with pytest.raises(UnitscopeError, match="3 cmaps for 2 images"):
        report.image_grid("g", np.zeros((2, 3, 3)), caption="c", cmap=["gray"] * 3)
    with pytest.raises(UnitscopeError, match="`band` must be"):
        report.band(np.zeros((2, 3)), "iqr")
