"""End-to-end: schedules, the real CLI on tiny budgets, resume, divergence and bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from coopo import data
from coopo.cli import main
from coopo.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    validate_config,
)
from coopo.data import DatasetError
from coopo.envs import EnvError
from coopo.logger import read_metrics
from coopo.policy import load_policy
from coopo.runner import Trainer, TrainingDiverged, resume, train
from coopo.schedule import schedule

SMOKE = dataclasses.replace(PRESETS["smoke"], progress=False, build_size=1_000)


def cfg(tmp_path: Path, name: str = "run", **kw) -> TrainConfig:
    return dataclasses.replace(SMOKE, run_dir=str(tmp_path / name), **kw)


# ---------------------------------------------------------------- schedules
@pytest.mark.parametrize("method", ["coopo", "o2o", "offline", "online"])
def test_schedules_share_budgets(method):
    plan = schedule(method, cycles=3, offline_steps=100, online_steps=40)
    off = sum(p.steps for p in plan if p.kind == "offline")
    on = sum(p.steps for p in plan if p.kind == "online")
    assert off == (300 if method != "online" else 0)
    assert on == (120 if method != "offline" else 0)
    if method == "coopo":
        assert [p.kind for p in plan] == ["offline", "online"] * 3
        assert [p.cycle for p in plan] == [0, 0, 1, 1, 2, 2]


def test_config_dict_round_trip():
    c = dataclasses.replace(PRESETS["d4rl"], seeds=(3, 4), env_kwargs={"a": "1"})
    assert config_from_dict(json.loads(json.dumps(config_to_dict(c)))) == c


@pytest.mark.parametrize(
    "change, option",
    [
        ({"cycles": 0}, "--cycles"),
        ({"online_dataset_fraction": 1.5}, "--online-dataset-fraction"),
        ({"eval_interval": 75}, "--eval-interval"),
        ({"seeds": (1, 1)}, "--seeds"),
        ({"dataset": "none"}, "--dataset"),
        ({"batch_size": 0}, "--batch-size"),
    ],
)
def test_bad_config_values_name_the_option(change, option):
    with pytest.raises(ConfigError, match=option):
        validate_config(dataclasses.replace(SMOKE, **change))


# ---------------------------------------------------------------- the real CLI
def test_cli_train_eval_and_run_directory(tmp_path: Path, capsys):
    run = tmp_path / "cli-run"
    rc = main(
        [
            "train",
            "--preset",
            "smoke",
            "--build-size",
            "1000",
            "--run-dir",
            str(run),
            "--no-progress",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "cycle 2/2 online" in out and "done" in out
    assert json.loads((run / "config.json").read_text())["method"] == "coopo"
    records = read_metrics(run)
    evals = [r for r in records if "eval/return" in r]
    assert len(evals) == 4 and [r["phase"] for r in evals] == ["offline", "online"] * 2
    assert evals[-1]["env_steps"] == 400
    assert any("offline/critic_loss" in r for r in records) and any(
        "online/alpha" in r for r in records
    )
    assert list((run / "tb" / "seed_0").glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "latest").read_text().startswith("phase-")
    info = json.loads((run / "dataset.json").read_text())
    assert info["env_id"] == "InvertedPendulum-v5" and info["episode_return_mean"] > 0
    assert "normalized_return" not in info  # no reference returns for this task
    policy = load_policy(run)
    a = policy(np.zeros(4, np.float32))
    assert a.shape == (1,) and -3.0 <= a[0] <= 3.0
    assert policy(np.zeros((7, 4))).shape == (7, 1)
    with pytest.raises(ValueError, match="size 4"):
        policy(np.zeros(5))
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert "InvertedPendulum-v5: return" in capsys.readouterr().out
    # a second train into the same directory refuses rather than overwriting
    assert main(["train", "--preset", "smoke", "--run-dir", str(run), "--no-progress"]) == 1
    assert "already holds a run" in capsys.readouterr().out
    assert len(read_metrics(run)) == len(records)


def test_cli_data_build_and_info(tmp_path: Path, capsys):
    out = tmp_path / "d.hdf5"
    assert (
        main(
            [
                "data",
                "build",
                "--env-id",
                "Hopper-v5",
                "--size",
                "200",
                "--format",
                "d4rl",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "wrote 200 transitions" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["transitions"] == 200 and card["env_id"] == "Hopper-v5"
    assert card["ref_max_score"] == 3234.3 and "normalized_mean" in card
    assert main(["data", "build", "--env-id", "Hopper-v5", "--size", "50"]) == 0
    assert data.load("coopo/hopper/random-v0").size == 50
    assert main(["data", "info", "nothing/here-v0"]) == 1
    assert "not found" in capsys.readouterr().out


def test_cli_usage_errors(capsys):
    assert main([]) == 2
    assert main(["fly"]) == 2
    assert main(["train", "--preset", "nope"]) == 2
    assert main(["train", "--preset", "smoke", "--cycles", "0", "--no-progress"]) == 1
    assert "--cycles" in capsys.readouterr().out


# ---------------------------------------------------------------- resume & reproducibility
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


# ---------------------------------------------------------------- methods, seeds, data modes
@pytest.mark.parametrize("method", ["o2o", "offline", "online"])
def test_baseline_methods_run_with_the_same_budget(tmp_path: Path, method):
    result = train(cfg(tmp_path, method=method, random_steps=100))
    summary = json.loads((tmp_path / "run" / "results.json").read_text())
    assert summary["env_steps"] == (0 if method == "offline" else 400)
    assert result.finished and np.isfinite(result.final_returns[0])


def test_multi_seed_run_with_union_offline_data(tmp_path: Path):
    result = train(cfg(tmp_path, seeds=(0, 1), offline_data="dataset+online"))
    assert set(result.final_returns) == {0, 1}
    records = read_metrics(tmp_path / "run")
    assert {r["seed"] for r in records} == {0, 1}
    w0 = (tmp_path / "run" / "policy" / "seed_0.msgpack").read_bytes()
    w1 = (tmp_path / "run" / "policy" / "seed_1.msgpack").read_bytes()
    assert w0 != w1
    assert load_policy(tmp_path / "run", seed=1)(np.zeros(4)).shape == (1,)


def test_online_collection_keeps_terminated_and_truncated_apart(tmp_path: Path):
    c = cfg(tmp_path, env_kwargs={"max_episode_steps": "3"}, seeds=(0,))
    trainer = Trainer(c, tmp_path / "run")
    try:
        from coopo.checkpoint import Counters
        from coopo.schedule import Phase

        state = trainer.online_phase(trainer.init_state(), Phase("online", 100, 0), Counters(), 0)
    finally:
        trainer.close()
    buf = state.buffer
    n = int(buf.size[0])
    te = np.asarray(buf.data.terminated[0, :n])
    tr = np.asarray(buf.data.truncated[0, :n])
    # time-limit truncations are recorded without termination (both can hold on one step)
    assert n == 100 and np.any((tr == 1) & (te == 0))
    ends = np.flatnonzero(te + tr)
    assert np.all(np.diff(np.concatenate([[-1], ends])) <= 3)  # episodes never exceed the limit
    obs = np.asarray(buf.data.observations[0, :n])
    nxt = np.asarray(buf.data.next_observations[0, :n])
    inner = (te + tr)[:-1] == 0
    np.testing.assert_allclose(nxt[:-1][inner], obs[1:][inner], rtol=1e-6)


# ---------------------------------------------------------------- bad input
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


def test_cli_choices_match_the_registries():
    import typing

    from coopo.config import OfflineName, OnlineName
    from coopo.offline import OFFLINE_ALGORITHMS
    from coopo.online import ONLINE_OPTIMIZERS

    assert set(typing.get_args(OfflineName)) == set(OFFLINE_ALGORITHMS)
    assert set(typing.get_args(OnlineName)) == set(ONLINE_OPTIMIZERS) | set(OFFLINE_ALGORITHMS)
    for name in [*OFFLINE_ALGORITHMS, *ONLINE_OPTIMIZERS]:
        assert dataclasses.is_dataclass(getattr(TrainConfig(), name))


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
    from coopo.online import ppo

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


def test_preset_baselines_parse_and_validate():
    for name in ("awac-ft", "iql-ft", "calql-ft", "rlpd"):
        validate_config(PRESETS[name])
    assert PRESETS["rlpd"].utd_ratio == 20 and PRESETS["iql-ft"].online == "iql"
