"""``unitscope measure`` and ``unitscope compare`` in-process: results, JSON, exit code 2."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from unitscope.cli import main
from unitscope.measures import MEASURES, apply_measure, linear_cka, svcca_similarity


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((60, 5))
    y = np.tanh(x @ rng.standard_normal((5, 3)))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "both.npz", a=x, b=y)
    np.savez(tmp_path / "one.npz", only=y)
    return tmp_path, x, y


def _exit2(argv, capsys) -> str:
    with pytest.raises(SystemExit) as err:
        main(argv)
    assert err.value.code == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "Traceback" not in out.err
    return out.err


def test_measure_prints_the_value(files, capsys):
    d, x, y = files
    main(["measure", "linear_cka", str(d / "x.npy"), str(d / "y.npy")])
    out = capsys.readouterr().out
    assert (
        out.startswith(f"linear_cka = {linear_cka(x, y):.6g}") and "larger is more similar" in out
    )


def test_measure_json_with_options_and_npz_keys(files, capsys):
    d, x, y = files
    main(
        [
            "measure",
            "svcca_similarity",
            f"{d / 'both.npz'}:a",
            str(d / "one.npz"),
            "--keep",
            "0.9",
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["value"] == pytest.approx(svcca_similarity(x, y, keep=0.9), abs=1e-15)
    assert doc["convention"] == "similarity" and doc["options"] == {"keep": 0.9}
    assert doc["x"]["shape"] == [60, 5] and doc["n_samples"] == 60


def test_list_names_every_measure(capsys):
    main(["measure", "--list", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(MEASURES)
    assert {r["name"]: r["convention"] for r in rows}["procrustes_distance"] == "distance"
    main(["measure", "--list"])
    assert len(capsys.readouterr().out.strip().splitlines()) == len(MEASURES)


def test_degenerate_input_warns_on_stderr_and_prints_null(files, capsys):
    d, x, _ = files
    np.save(d / "const.npy", np.ones((60, 2)))
    main(["measure", "linear_cka", str(d / "x.npy"), str(d / "const.npy"), "--json"])
    out = capsys.readouterr()
    assert json.loads(out.out)["value"] is None
    assert out.err.startswith("unitscope: warning: linear CKA is 0/0: `y` is constant")


def test_bad_input_is_one_line_and_exit_2(files, capsys):
    d, x, _ = files
    xs, ys = str(d / "x.npy"), str(d / "y.npy")
    assert "unknown measure 'linear_kca'. Did you mean 'linear_cka'?" in _exit2(
        ["measure", "linear_kca", xs, ys], capsys
    )
    np.save(d / "short.npy", x[:50])
    assert "same number of rows (paired samples), got 60" in _exit2(
        ["measure", "linear_cka", xs, str(d / "short.npy")], capsys
    )
    bad = x.copy()
    bad[3, 1] = np.nan
    np.save(d / "nan.npy", bad)
    assert "contains 1 NaN or infinite value(s)" in _exit2(
        ["measure", "cca_similarity", str(d / "nan.npy"), ys], capsys
    )
    assert "--k does not apply to 'linear_cka'; it applies to: mutual_knn_similarity" in _exit2(
        ["measure", "linear_cka", xs, ys, "--k", "3"], capsys
    )
    assert "`keep` must be in (0, 1], got 1.5" in _exit2(
        ["measure", "svcca_similarity", xs, ys, "--keep", "1.5"], capsys
    )
    assert "no such file" in _exit2(["measure", "linear_cka", xs, str(d / "missing.npy")], capsys)
    assert "must be a .npy or .npz file" in _exit2(["measure", "linear_cka", xs, "y.csv"], capsys)
    assert "holds 2 arrays ['a', 'b']; choose one with" in _exit2(
        ["measure", "linear_cka", xs, str(d / "both.npz")], capsys
    )
    assert "unknown array in Y" in _exit2(
        ["measure", "linear_cka", xs, f"{d / 'both.npz'}:c"], capsys
    )
    np.save(d / "cube.npy", np.ones((60, 2, 2)))
    assert "must be 2-D (n_samples, n_units), got shape (60, 2, 2)" in _exit2(
        ["measure", "linear_cka", xs, str(d / "cube.npy")], capsys
    )
    assert "give a measure NAME and two files X Y, or --list" in _exit2(["measure"], capsys)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    from unitscope.train import Config, fit

    base = Config.from_dict(
        {
            "data": {"name": "moons", "options": {"n_samples": 200}, "n_probe": 40},
            "model": {"hidden": [6, 5]},
            "train": {"steps": 20, "n_checkpoints": 3},
            "seeds": {"init": [0, 1]},
        }
    )
    root = tmp_path_factory.mktemp("recs")
    recs = {
        "a": fit(base),
        "b": fit(base.override({"seeds.init": [5, 6, 7]})),
        "other_probe": fit(base.override({"data.seed": 3})),
    }
    for name, rec in recs.items():
        rec.save(root / name)
    return root, recs


def test_compare_two_recordings_layer_by_layer(recordings, capsys):
    root, recs = recordings
    main(
        ["compare", str(root / "a"), str(root / "b"), "--json", "--measure", "procrustes_distance"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["layers"]) == ["hidden.0", "hidden.1"] and doc["members"] == 2
    want = apply_measure(
        "procrustes_distance",
        recs["a"].activations("hidden.1")[-1, :2],
        recs["b"].activations("hidden.1")[-1, :2],
    )
    np.testing.assert_allclose(doc["layers"]["hidden.1"]["per_member"], want, atol=1e-12)
    assert doc["convention"] == "distance" and doc["steps"] == [20, 20]
    main(["compare", str(root / "a"), str(root / "a"), "--layer", "hidden.0", "--step", "0"])
    assert "hidden.0         mean 1.0000" in capsys.readouterr().out


def test_compare_errors(recordings, capsys):
    root, _ = recordings
    a, b = str(root / "a"), str(root / "b")
    assert "different probe sets" in _exit2(["compare", a, str(root / "other_probe")], capsys)
    assert "unknown layer 'hidden.2'. Did you mean" in _exit2(
        ["compare", a, b, "--layer", "hidden.2"], capsys
    )
    assert "step 7 is not a checkpoint" in _exit2(["compare", a, b, "--step", "7"], capsys)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda p: p.write_bytes(b""),
            r"cannot read X '.*bad\.npy': the file is empty \(0 bytes\)\.",
        ),
        (
            lambda p: np.save(p, np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True),
            r"bad\.npy': it holds Python objects \(dtype object\), which are never unpickled; "
            r"save numbers, e\.g\. np\.save\(path, arr\.astype\(np\.float64\)\)\.",
        ),
        (
            lambda p: p.write_text("1,2,3\n4,5,6\n"),
            r"bad\.npy': it is not a numpy \.npy/\.npz file \(no numpy header",
        ),
        (
            lambda p: np.save(p, np.zeros((0, 3))),
            r"X \(.*bad\.npy\) is empty, shape \(0, 3\); it needs samples \(rows\) and units",
        ),
        (lambda p: np.save(p, np.zeros((4, 0))), r"bad\.npy\) is empty, shape \(4, 0\)"),
        (
            lambda p: np.save(p, np.zeros((0,))),
            r"must be 2-D \(n_samples, n_units\), got shape \(0,\)",
        ),
        (
            lambda p: p.write_bytes(_npy_bytes(np.ones((5, 3)))[:-40]),
            r"bad\.npy': Failed to read all data for array",
        ),
    ],
)
def test_unreadable_or_empty_x_is_one_line_and_exit_2(files, capsys, make, message):
    d, _, _ = files
    make(d / "bad.npy")
    err = _exit2(["measure", "linear_cka", str(d / "bad.npy"), str(d / "y.npy")], capsys)
    assert re.search(message, err), err


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def test_unreadable_archives_are_one_line_and_exit_2(files, capsys):
    d, x, _ = files
    np.savez(d / "obj.npz", a=np.array([[1, 2], [3, 4]], dtype=object))
    assert "it holds Python objects (dtype object)" in _exit2(
        ["measure", "linear_cka", f"{d / 'obj.npz'}:a", str(d / "y.npy")], capsys
    )
    (d / "cut.npz").write_bytes((d / "both.npz").read_bytes()[:100])
    assert re.search(
        r"cannot read X '.*cut\.npz': File is not a zip file\.$",
        _exit2(["measure", "linear_cka", str(d / "cut.npz"), str(d / "y.npy")], capsys),
    )
    np.savez(d / "none.npz")
    assert "none.npz' holds no arrays; save one with np.savez." in _exit2(
        ["measure", "linear_cka", str(d / "none.npz"), str(d / "y.npy")], capsys
    )
    (d / "zip.npy").write_bytes((d / "both.npz").read_bytes())
    assert "zip.npy' is a .npz archive; rename it to .npz." in _exit2(
        ["measure", "linear_cka", str(d / "zip.npy"), str(d / "y.npy")], capsys
    )


def test_measure_at_extreme_scale_prints_the_value_at_scale_one(files, capsys):
    d, x, y = files
    np.save(d / "huge.npy", x * 1e300)
    np.save(d / "tiny.npy", y * 1e-300)
    main(["measure", "procrustes_similarity", str(d / "huge.npy"), str(d / "tiny.npy"), "--json"])
    out = capsys.readouterr()
    assert out.err == ""  # no overflow warning, no "constant" warning
    got = json.loads(out.out)["value"]
    assert got == pytest.approx(MEASURES["procrustes_similarity"].fn(x, y), rel=1e-9)
