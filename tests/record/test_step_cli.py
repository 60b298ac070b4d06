"""``--step`` in ``compare`` and ``match``: -T..-1 count from the end, anything else is refused."""

from __future__ import annotations

import json

import pytest

from unitscope.train import Config, fit


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    rec = fit(
        Config.from_dict(
            {
                "data": {"name": "moons", "options": {"n_samples": 60}, "n_probe": 12},
                "model": {"hidden": [5]},
                "train": {"steps": 8, "n_checkpoints": 3},
                "seeds": {"init": [0, 1]},
            }
        )
    )
    assert len(rec.steps) == 3
    return rec.save(tmp_path_factory.mktemp("step") / "r")


def command(name, folder, step):
    if name == "compare":
        return ["compare", str(folder), str(folder), "--json", "--step", str(step)]
    return ["match", str(folder), "--no-barrier", "--json", "--step", str(step)]


@pytest.mark.parametrize("name", ["compare", "match"])
def test_first_checkpoint_by_negative_step(cli, name, folder, capsys):
    code, out, err = cli(command(name, folder, -3))
    assert code == 0, err
    result = json.loads(out)
    assert (result["steps"] if name == "compare" else [result["step"]])[0] == 0


@pytest.mark.parametrize("step", [-4, -100])
@pytest.mark.parametrize("name", ["compare", "match"])
def test_step_before_the_first_checkpoint_is_one_line(cli, name, step, folder, capsys):
    code, out, err = cli(command(name, folder, step))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        f"unitscope: error: step {step} is out of range: this recording has 3 checkpoints, so "
        "a negative step must be in -3..-1 (-1 is the last); or give a recorded step: [0, "
    ) in err
