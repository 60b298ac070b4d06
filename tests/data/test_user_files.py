"""The user's files: .npz, .csv and image folders round-trip, and every bad file is named."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from unitscope._errors import UnitscopeError
from unitscope.data import load, load_csv, load_image_folder, load_npz


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# --- .npz -------------------------------------------------------------------------------------


def test_npz_classification_round_trip(tmp_path, rng):
    x, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    ds = load_npz(tmp_path / "d.npz")
    assert ds.task == "classification" and ds.name == "d.npz"
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.y.dtype == np.int64


def test_npz_lowercase_x_and_continuous_target_is_regression(tmp_path, rng):
    x, y = rng.random((20, 2)).astype(np.float32), rng.standard_normal(20)
    np.savez(tmp_path / "r.npz", x=x, y=y)
    ds = load(str(tmp_path / "r.npz"))
    assert ds.task == "regression" and ds.x.dtype == np.float64 and ds.y.shape == (20, 1)
    np.testing.assert_array_equal(ds.x, x.astype(np.float64))
    np.testing.assert_array_equal(ds.y[:, 0], y)


def test_npz_labels_are_renumbered_and_originals_kept(tmp_path, rng):
    y = rng.choice([-1, 1, 5], 40)
    np.savez(tmp_path / "l.npz", X=rng.random((40, 1)), y=y.astype(np.float64))
    ds = load_npz(tmp_path / "l.npz")
    assert ds.task == "classification"
    np.testing.assert_array_equal(ds.extras["classes"], [-1.0, 1.0, 5.0])
    np.testing.assert_array_equal(ds.extras["classes"][ds.y], y)


def test_npz_task_override_and_image_shapes(tmp_path, rng):
    images, labels = rng.random((6, 5, 5)), np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "i.npz", X=images, y=labels)
    ds = load_npz(tmp_path / "i.npz", task="regression")
    assert ds.x.shape == (6, 1, 5, 5) and ds.task == "regression"
    np.testing.assert_array_equal(ds.y[:, 0], labels.astype(np.float64))
    many = rng.integers(0, 100, 200)  # integer-valued but more than 20 values
    np.savez(tmp_path / "m.npz", X=rng.random(200), y=many)
    ds = load_npz(tmp_path / "m.npz")
    assert ds.task == "regression" and ds.x.shape == (200, 1)


def test_npz_multi_output_targets_are_regression(tmp_path, rng):
    np.savez(tmp_path / "t.npz", X=rng.random((8, 3)), y=rng.integers(0, 2, (8, 2)))
    ds = load_npz(tmp_path / "t.npz")
    assert ds.task == "regression" and ds.y.shape == (8, 2)


def test_npz_errors(tmp_path, rng):
    with pytest.raises(UnitscopeError, match=r"file not found: .*dta\.npz'\. Did you mean 'd"):
        (tmp_path / "data.npz").write_bytes(b"")
        load_npz(tmp_path / "dta.npz")
    with pytest.raises(UnitscopeError, match=r"data\.npz' is empty; expected a \.npz archive"):
        load_npz(tmp_path / "data.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip archive at all")
    with pytest.raises(UnitscopeError, match=r"cannot read .*bad\.npz' as a \.npz archive"):
        load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "keys.npz", features=rng.random(3), y=np.zeros(3))
    with pytest.raises(UnitscopeError, match=r"has no array 'X' \(or 'x'\); found 'features'"):
        load_npz(tmp_path / "keys.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(UnitscopeError, match=r"as a \.npz archive of numeric arrays"):
        load_npz(tmp_path / "obj.npz")


@pytest.mark.parametrize(
    "x, y, task, match",
    [
        ([[0.0], [np.nan]], [0, 1], None, r"x contains 1 NaN/Inf values \(first in row 1\)"),
        ([[0.0], [1.0], [2.0]], [0, 1], None, r"x has 3 samples but y has 2"),
        ([[0.0], [1.0]], [0.5, 1.0], "classification", r"must be integers, found 0\.5 in row 0"),
        ([[0.0], [1.0]], [0, 1], "regresion", r"`task` must be one of .*'regression'\?"),
        ([["a"], ["b"]], [0, 1], None, r"x must be numeric, got dtype <U1"),
        ([[0.0], [1.0]], [0.0, np.inf], None, r"y contains NaN/Inf"),
        (np.zeros((0, 2)), np.zeros(0), None, r"is empty: x has 0 samples"),
    ],
)
def test_npz_bad_arrays(tmp_path, x, y, task, match):
    np.savez(tmp_path / "a.npz", X=np.asarray(x), y=np.asarray(y))
    with pytest.raises(UnitscopeError, match=match):
        load_npz(tmp_path / "a.npz", task=task)


# --- .csv -------------------------------------------------------------------------------------


def test_csv_round_trip_with_text_labels(tmp_path):
    path = write_csv(
        tmp_path / "iris.csv", "a,b,species\n1,2.5,setosa\n3,4,virginica\n5,6,setosa\n"
    )
    ds = load_csv(path, target="species")
    assert ds.task == "classification" and ds.name == "iris.csv"
    np.testing.assert_array_equal(ds.x, [[1.0, 2.5], [3.0, 4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(ds.y, [0, 1, 0])
    assert "classes: setosa=0, virginica=1" in ds.origin


def test_csv_target_in_the_middle_and_inferred_regression(tmp_path):
    path = write_csv(tmp_path / "r.csv", "u,price,v\n1,0.5,2\n3,1.25,4\n")
    ds = load(str(path), target="price")
    assert ds.task == "regression"
    np.testing.assert_array_equal(ds.x, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ds.y, [[0.5], [1.25]])


def test_csv_integer_target_is_classification_unless_told(tmp_path):
    path = write_csv(tmp_path / "c.csv", "f;label\n0.1;1\n0.2;0\n0.3;1\n")
    assert load_csv(path, target="label", delimiter=";").task == "classification"
    ds = load_csv(path, target="label", task="regression", delimiter=";")
    assert ds.task == "regression" and ds.y[:, 0].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "text, target, match",
    [
        ("", "y", r"c\.csv' is empty; expected a header row and data rows"),
        ("a,y\n", "y", r"c\.csv' has a header but no data rows"),
        (
            "a,label\n1,0\n",
            "lable",
            r"target column 'lable' not found in 'c\.csv'\. Did you mean "
            r"'label'\? Columns: 'a', 'label'\.",
        ),
        ("a,y\n1,0\n", None, r"needs `target=` naming a column; columns: 'a', 'y'\."),
        ("a,y\n1,0\nred,1\n", "y", r"column 'a' line 3: expected a number, got 'red'\."),
        ("a,y\n1,0\n,1\n", "y", r"column 'a' line 3: missing value\."),
        ("a,y\n1,0\n2,\n", "y", r"column 'y' line 3: missing target\."),
        ("a,y\n1,0\n2,1,3\n", "y", r"line 3 has 3 fields, the header has 2\."),
        ("y\n1\n2\n", "y", r"has no feature columns besides 'y'\."),
        ("a,y\nnan,1\n2,0\n", "y", r"x contains 1 NaN/Inf values \(first in row 0\)"),
        (
            "a,b,a,y\n1,2,3,0\n",
            "y",
            r"c\.csv' has duplicate column names: 'a' \(columns 1 and 3\); rename",
        ),
        (
            "y,a,y,a,a\n0,1,2,3,4\n",
            "y",
            r"duplicate column names: 'y' \(columns 1 and 3\); 'a' \(columns 2, 4 and 5\); rename",
        ),
        (
            "a,y\n" + "1" * 200_000 + ",0\n",
            "y",
            r"as CSV \(line 2\): field larger than field limit",
        ),
        ("a,y\n1,cat\n2,dog\n", "y", None),  # text labels are fine for classification...
    ],
)
def test_csv_errors(tmp_path, text, target, match):
    path = write_csv(tmp_path / "c.csv", text)
    if match is None:
        with pytest.raises(
            UnitscopeError, match=r"regression targets must be numbers, found 'cat'"
        ):
            load_csv(path, target=target, task="regression")  # ...but not for regression
        return
    with pytest.raises(UnitscopeError, match=match):
        load_csv(path, target=target)


def test_csv_with_duplicate_columns_is_refused_not_silently_merged(tmp_path):
    # csv.DictReader-style loading kept the last 'a' twice; the first column must not vanish
    path = write_csv(tmp_path / "d.csv", "a,b,a,label\n1,2,3,0\n4,5,6,1\n")
    with pytest.raises(UnitscopeError, match=r"^'.*d\.csv' has duplicate column names: 'a' "):
        load_csv(path, target="label")


@pytest.mark.parametrize(
    "raw, line",
    [(b"caf\xe9,label\n1,0\n", 1), (b"a,label\n1,0\n2,\xff\n", 3), (b"\xff\xfea\x00", 1)],
)
def test_csv_that_is_not_utf8_is_one_clear_line(tmp_path, raw, line):
    path = tmp_path / "latin.csv"
    path.write_bytes(raw)
    with pytest.raises(
        UnitscopeError,
        match=rf"latin\.csv' is not UTF-8 text \(byte 0x\w\w on line {line}\); save it as UTF-8",
    ):
        load(str(path), target="label")


def test_csv_utf8_with_bom_and_accents_loads(tmp_path):
    path = tmp_path / "u.csv"
    path.write_bytes("\ufeffcafé,label\n1,thé\n2,café\n".encode())
    ds = load_csv(path, target="label")
    assert ds.x.tolist() == [[1.0], [2.0]] and "café=0, thé=1" in ds.origin


# --- image folders ----------------------------------------------------------------------------


def make_folder(root, rng):
    """cat: three 4x6 RGB PNGs; dog: two 8x10 RGB PNGs. Returns the arrays per class."""
    arrays = {"cat": rng.integers(0, 256, (3, 4, 6, 3)), "dog": rng.integers(0, 256, (2, 8, 10, 3))}
    for name, images in arrays.items():
        (root / name).mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image.astype(np.uint8)).save(root / name / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image")
    return arrays


def test_image_folder_round_trip(tmp_path, rng):
    arrays = make_folder(tmp_path / "pets", rng)
    ds = load_image_folder(tmp_path / "pets", size=(4, 6))
    assert ds.x.shape == (5, 3, 4, 6) and ds.name == "pets"
    np.testing.assert_array_equal(ds.y, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(ds.x[:3], arrays["cat"].transpose(0, 3, 1, 2) / 255.0)
    assert "classes: cat=0, dog=1" in ds.origin


def test_rgb_image_folder_is_c_contiguous(tmp_path, rng):
    make_folder(tmp_path / "pets", rng)
    ds = load_image_folder(tmp_path / "pets", size=(4, 6))
    assert ds.x.flags.c_contiguous  # HWC pixels transposed to CHW used to stay a strided view


def test_image_folder_default_size_grayscale_and_flatten(tmp_path, rng):
    make_folder(tmp_path / "pets", rng)
    ds = load(str(tmp_path / "pets"), grayscale=True, flatten=True)
    assert ds.x.shape == (5, 4 * 6)  # the size of the first image (cat/0.png)
    first = np.asarray(Image.open(tmp_path / "pets" / "cat" / "0.png").convert("L")) / 255.0
    np.testing.assert_array_equal(ds.x[0], first.ravel())
    resized = load_image_folder(tmp_path / "pets", size=3)
    assert resized.x.shape == (5, 3, 3, 3) and 0.0 <= resized.x.min() <= resized.x.max() <= 1.0


def test_image_folder_errors(tmp_path, rng):
    with pytest.raises(UnitscopeError, match=r"folder not found: .*nowhere'"):
        load_image_folder(tmp_path / "nowhere")
    (tmp_path / "flat").mkdir()
    with pytest.raises(UnitscopeError, match=r"has no subfolders; expected one subfolder"):
        load_image_folder(tmp_path / "flat")
    make_folder(tmp_path / "pets", rng)
    (tmp_path / "pets" / "emu").mkdir()
    with pytest.raises(UnitscopeError, match=r"class folder .*emu' has no \.png/\.jpg/\.jpeg"):
        load_image_folder(tmp_path / "pets")
    (tmp_path / "pets" / "emu" / "0.png").write_bytes(b"garbage")
    with pytest.raises(UnitscopeError, match=r"cannot read image .*emu/0\.png'"):
        load_image_folder(tmp_path / "pets")
    with pytest.raises(UnitscopeError, match=r"`size` must be an integer or a \(height, width\)"):
        load_image_folder(tmp_path / "pets", size="big")


@pytest.mark.parametrize(
    "side, match",
    [
        (12, r"image .*big/0\.png' is 12x12 = 144 pixels, more than the 100 that can be decoded"),
        (32, r"image .*big/0\.png' has over 200 pixels, more than the 100 that can be decoded"),
    ],
)
def test_decompression_bomb_is_one_line_before_decoding(tmp_path, rng, monkeypatch, side, match):
    """An image over Pillow's safe size (89M pixels by default; 100 here) is refused from its
    header: between the limit and twice it (Pillow only warns) and above (Pillow raises)."""
    make_folder(tmp_path / "pets", rng)
    (tmp_path / "pets" / "big").mkdir()
    Image.new("L", (side, side)).save(tmp_path / "pets" / "big" / "0.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no DecompressionBombWarning on the way
        with pytest.raises(
            UnitscopeError, match=match + r" safely \(a decompression bomb\?\); shrink"
        ):
            load_image_folder(tmp_path / "pets", size=4)


# --- paths through load() ---------------------------------------------------------------------


def test_load_path_errors(tmp_path, rng):
    np.savez(tmp_path / "d.npz", X=rng.random((3, 2)), y=np.arange(3))
    with pytest.raises(
        UnitscopeError,
        match=r"unknown option 'targte' for dataset 'd\.npz'\."
        r" Valid options: task\.",
    ):
        load(str(tmp_path / "d.npz"), targte="y")
    write_csv(tmp_path / "d.csv", "a,y\n1,0\n")
    with pytest.raises(UnitscopeError, match=r"Did you mean 'target'\? Valid options: target, "):
        load(tmp_path / "d.csv", targt="y")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UnitscopeError, match=r"unsupported file type '\.txt'.*expected a \.npz"):
        load(str(tmp_path / "notes.txt"))
    with pytest.raises(UnitscopeError, match=r"file not found: .*missing\.txt'"):
        load(str(tmp_path / "missing.txt"))
    with pytest.raises(UnitscopeError, match=r"file not found: 'nothing_here\.csv'\."):
        load("nothing_here.csv")
