"""Benchmarks measure what their rows say: every algorithm a benchmark names is pinned in its
configuration, never taken from a default that may change under the label (the default online
optimizer became Cal-QL while rows labelled "online sac" kept reading TrainConfig's default)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

from coopo.algos import ALGORITHMS
from coopo.config import COOPO_ALGO_DEFAULTS, TrainConfig
from tests.conftest import project_suites

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


tp = load("throughput")
REGISTRY = ALGORITHMS


@pytest.mark.parametrize("bench", tp.update_benches(), ids=lambda b: b.label)
def test_each_timed_update_names_its_algorithm_and_config(bench):
    assert bench.algorithm in bench.label
    assert type(bench.config) is REGISTRY[bench.algorithm].Config
    if bench.algorithm == "cal_ql":
        assert f"{bench.config.num_samples} sampled actions" in bench.label


def test_the_default_online_optimizer_is_timed_as_coopo_runs_it():
    samples = {b.config.num_samples for b in tp.update_benches() if b.algorithm == "cal_ql"}
    default = COOPO_ALGO_DEFAULTS["cal_ql"]["num_samples"]
    assert tp.DEFAULT_CALQL_SAMPLES == default and default in samples
    assert TrainConfig().online in {opt for opt, _, _ in tp.ONLINE_ROWS}


@pytest.mark.parametrize("optimizer", [opt for opt, _, _ in tp.ONLINE_ROWS])
def test_online_rows_pin_method_and_both_algorithms(optimizer):
    fields = tp.online_config(optimizer, seeds=1)
    assert {"method", "offline", "online"} <= fields.keys()
    cfg = TrainConfig(**fields)
    assert cfg.online == optimizer and cfg.offline == "awac_kl" and cfg.method == "coopo"
    assert optimizer in tp.online_label(optimizer)
    if optimizer == "cal_ql":
        assert cfg.cal_ql.num_samples == tp.DEFAULT_CALQL_SAMPLES


def test_a_row_labelled_sac_runs_sac_whatever_the_default():
    assert TrainConfig().online != "sac"  # the default moved on; the SAC rows must not
    assert TrainConfig(**tp.online_config("sac", seeds=1)).online == "sac"


def test_d3rlpy_rows_compare_like_with_like():
    d3 = load("d3rlpy_rows")  # imports numpy only; d3rlpy is imported inside its functions
    assert d3.CALQL_SAMPLES == tp.DEFAULT_CALQL_SAMPLES
    online = {opt for opt, _, _ in tp.ONLINE_ROWS}
    source = (BENCHMARKS / "d3rlpy_rows.py").read_text()
    for optimizer, _, key in tp.D3RLPY_ONLINE_PAIRS:
        assert optimizer in online and f'out["{key}"]' in source


def test_every_trainconfig_in_a_benchmark_names_its_algorithms():
    """Any TrainConfig(...) built in benchmarks/ passes online= and offline= (or the fields of
    a config builder the tests above check)."""
    builders = {"online_config", "coopo_config"}
    for path in sorted(BENCHMARKS.glob("*.py")):
        if path.name == "suites.py":  # its TrainConfigs are suite bases: see the test below
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "TrainConfig"):
                continue
            named = {k.arg for k in node.keywords if k.arg}
            spread = [k.value for k in node.keywords if k.arg is None]
            from_builder = any(
                isinstance(v, ast.Call) and getattr(v.func, "id", "") in builders for v in spread
            )
            assert from_builder or {"online", "offline"} <= named, (
                f"{path.name}:{node.lineno} builds a TrainConfig without naming its algorithms"
            )


def test_every_suite_method_names_its_algorithms():
    """A suite's base leaves the algorithms to its methods, so every method of this project's
    suites pins the schedule and the algorithms it runs (an online-only method, its online
    optimizer), never a default that may change under its label."""
    for suite in project_suites().SUITES.values():
        for m in suite.methods:
            o = m.overrides
            assert {"method", "online"} <= o.keys(), (suite.name, m.name)
            assert "offline" in o or o["method"] == "online", (suite.name, m.name)


parity = load("parity_d3rlpy")


@pytest.mark.parametrize("cell", parity.cells().values(), ids=lambda c: c.name)
def test_parity_cells_spell_out_every_coopo_hyperparameter(cell):
    import dataclasses

    from coopo.config import validate_config

    config_class = REGISTRY[cell.coopo_algorithm].Config
    assert {f.name for f in dataclasses.fields(config_class)} == set(cell.coopo_fields)
    fields = parity.coopo_config(cell, "hopper-medium-replay", (0, 1), 30_000, "/tmp/unused")
    cfg = TrainConfig(**fields)
    validate_config(cfg)
    assert cfg.method == "offline" and cfg.offline == cell.coopo_algorithm
    assert cfg.env_id == "Hopper-v5"
    assert getattr(cfg, cell.coopo_algorithm) == config_class(**cell.coopo_fields)
    assert cfg.batch_size == cell.d3rlpy_kwargs["batch_size"] == parity.BATCH
    assert cfg.network.num_critics == cell.d3rlpy_kwargs["n_critics"] == 2


@pytest.mark.parametrize("cell", parity.cells().values(), ids=lambda c: c.name)
def test_parity_cells_set_shared_hyperparameters_equal(cell):
    mismatched = {what for what, _ in cell.unmatched}
    compared = 0
    for ours, theirs in parity.PAIRED:
        if ours not in cell.coopo_fields or theirs not in cell.d3rlpy_kwargs:
            continue
        if ours == "num_samples" and "sampled actions per source" in mismatched:
            assert cell.coopo_fields[ours] != cell.d3rlpy_kwargs[theirs]  # listed as differing
            continue
        assert cell.coopo_fields[ours] == cell.d3rlpy_kwargs[theirs], (ours, theirs)
        compared += 1
    assert compared >= 4
    if "cql_alpha" in cell.coopo_fields:  # a fixed weight on both sides
        assert cell.d3rlpy_kwargs["alpha_learning_rate"] == 0.0
        assert cell.d3rlpy_kwargs["initial_alpha"] == 1.0


def test_parity_table_of_known_runs():
    def run(final: float) -> dict:
        return {"evals": [[k * 100, 0.0 if k < 8 else final] for k in range(1, 11)], "wall_s": 60}

    runs = {}
    for seed, (ours, theirs) in enumerate([(50.0, 40.0), (52.0, 41.0), (54.0, 42.0)]):
        runs[parity.run_key("coopo", "iql", "hopper-medium-replay", 1000, seed)] = run(ours)
        runs[parity.run_key("d3rlpy", "iql", "hopper-medium-replay", 1000, seed)] = run(theirs)
    # another budget's runs are not mixed in
    runs[parity.run_key("d3rlpy", "iql", "hopper-medium-replay", 200, 0)] = run(0.0)
    (row,) = parity.table({"runs": runs}, 1000).splitlines()[2:]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["iql", "hopper-medium-replay"]
    assert cells[2].startswith("52.0 [") and cells[2].endswith("(3)")  # mean of last 3 evals
    assert cells[3].startswith("41.0 [")
    point, lo, hi = (float(x.strip("[],")) for x in cells[4].split())
    assert point == 11.0 and lo <= 11.0 <= hi
    assert cells[5:] == ["1.0", "1.0"]
