"""Grid files: expansion order, stable ids, seed syntax, and every error before anything runs."""

from __future__ import annotations

import pytest

from unitscope._errors import UnitscopeError
from unitscope.sweep import Grid, make_grid
from unitscope.sweep._jobs import digest, plan_batches
from unitscope.train import Config


def test_axes_expand_first_slowest_then_seeds(small_grid):
    points = [
        (j.point["model.hidden"][0], j.point["optim.lr"], j.seeds["init"]) for j in small_grid.jobs
    ]
    assert len(points) == 12
    assert points[:4] == [(4, 0.1, 0), (4, 0.1, 1), (4, 0.1, 2), (4, 0.05, 0)]
    assert points[-1] == (6, 0.05, 2)
    assert [j.index for j in small_grid.jobs] == list(range(12))


def test_job_config_is_the_base_with_the_point_and_one_seed_per_source(small_grid):
    job = small_grid.jobs[5]
    cfg = Config.from_dict(job.config)
    assert cfg.model.hidden == (4,) and cfg.optim.lr == 0.05 and cfg.train.steps == 15
    assert cfg.seeds.init == (2,) and cfg.seeds.data == (0,) and cfg.seeds.dropout == (0,)


def test_ids_are_the_hash_of_the_resolved_config_and_stable(small_grid, grid_file):
    ids = [j.id for j in small_grid.jobs]
    assert len(set(ids)) == len(ids)
    assert ids[0] == digest(Config.from_dict(small_grid.jobs[0].config).to_dict())
    assert [j.id for j in Grid.from_toml(grid_file).jobs] == ids  # TOML and Python agree
    reordered = make_grid(
        small_grid.base, {"optim.lr": [0.05, 0.1], "model.hidden": [[6], [4]]}, {"init": [2, 1, 0]}
    )
    assert sorted(j.id for j in reordered.jobs) == sorted(ids)


def test_quoted_and_nested_axis_keys_are_the_same():
    a = Grid.from_dict({"axes": {"optim.lr": [0.1, 0.2]}})
    b = Grid.from_dict({"axes": {"optim": {"lr": [0.1, 0.2]}}})
    assert [j.id for j in a.jobs] == [j.id for j in b.jobs]


def test_dataset_option_axis():
    grid = Grid.from_dict({"axes": {"data.options.noise": [0.1, 0.3]}})
    assert [j.config["data"]["options"] for j in grid.jobs] == [{"noise": 0.1}, {"noise": 0.3}]


@pytest.mark.parametrize(
    "given, expected",
    [
        (7, [7]),
        ([3, 1], [3, 1]),
        ({"range": [0, 4]}, [0, 1, 2, 3]),
        ({"range": [10, 20, 5]}, [10, 15]),
    ],
)
def test_seed_forms(given, expected):
    assert make_grid(seeds={"init": given}).seeds["init"] == expected


def test_seed_sources_combine_as_a_product_or_side_by_side():
    product = make_grid(seeds={"init": [0, 1, 2], "data": [5, 6]})
    assert [(j.seeds["init"], j.seeds["data"]) for j in product.jobs] == [
        (0, 5),
        (0, 6),
        (1, 5),
        (1, 6),
        (2, 5),
        (2, 6),
    ]
    zipped = make_grid(seeds={"init": [0, 1, 2], "data": [5, 6, 7], "dropout": 9}, seed_mode="zip")
    assert [tuple(j.seeds.values()) for j in zipped.jobs] == [(0, 5, 9), (1, 6, 9), (2, 7, 9)]


def test_missing_sources_take_the_base_seed():
    grid = make_grid(Config().override({"seeds.data": [4]}), seeds={"init": [0, 1]})
    assert [j.seeds for j in grid.jobs] == [
        {"init": 0, "data": 4, "dropout": 0},
        {"init": 1, "data": 4, "dropout": 0},
    ]


def test_base_can_be_a_config_file_next_to_the_grid(tmp_path):
    (tmp_path / "train.toml").write_text("[optim]\nlr = 0.03\n", encoding="utf-8")
    (tmp_path / "grid.toml").write_text(
        'base = "train.toml"\n[seeds]\ninit = [0, 1]\n', encoding="utf-8"
    )
    grid = Grid.from_toml(tmp_path / "grid.toml")
    assert grid.base.optim.lr == 0.03 and len(grid.jobs) == 2


BAD = [
    (
        {"axes": {"optim.lrr": [0.1]}},
        r"^\[axes\] unknown config key 'optim.lrr'\. Did you mean 'optim.lr'\?",
    ),
    ({"axes": {"optimm.lr": [0.1]}}, r"unknown config section 'optimm'\. Did you mean 'optim'\?"),
    ({"axes": {"model.hidden": []}}, r"^\[axes\] axis 'model.hidden' is empty"),
    ({"axes": {"optim.lr": 0.1}}, r"axis 'optim.lr' must be a list of values, got 0.1"),
    ({"axes": {"optim.lr": [0.1, 0.1]}}, r"axis 'optim.lr' repeats the value 0.1"),
    ({"axes": {"optim.lr": [0.1, -1]}}, r"^\[axes\] `optim.lr` must be > 0, got -1.0"),
    ({"axes": {"seeds.init": [0, 1]}}, r"seeds are not an axis: write \[seeds\] init = "),
    ({"axes": {"optim.nesterov": [True]}}, r"^\[axes\] `optim.nesterov` needs optim.name"),
    (
        {
            "base": {"optim": {"momentum": 0.9}},
            "axes": {"optim.momentum": [0.0], "optim.nesterov": [True]},
        },
        r"the point \{optim.momentum = 0.0, optim.nesterov = True\} is invalid: ",
    ),
    (
        {"seeds": {"init": "0..64"}},
        r"^\[seeds\] `init` must be an integer, a list of integers or \{range = \[start, stop\]\}, "
        r"got '0..64'\.$",
    ),
    ({"seeds": {"init": {"range": [0.5, 4]}}}, r"`init` range must be \[start, stop\]"),
    ({"seeds": {"init": {"range": [4, 4]}}}, r"`init` = \{range = \[4, 4\]\} is empty"),
    ({"seeds": {"init": [1, True]}}, r"`init` must be an integer, a list of integers"),
    ({"seeds": {"init": [1, 1]}}, r"`init` repeats a seed"),
    ({"seeds": {"inti": [0]}}, r"unknown seed source 'inti'\. Did you mean 'init'\?"),
    (
        {"seeds": {"init": [0, 1], "data": [0, 1, 2]}, "sweep": {"seed_mode": "zip"}},
        r"one common length",
    ),
    ({"axis": {}}, r"unknown grid section 'axis'\. Did you mean 'axes'\?"),
    ({"sweep": {"group_size": 0}}, r"`group_size` must be an integer >= 1, got 0"),
    ({"sweep": {"groups": True}}, r"unknown \[sweep\] option 'groups'\. Did you mean 'group'\?"),
    ({"base": {"seeds": {"init": [0, 1]}}}, r"the base config gives 2 seeds for `init`"),
    ({"base": {"data": {"name": "moonz"}}}, r"^\[base\] unknown dataset 'moonz'\. Did you mean"),
    (
        {"axes": {"data.options.noize": [0.1]}},
        r"^\[axes\] unknown option 'noize' for dataset 'moons'\. Did you mean 'noise'\?",
    ),
    ({"axes": {"data.name": ["data/missing.npz"]}}, r"dataset file 'data/missing.npz' not found"),
]


@pytest.mark.parametrize("raw, message", BAD)
def test_bad_grids_name_what_is_wrong(raw, message):
    with pytest.raises(UnitscopeError, match=message):
        Grid.from_dict(raw)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(UnitscopeError, match="grid file .* not found"):
        Grid.from_toml(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[axes\n", encoding="utf-8")
    with pytest.raises(UnitscopeError, match="is not valid TOML"):
        Grid.from_toml(tmp_path / "bad.toml")
    (tmp_path / "typo.toml").write_text("[axes]\noptim.lrr = [0.1]\n", encoding="utf-8")
    with pytest.raises(UnitscopeError, match=r"^typo.toml: \[axes\] unknown config key"):
        Grid.from_toml(tmp_path / "typo.toml")


def test_batches_group_by_everything_but_seeds(small_grid):
    batches = small_grid.batches()
    assert [len(b.jobs) for b in batches] == [3, 3, 3, 3]
    assert [j.index for b in batches for j in b.jobs] == list(range(12))
    for b in batches:
        assert len({(j.point["model.hidden"][0], j.point["optim.lr"]) for j in b.jobs}) == 1
    assert [len(b.jobs) for b in small_grid.batches(group_size=2)] == [2, 1] * 4
    assert len(small_grid.batches(group=False)) == 12
    assert small_grid.describe() == {
        "jobs": 12,
        "groups": 4,
        "batches": 4,
        "axes": {"model.hidden": 2, "optim.lr": 2},
        "seeds": {"init": 3, "data": 1, "dropout": 1},
        "seed_mode": "product",
    }


def test_plan_depends_only_on_the_jobs(small_grid):
    first = [b.ids for b in plan_batches(small_grid.jobs, group_size=2)]
    again = [b.ids for b in plan_batches(list(small_grid.jobs), group_size=2)]
    assert first == again
    keep = {small_grid.jobs[1].id}
    restricted = small_grid.batches()[0].restrict(keep)
    assert restricted is not None and restricted.ids == (small_grid.jobs[1].id,)
    assert small_grid.batches()[1].restrict(keep) is None


@pytest.mark.parametrize(
    "seeds, message",
    [
        (
            {"init": -1},
            r"^\[seeds\] `init` must be a seed: an integer from 0 to 2\*\*63 - 1, got -1",
        ),
        ({"data": [0, 2**64]}, r"^\[seeds\] `data` must be a seed: .*, got 18446744073709551616\."),
        ({"init": {"range": [-2, 3]}}, r"^\[seeds\] `init` must be a seed: .*, got -2\.$"),
        (
            {"dropout": {"range": [2**63 - 1, 2**63 + 1]}},
            r"`dropout` must be a seed: .*, got 9223372036854775808\.$",
        ),
    ],
)
def test_seeds_outside_int64_or_negative_are_refused(seeds, message):
    with pytest.raises(UnitscopeError, match=message):
        Grid.from_dict({"seeds": seeds})


@pytest.fixture
def sixteen_gb(monkeypatch):
    monkeypatch.setattr("unitscope._memory.memory_limit", lambda: 16 * 10**9)


def test_a_billion_seeds_is_refused_before_the_list_is_made(sixteen_gb):
    with pytest.raises(
        UnitscopeError,
        match=r"^\[seeds\] `init` = \{range = \[0, 1000000000\]\} gives 1,000,000,000 jobs, which "
        r"would need about 4\.1 TB of memory, more than the 16 GB available here; split the "
        r"sweep into smaller ones\.$",
    ):
        Grid.from_dict({"seeds": {"init": {"range": [0, 10**9]}}})


def test_a_product_of_seeds_and_axes_too_large_is_refused_before_expansion(sixteen_gb):
    raw = {
        "axes": {"optim.lr": [0.1, 0.2, 0.3, 0.4, 0.5]},
        "seeds": {"init": {"range": [0, 10**3]}, "data": {"range": [0, 10**3]}},
    }
    with pytest.raises(
        UnitscopeError,
        match=r"^this grid gives 5,000,000 jobs, which would need about 20 GB of memory, more "
        r"than the 16 GB available here; split the sweep into smaller ones \(fewer axis values "
        r"or seeds\)\.$",
    ):
        Grid.from_dict(raw)
