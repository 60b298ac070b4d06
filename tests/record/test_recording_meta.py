"""RecordingMeta: the typed form of meta.json, the same file as before, one probe check."""

from __future__ import annotations

import copy
import json
import pickle
from dataclasses import FrozenInstanceError, replace

import pytest
import torch

from unitscope._errors import UnitscopeError
from unitscope.models import MLP, SmallCNN
from unitscope.record import DatasetInfo, Recording, RecordingMeta

# Every key of meta.json as format version 1 has always written it (the header first).
HEADER = {"format", "format_version", "tensors_sha256"}
WRITTEN = {
    "config",
    "seeds",
    "layers",
    "layer_kind",
    "unit_axes",
    "model_spec",
    "dataset",
    "probe_hash",
    "extras",
    "versions",
    "elapsed_s",
}


def test_meta_is_typed_and_frozen(moons_rec, cnn_rec):
    meta = moons_rec.meta
    assert isinstance(meta, RecordingMeta) and isinstance(meta.dataset, DatasetInfo)
    assert meta.model_kind == "mlp" and meta.model_name == "MLP" and not meta.is_torch
    assert meta.dataset.is_2d and not cnn_rec.meta.dataset.is_2d
    assert meta.loss == "cross_entropy" and meta.dtype == moons_rec.config["train"]["dtype"]
    assert [meta.n_units(n) for n in meta.layers] == [
        moons_rec.activations(n).shape[-1] for n in meta.layers
    ]
    with pytest.raises(FrozenInstanceError):
        meta.probe_hash = "x"  # type: ignore[misc]


def test_nested_metadata_cannot_be_edited_in_place(moons_rec, tmp_path):
    """A changed config would rebuild other data for every later stage (and load back without
    complaint: nothing ties config to the tensors), so every dict and list of the metadata
    refuses changes, through rec.meta and through rec.config; copies are editable."""
    meta = moons_rec.meta
    edits = [
        lambda: meta.config["model"]["hidden"].__setitem__(0, 99),
        lambda: meta.config["model"].update(hidden=[99]),
        lambda: moons_rec.config["data"].pop("name"),
        lambda: meta.seeds["init"].append(7),
        lambda: meta.layer_kind.clear(),
        lambda: meta.model_spec.setdefault("kind", "cnn"),
        lambda: meta.versions.__delitem__(next(iter(meta.versions))),
    ]
    before = json.dumps(meta.to_json(), sort_keys=True)
    for edit in edits:
        with pytest.raises(UnitscopeError, match="metadata is read-only .*copy.deepcopy"):
            edit()
    assert json.dumps(meta.to_json(), sort_keys=True) == before
    assert meta.seeds["init"] == list(meta.seeds["init"])  # equal to the plain list
    copied = copy.deepcopy(meta.config)
    copied["model"]["hidden"].append(3)  # a deep copy is plain and editable
    assert type(copied) is dict and copied != meta.config
    assert pickle.loads(pickle.dumps(meta)) == meta
    moons_rec.save(tmp_path / "r")
    assert Recording.load(tmp_path / "r").meta == meta


def test_layer_kind_is_what_the_model_says():
    mlp, cnn = MLP(2, [3, 4], 2), SmallCNN(1, (8, 8), [2, 3], 10)
    assert mlp.layer_kinds() == {"hidden.0": "dense", "hidden.1": "dense"}
    assert cnn.layer_kinds() == {"conv.0": "conv", "conv.1": "conv"}


def test_recorded_layer_kinds(moons_rec, cnn_rec):
    assert moons_rec.meta.layer_kind == {"hidden.0": "dense", "hidden.1": "dense"}
    assert cnn_rec.meta.layers_of_kind("conv") == list(cnn_rec.layers)
    assert cnn_rec.meta.layers_of_kind("dense") == []


def test_meta_json_keeps_its_keys_and_round_trips(moons_rec, tmp_path):
    moons_rec.save(tmp_path / "r")
    raw = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert set(raw) == HEADER | WRITTEN
    body = {k: v for k, v in raw.items() if k not in HEADER}
    assert body == json.loads(json.dumps(moons_rec.meta.to_json()))
    assert RecordingMeta.from_json(body) == moons_rec.meta
    assert Recording.load(tmp_path / "r").meta == moons_rec.meta


def test_a_sweep_recording_keeps_its_job(moons_rec, tmp_path):
    one = moons_rec.select([0])
    one.meta = replace(one.meta, sweep={"job_id": "abc"})
    one.save(tmp_path / "r")
    assert Recording.load(tmp_path / "r").meta.sweep == {"job_id": "abc"}


def test_select_cuts_the_seeds_and_leaves_the_original(moons_rec):
    before = moons_rec.meta.to_json()
    one = moons_rec.meta.select([1])
    assert one.seeds["init"] == [moons_rec.meta.seeds["init"][1]]
    assert moons_rec.meta.to_json() == before


def test_unknown_or_bad_fields_are_refused(moons_rec, tmp_path):
    body = moons_rec.meta.to_json()
    with pytest.raises(UnitscopeError, match=r"^meta\.json holds unknown keys \['colour'\]"):
        RecordingMeta.from_json({**body, "colour": "red"})
    with pytest.raises(UnitscopeError, match=r"^layer_kind must give every layer"):
        replace(moons_rec.meta, layer_kind={"hidden.0": "dense", "hidden.1": "recurrent"})
    with pytest.raises(UnitscopeError, match=r"^model_spec kind must be one of"):
        replace(moons_rec.meta, model_spec={"kind": "rnn"})
    moons_rec.save(tmp_path / "r")
    path = tmp_path / "r" / "meta.json"
    raw = json.loads(path.read_text())
    raw["colour"] = "red"
    path.write_text(json.dumps(raw))
    with pytest.raises(UnitscopeError, match=r"is corrupt: meta\.json holds unexpected keys"):
        Recording.load(tmp_path / "r")


def test_one_probe_check(moons_rec):
    other = replace(moons_rec.meta, probe_hash="0" * 64)
    moons_rec.check_same_probe(moons_rec)
    moons_rec.meta.check_same_probe(moons_rec)
    message = (
        r"^the recordings were made on different probe sets \(probe hash [0-9a-f]{12} vs "
        r"000000000000\); to compare their units, record both on the same probe set"
    )
    with pytest.raises(UnitscopeError, match=message):
        moons_rec.meta.check_same_probe(other)


def test_torch_recording_meta():
    nets = [torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU()) for _ in range(2)]
    probe = (torch.randn(16, 4), torch.randint(0, 3, (16,)))
    rec = Recording.from_models(nets, probe, ["1"])
    meta = rec.meta
    assert meta.is_torch and meta.model_kind == "torch" and meta.model_name == "Sequential"
    assert meta.layouts == {"1": "ND"} and meta.layer_kind == {"1": "dense"}
    assert meta.n_units("1") == 6 and meta.unit_axes["1"].incoming == ()
    assert set(meta.to_json()) == WRITTEN | {"layouts"}


def test_a_dict_is_read_at_the_boundary(moons_rec):
    rec = moons_rec.select([0])
    again = Recording(
        steps=rec.steps,
        params=rec.params,
        acts=rec.acts,
        curves=rec.curves,
        curve_steps=rec.curve_steps,
        probe_x=rec.probe_x,
        probe_y=rec.probe_y,
        diverged=rec.diverged,
        meta=rec.meta.to_json(),  # type: ignore[arg-type]
    )
    assert again.meta == rec.meta
    with pytest.raises(UnitscopeError, match=r"^`meta` must be a RecordingMeta"):
        replace(rec, meta=["not", "meta"])
