"""End-to-end runs through the runner: resume, methods, seeds, data modes, divergence, bad input,
any pair of algorithms, a new algorithm added from outside the package."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from coopo import data
from coopo.api import resume, train
from coopo.config import ConfigError, validate_config
from coopo.data import DatasetError
from coopo.envs import EnvError
from coopo.logger import read_metrics
from coopo.policy import load_policy
from coopo.runner import TrainingDiverged

from .conftest import cfg


@pytest.mark.slow
def test_resume_reproduces_an_unbroken_run(tmp_path: Path):
    full = train(cfg(tmp_path, "full"))
    part = train(cfg(tmp_path, "part", max_phases=1))
    assert not part.finished and not (tmp_path / "part" / "policy").exists()
    # a partial phase's records written after the checkpoint must not survive the resume
    with open(tmp_path / "part" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"seed": 0, "junk": 1}) + "\n")
    resumed = resume(tmp_path / "part", max_phases=2)
    assert not resumed.finished
    resumed = resume(tmp_path / "part")
    assert resumed.finished and resumed.final_returns == full.final_returns
    a = (tmp_path / "full" / "policy" / "seed_0.msgpack").read_bytes()
    b = (tmp_path / "part" / "policy" / "seed_0.msgpack").read_bytes()
    assert a == b
    strip = lambda rs: [r for r in rs if "junk" not in r]  # noqa: E731
    assert strip(read_metrics(tmp_path / "full")) == read_metrics(tmp_path / "part")


def test_resume_needs_a_run_directory(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="not a coopo run"):
        resume(tmp_path)


@pytest.mark.parametrize("method", ["o2o", "offline", "online"])
def test_baseline_methods_run_with_the_same_budget(tmp_path: Path, method):
    console = Console(record=True, width=200)
    c = cfg(tmp_path, method=method, random_steps=100)
    assert c.cycles == 2  # the baselines spend both cycles' budgets in their one cycle
    result = train(c, console)
    text = console.export_text()
    assert "cycle 1/1" in text and "cycle 1/2" not in text and "cycle 2/2" not in text
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["env_steps"] == (0 if method == "offline" else 400)
    assert result.finished and np.isfinite(result.final_returns[0])


@pytest.mark.slow
def test_multi_seed_run_with_union_offline_data(tmp_path: Path):
    result = train(cfg(tmp_path, seeds=(0, 1), offline_data="dataset+online"))
    assert set(result.final_returns) == {0, 1}
    records = read_metrics(tmp_path / "run")
    assert {r["seed"] for r in records} == {0, 1}
    w0 = (tmp_path / "run" / "policy" / "seed_0.msgpack").read_bytes()
    w1 = (tmp_path / "run" / "policy" / "seed_1.msgpack").read_bytes()
    assert w0 != w1
    assert load_policy(tmp_path / "run", seed=1)(np.zeros(4)).shape == (1,)


@pytest.mark.slow
def test_offline_online_fraction_changes_only_the_offline_phases_after_online_data(
    tmp_path: Path,
):
    """The fixed online share reaches the offline sampler: with all of each batch from the
    online data, the second offline phase trains on other rows than uniform over the union
    (the first offline phase, with no online data yet, is the same)."""
    union = cfg(tmp_path, "union", cycles=2, offline_data="dataset+online")
    train(union)
    train(dataclasses.replace(union, run_dir=str(tmp_path / "share"), offline_online_fraction=1.0))

    def offline_losses(name: str) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for r in read_metrics(tmp_path / name):
            if r.get("phase") == "offline" and "offline/critic_loss" in r:
                out.setdefault(r["cycle"], []).append(r["offline/critic_loss"])
        return out

    u, s = offline_losses("union"), offline_losses("share")
    assert u[0] == s[0]
    assert u[1] != s[1]


def test_divergence_is_reported_with_where_it_happened(tmp_path: Path):
    c = cfg(tmp_path, reward_scale=1e36, cycles=2)
    with pytest.raises(
        TrainingDiverged,
        match=r"offline/critic_loss became non-finite \(seeds \[0\]\) in the offline phase of cycle 1 .*last good checkpoint",
    ):
        train(c)
    assert not (tmp_path / "run" / "policy").exists()


def test_unknown_env_id(tmp_path: Path):
    with pytest.raises(EnvError, match="Hoper-v5"):
        train(cfg(tmp_path, env_id="Hoper-v5"))


def test_dataset_from_another_env_is_refused(tmp_path: Path):
    ds = data.build_dataset("Hopper-v5", "random", size=100)
    path = data.write_npz(ds, tmp_path / "hopper.npz")
    with pytest.raises(
        DatasetError, match="collected in Hopper-v5, but the run's env is InvertedPendulum-v5"
    ):
        train(cfg(tmp_path, dataset=str(path)))
    unlabeled = data.write_npz(ds.with_metadata(env_id=""), tmp_path / "unlabeled.npz")
    with pytest.raises(DatasetError, match="dimension 11 does not match InvertedPendulum-v5"):
        train(cfg(tmp_path, dataset=str(unlabeled)))


@pytest.mark.slow
@pytest.mark.parametrize(
    "offline, online, method",
    [
        ("iql", "td3", "coopo"),
        ("cal_ql", "ppo", "coopo"),
        ("td3_bc", "rlpd", "coopo"),
        ("cql", "sac", "o2o"),
        ("iql", "iql", "o2o"),  # IQL fine-tuning: one state through both phases
    ],
)
def test_any_pair_runs_end_to_end(tmp_path: Path, offline: str, online: str, method: str):
    from coopo.algos import ppo

    c = cfg(
        tmp_path,
        offline=offline,
        online=online,
        method=method,
        ppo=ppo.Config(rollout_length=100, num_minibatches=4, epochs=2, value_warmup_steps=5),
    )
    result = train(c)
    assert result.finished and np.isfinite(result.final_returns[0])
    records = read_metrics(tmp_path / "run")
    online_records = [r for r in records if r.get("phase") == "online" and "online/actor_loss" in r]
    assert online_records and all(np.isfinite(r["online/actor_loss"]) for r in online_records)
    assert load_policy(tmp_path / "run")(np.zeros(4)).shape == (1,)


@pytest.mark.parametrize("role", ["offline", "online"])
def test_a_new_algorithm_is_one_module_and_one_registry_line(tmp_path: Path, monkeypatch, role):
    from coopo.algos import ALGORITHMS

    from . import toy_algorithm as toy

    monkeypatch.setattr(toy, "ROLES", frozenset({role}))  # it plays this role only
    monkeypatch.setitem(ALGORITHMS, toy.NAME, toy)  # the registry line
    c = cfg(tmp_path, **{role: toy.NAME})
    validate_config(c)
    other = "online" if role == "offline" else "offline"
    with pytest.raises(ConfigError, match=f"--{other}: unknown"):  # a role it does not declare
        validate_config(cfg(tmp_path, **{other: toy.NAME}))
    assert c.algo_config(toy.NAME) == toy.Config()
    result = train(c)
    assert result.finished and np.isfinite(result.final_returns[0])
    records = read_metrics(tmp_path / "run")
    assert any(f"{role}/bc_loss" in r for r in records)
    assert load_policy(tmp_path / "run")(np.zeros(4)).shape == (1,)
