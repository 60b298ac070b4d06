from __future__ import annotations

import pytest

from unitscope._errors import UnitscopeError
from unitscope.train import Config, checkpoint_steps
from unitscope.train._config import parse_override


def test_toml_round_trip(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[optim]\nname = "adam"\nlr = 0.01\n[model]\nhidden = [8, 4]\n'
        "[seeds]\ninit = [0, 1, 2]\n[data.options]\nnoise = 0.2\n"
    )
    cfg = Config.from_toml(path)
    assert cfg.optim.name == "adam" and cfg.model.hidden == (8, 4)
    assert cfg.seeds.members == 3 and cfg.data.options == {"noise": 0.2}
    assert Config.from_dict(cfg.to_dict()) == cfg


def test_overrides_and_nested_options():
    cfg = Config().override({"optim.lr": 0.5, "data.options.noise": 0.3, "seeds.data": [1, 2]})
    assert cfg.optim.lr == 0.5 and cfg.data.options["noise"] == 0.3
    assert cfg.seeds.per_member() == {"init": [0, 0], "data": [1, 2], "dropout": [0, 0]}


def test_parse_override_reads_toml_values():
    assert parse_override("optim.lr=1e-3") == ("optim.lr", 1e-3)
    assert parse_override("seeds.init=[0,1]") == ("seeds.init", [0, 1])
    assert parse_override("model.activation=tanh") == ("model.activation", "tanh")
    with pytest.raises(UnitscopeError, match="KEY=VALUE"):
        parse_override("optim.lr")


def test_checkpoints_are_log_spaced_with_ends():
    steps = checkpoint_steps(1000, 10, ())
    assert steps[0] == 0 and steps[-1] == 1000 and len(steps) >= 8
    gaps = [b - a for a, b in zip(steps[1:], steps[2:])]
    assert gaps == sorted(gaps)
    assert checkpoint_steps(10, 5, (0, 5, 5, 10)) == [0, 5, 10]


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"optim": {"lrr": 0.1}}, r"unknown config key 'optim.lrr'. Did you mean 'optim.lr'\?"),
        ({"optimizer": {}}, "unknown config section 'optimizer'. Did you mean 'optim'"),
        ({"optim": {"lr": "fast"}}, r"`optim.lr` must be a number, got 'fast'"),
        ({"optim": {"lr": -0.1}}, r"`optim.lr` must be > 0, got -0.1"),
        ({"optim": {"name": "adamm"}}, "Did you mean 'adam'"),
        ({"train": {"steps": 1.5}}, "`train.steps` must be an integer"),
        ({"train": {"checkpoints": [0, 9999]}}, "must lie in"),
        ({"model": {"dropout": 1.0}}, r"`model.dropout` must be in \[0, 1\)"),
        ({"seeds": {"init": [0, 1], "data": [0, 1, 2]}}, "one common length K"),
        ({"optim": {"nesterov": True}}, "nesterov"),
        ({"model": "mlp"}, r"section \[model\] must be a table"),
    ],
)
def test_config_errors(raw, message):
    with pytest.raises(UnitscopeError, match=message):
        Config.from_dict(raw)


def test_bad_toml_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[optim\nlr = ")
    with pytest.raises(UnitscopeError, match="not valid TOML"):
        Config.from_toml(tmp_path / "bad.toml")
    with pytest.raises(UnitscopeError, match="not found"):
        Config.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"optim.lr": float("inf")}, r"^`optim\.lr` must be a finite number, got inf\.$"),
        ({"optim.weight_decay": float("inf")}, r"`optim\.weight_decay` must be a finite number"),
        ({"init.eps": float("nan")}, r"^`init\.eps` must be a finite number, got nan\.$"),
        ({"optim.betas": [0.9, float("inf")]}, r"`optim\.betas` must be a finite number"),
        ({"optim.l1": float("-inf")}, r"`optim\.l1` must be a finite number, got -inf\."),
    ],
)
def test_nonsense_numbers_are_refused_at_the_boundary(override, message):
    """inf passes `lr > 0` and NaN `eps != 0`: every float key must be finite."""
    with pytest.raises(UnitscopeError, match=message):
        Config().override(override)


SEED = r"must be a seed: an integer from 0 to 2\*\*63 - 1, got "


@pytest.mark.parametrize(
    "override, message",
    [
        ({"seeds.init": [-1]}, rf"^`seeds\.init` {SEED}-1\.$"),
        ({"seeds.data": [0, -3]}, rf"^`seeds\.data` {SEED}-3\.$"),
        ({"seeds.dropout": [2**64]}, rf"^`seeds\.dropout` {SEED}18446744073709551616\.$"),
        ({"seeds.init": [2**63]}, rf"^`seeds\.init` {SEED}9223372036854775808\.$"),
        ({"data.seed": -1}, rf"^`data\.seed` {SEED}-1\.$"),
        ({"data.split_seed": 2**63}, rf"^`data\.split_seed` {SEED}9223372036854775808\.$"),
    ],
)
def test_every_seed_has_one_rule_and_one_message(override, message):
    """Negative seeds were accepted by train (torch takes them) but not by data.seed; a seed
    past int64 crashed in torch. Now both are refused everywhere, with the same words."""
    with pytest.raises(UnitscopeError, match=message):
        Config().override(override)
    edge = Config().override({"seeds.init": [0, 2**63 - 1], "data.seed": 2**63 - 1})
    assert edge.seeds.init == (0, 2**63 - 1)
