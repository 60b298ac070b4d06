"""A recording whose meta.json or tensors were edited (checksum updated) is refused on load.

The sha256 in meta.json only ties the tensor file to that meta.json; these tests edit both
together, as someone mixing or hand-editing recordings would, and expect one clear error.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from unitscope._errors import UnitscopeError
from unitscope.record import Recording
from unitscope.record._validate import REQUIRED_META, probe_fingerprint
from unitscope.train import Config, fit

TENSORS, META = "recording.safetensors", "meta.json"


def _cfg(**model):
    return Config.from_dict(
        {
            "data": {"name": "moons", "options": {"n_samples": 60}, "n_probe": 12},
            "model": {"hidden": [6, 4], **model},
            "train": {"steps": 6, "n_checkpoints": 3},
            "seeds": {"init": [0, 1]},
        }
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two pristine recordings: the one we tamper with and another model's."""
    root = tmp_path_factory.mktemp("recs")
    fit(_cfg()).save(root / "a")
    fit(_cfg(hidden=[8])).save(root / "other")
    return root


@pytest.fixture
def folder(saved, tmp_path):
    shutil.copytree(saved / "a", tmp_path / "a")
    return tmp_path / "a"


def edit(folder, tensors: Callable | None = None, meta: Callable | None = None) -> None:
    """Apply the edits, then rewrite the checksum so that only the validation can notice."""
    if tensors is not None:
        flat = load_file(str(folder / TENSORS))
        tensors(flat)
        save_file(flat, str(folder / TENSORS))
    data = json.loads((folder / META).read_text())
    if meta is not None:
        meta(data)
    data["tensors_sha256"] = hashlib.sha256((folder / TENSORS).read_bytes()).hexdigest()
    (folder / META).write_text(json.dumps(data))


def test_the_fingerprint_is_the_datasets(saved):
    from unitscope.data import Dataset

    rec = Recording.load(saved / "a")
    ds = Dataset(rec.probe_x, rec.probe_y, "classification", "probe")
    assert probe_fingerprint(rec.probe_x, rec.probe_y) == ds.fingerprint() == rec.probe_hash


def test_untouched_and_rewritten_recordings_load(folder):
    edit(folder)  # same tensors written again: still valid
    assert Recording.load(folder).members == 2


def _set(key, value):
    def apply(d):
        d[key] = value

    return apply


def _put(flat, name, value):
    flat[name] = np.ascontiguousarray(value)


CASES = {
    "edited probe_hash": (
        None,
        _set("probe_hash", "0" * 64),
        r"meta.json says probe_hash '000000000000' but the stored probe set hashes to",
    ),
    "probe inputs changed": (
        lambda f: _put(f, "probe/x", f["probe/x"] + 1),
        None,
        "meta.json says probe_hash '[0-9a-f]{12}' but the stored probe set hashes to",
    ),
    "activations cut to 3 units": (
        lambda f: _put(f, "acts/hidden.0", f["acts/hidden.0"][..., :3]),
        None,
        r"activations of 'hidden.0' have shape \(3, 2, 12, 3\), "
        r"the recording needs \(3, 2, 12, 6\)",
    ),
    "model_spec contradicts tensors": (
        None,
        lambda d: d["model_spec"].update(hidden=[8, 4]),
        r"parameter 'hidden.0.weight' has shape \(3, 2, 6, 2\) but model_spec and "
        r"3 checkpoints x 2 members need \(3, 2, 8, 2\)",
    ),
    "model_spec of no model": (
        None,
        lambda d: d["model_spec"].update(kind="rnn"),
        r"model_spec .* does not describe a model \(unknown model kind 'rnn'",
    ),
    "model_spec with a stray key": (
        None,
        lambda d: d["model_spec"].update(depth=3),
        r"model_spec .* does not describe a model "
        r"\(MLP.__init__\(\) got an unexpected keyword argument 'depth'\)",
    ),
    "unit_axes edited": (
        None,
        lambda d: d["unit_axes"]["hidden.0"].update(n_units=3),
        "meta.json unit_axes do not match model_spec",
    ),
    "layers renamed": (
        None,
        _set("layers", ["hidden.0", "hidden.x"]),
        r"meta.json layers \['hidden.0', 'hidden.x'\] are not model_spec's",
    ),
    "renamed activations": (
        lambda f: _put(f, "acts/hidden.00", f.pop("acts/hidden.0")),
        None,
        "the tensor file has no activations of layer 'hidden.0'",
    ),
    "extra activations": (
        lambda f: _put(f, "acts/hidden.9", f["acts/hidden.0"]),
        None,
        "the tensor file holds activations of unknown layer 'hidden.9'",
    ),
    "missing parameter": (
        lambda f: f.pop("params/out.bias"),
        None,
        r"the parameters do not fit model_spec \(missing \['out.bias'\], unexpected \[\]\)",
    ),
    "missing steps": (lambda f: f.pop("steps"), None, "the tensor file has no tensor 'steps'"),
    "stray tensor": (
        lambda f: _put(f, "junk", np.zeros(2)),
        None,
        "the tensor file holds an unexpected tensor 'junk'",
    ),
    "steps not increasing": (
        lambda f: _put(f, "steps", f["steps"][::-1]),
        None,
        r"the checkpoint steps \[6, \d+, 0\] are not increasing",
    ),
    "curve cut": (
        lambda f: _put(f, "curves/train_loss", f["curves/train_loss"][:, :2]),
        None,
        r"curve 'train_loss' has shape \(2, 2\)",
    ),
    "diverged of one member": (
        lambda f: _put(f, "diverged", f["diverged"][:1]),
        None,
        r"meta.json seeds 'init' must list one seed per member \(1\), got \[0, 1\]",
    ),
    "another model's tensors": (
        "other",
        None,
        r"the parameters do not fit model_spec \(missing \['hidden.1.bias', 'hidden.1.weight'\]",
    ),
    "seeds of other members": (
        None,
        lambda d: d["seeds"].update(init=[0]),
        r"meta.json seeds 'init' must list one seed per member \(2\), got \[0\]",
    ),
    "dtype contradicts config": (
        None,
        lambda d: d["config"]["train"].update(dtype="float64"),
        r"the parameters are \['float32'\] but config train.dtype is 'float64'",
    ),
    "outputs contradict dataset": (
        None,
        lambda d: d["dataset"].update(n_outputs=3),
        "the dataset has 3 outputs but model_spec has 2",
    ),
    "input shape contradicts probe": (
        None,
        lambda d: d["dataset"].update(input_shape=[3]),
        r"the dataset's input shape \[3\] does not fit probe inputs \(12, 2\)",
    ),
    "layers not a list": (
        None,
        _set("layers", "hidden.0"),
        "meta.json 'layers' must be a JSON list, got str",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_recording_is_refused(case, folder, saved):
    tensors, meta, message = CASES[case]
    if tensors == "other":
        shutil.copy(saved / "other" / TENSORS, folder / TENSORS)
        tensors = None
    edit(folder, tensors, meta)
    with pytest.raises(UnitscopeError, match=f"is corrupt: {message}") as err:
        Recording.load(folder)
    assert "\n" not in str(err.value) and "re-record it" in str(err.value)


@pytest.mark.parametrize("key", list(REQUIRED_META))
def test_missing_or_renamed_meta_key_is_refused(key, folder):
    edit(folder, meta=lambda d: d.__setitem__(key + "_old", d.pop(key)))
    with pytest.raises(UnitscopeError, match=f"is corrupt: meta.json has no '{key}'"):
        Recording.load(folder)


@pytest.mark.parametrize("value", [True, 1.0, "1", None, 2])
def test_format_version_must_be_the_integer_1(value, folder):
    edit(folder, meta=_set("format_version", value))
    with pytest.raises(UnitscopeError, match=f"format version {value!r} is not supported"):
        Recording.load(folder)


def test_missing_checksum_is_refused(folder):
    data = json.loads((folder / META).read_text())
    del data["tensors_sha256"]
    (folder / META).write_text(json.dumps(data))
    with pytest.raises(UnitscopeError, match="meta.json has no 'tensors_sha256' string"):
        Recording.load(folder)


def test_huge_model_spec_is_refused_without_allocating(folder):
    edit(folder, meta=lambda d: d["model_spec"].update(hidden=[10**12, 4]))
    with pytest.raises(UnitscopeError, match=r"parameter 'hidden.0.weight' has shape"):
        Recording.load(folder)


# ---- the command line: exit 2 and one line, for info and compare ------------------------------


CLI_CASES = {
    "edited probe_hash": "meta.json says probe_hash '000000000000'",
    "activations cut to 3 units": "activations of 'hidden.0' have shape (3, 2, 12, 3)",
    "another model's tensors": "the parameters do not fit model_spec",
}


@pytest.mark.parametrize("case", list(CLI_CASES))
@pytest.mark.parametrize("command", ["info", "compare"])
def test_cli_refuses_a_tampered_recording(cli, case, command, folder, saved, capsys):
    tensors, meta, _ = CASES[case]
    if tensors == "other":
        shutil.copy(saved / "other" / TENSORS, folder / TENSORS)
        tensors = None
    edit(folder, tensors, meta)
    args = (
        ["info", str(folder)] if command == "info" else ["compare", str(saved / "a"), str(folder)]
    )
    code, out, err = cli(args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"unitscope: error: recording {str(folder)!r} is corrupt: ")
    assert CLI_CASES[case] in err


def test_cli_refuses_a_missing_meta_key(cli, folder, saved, capsys):
    edit(folder, meta=lambda d: d.pop("unit_axes"))
    code, _, err = cli(["compare", str(saved / "a"), str(folder)])
    assert code == 2 and err.count("\n") == 1
    assert "meta.json has no 'unit_axes'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "spec, reason",
    [
        ({"hidden": [10**30]}, "model_spec .* does not describe a model \\(.*Overflow"),
        (
            {"hidden": list(range(1, 10**4))},
            r"the parameters do not fit model_spec \(missing \['hidden.10.bias', "
            r"'hidden.10.weight', 'hidden.100.bias', 'hidden.100.weight', ... and 19990 more\], "
            r"unexpected \[\]\)",
        ),
        (
            {"hidden": [10**30], "activation": "x" * 1000},
            r"model_spec \{.*\.\.\. does not describe",
        ),
        ({"in_features": "two"}, "does not describe a model"),
    ],
)
def test_a_model_spec_of_no_model_is_one_short_line(spec, reason, folder):
    edit(folder, meta=lambda d: d["model_spec"].update(spec))
    with pytest.raises(UnitscopeError, match=reason) as err:
        Recording.load(folder)
    assert "\n" not in str(err.value) and len(str(err.value)) < 600
