from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coopo import data
from coopo.cli import main
from coopo.data import DatasetError
from coopo.recipes import build_recipe, parse_recipe

from .conftest import write_policy_file


def test_parse_recipe_names_and_errors():
    assert parse_recipe("hopper-medium-replay") == ("hopper", "medium-replay")
    assert parse_recipe("ant-medium-expert") == ("ant", "medium-expert")
    with pytest.raises(
        ValueError, match="unknown task 'hoper'.*hopper, halfcheetah, walker2d, ant"
    ):
        parse_recipe("hoper-medium")
    with pytest.raises(ValueError, match="unknown quality 'mediun'.*random, medium"):
        parse_recipe("hopper-mediun")


def test_random_recipe_is_byte_identical_for_a_seed(tmp_path: Path):
    a = build_recipe("hopper", "random", size=500, seed=3, reference_episodes=3)
    b = build_recipe("hopper", "random", size=500, seed=3, reference_episodes=3)
    c = build_recipe("hopper", "random", size=500, seed=4, reference_episodes=3)
    assert a.content_hash() == b.content_hash() != c.content_hash()
    pa, pb = data.write_npz(a, tmp_path / "a.npz"), data.write_npz(b, tmp_path / "b.npz")
    assert pa.read_bytes() == pb.read_bytes()


def test_recipe_metadata_and_reference_scores(tmp_path: Path):
    expert = write_policy_file(tmp_path / "expert.npz", obs_dim=11, act_dim=3, seed=1)
    ds = build_recipe("hopper", "expert", size=300, expert_policy=str(expert), reference_episodes=2)
    m = ds.metadata
    assert m.env_id == "Hopper-v5" and m.dataset_id == "coopo/hopper/expert-v0"
    assert m.extra["recipe"] == "hopper-expert" and m.extra["seed"] == 0
    assert m.extra["expert_policy_sha256"] and m.extra["coopo_version"]
    assert m.extra["d4rl_ref_max_score"] == 3234.3
    # measured on v5: random-policy and expert-policy returns, not D4RL's numbers
    assert m.ref_min_score is not None and m.ref_max_score is not None
    assert m.ref_min_score != -20.272305 and m.extra["ref_max_source"].startswith("expert policy")
    assert np.all(np.abs(ds.actions) <= 1.0)


def test_expert_recipes_need_a_matching_policy(tmp_path: Path):
    with pytest.raises(ValueError, match="needs --expert-policy"):
        build_recipe("walker2d", "medium-expert", size=10)
    wrong = write_policy_file(tmp_path / "pendulum.npz", obs_dim=4, act_dim=1)
    with pytest.raises(DatasetError, match="observations of size 4, Walker2d-v5 gives 17"):
        build_recipe("walker2d", "expert", size=10, expert_policy=str(wrong))
    with pytest.raises(DatasetError, match="policy file not found"):
        build_recipe("walker2d", "expert", size=10, expert_policy=str(tmp_path / "none.npz"))


def test_ant_uses_the_27_dim_observation():
    ds = build_recipe("ant", "random", size=50, reference_episodes=1)
    assert ds.obs_dim == 27 and ds.metadata.env_kwargs == {"include_cfrc_ext_in_observation": False}


def test_cli_recipe_writes_minari_and_d4rl(tmp_path: Path, capsys):
    out = tmp_path / "hopper-random.hdf5"
    assert main(["data", "build", "hopper-random", "--size", "200", "--export-d4rl", str(out)]) == 0
    minari_ds = data.load("coopo/hopper/random-v0")
    d4rl_ds = data.load(out)
    np.testing.assert_array_equal(minari_ds.observations, d4rl_ds.observations)
    assert minari_ds.metadata.extra["recipe"] == "hopper-random"
    capsys.readouterr()
    assert main(["data", "build", "hopper-nothing"]) == 2  # a usage error
    assert "unknown quality" in capsys.readouterr().err


@pytest.fixture
def fake_shipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Stand in for the shipped hopper medium policy and its (tiny) training record."""
    policy = write_policy_file(tmp_path / "hopper-medium.npz", obs_dim=11, act_dim=3, seed=2)
    record = {
        "target_return": 1e9,
        "max_steps": 600,
        "eval_every": 300,
        "eval_episodes": 1,
        "seed": 0,
    }
    import coopo.data.recipes as recipes

    monkeypatch.setattr(recipes, "shipped_policy", lambda task: (policy, record))
    return policy


def test_medium_and_medium_expert_recipes(fake_shipped: Path, tmp_path: Path):
    medium = build_recipe("hopper", "medium", size=200, reference_episodes=1)
    assert medium.size == 200 and medium.metadata.extra["medium_policy_sha256"]
    expert = write_policy_file(tmp_path / "e.npz", obs_dim=11, act_dim=3, seed=5)
    both = build_recipe(
        "hopper", "medium-expert", size=200, expert_policy=str(expert), reference_episodes=1
    )
    assert both.size == 400
    np.testing.assert_array_equal(both.observations[:200], medium.observations)


@pytest.mark.slow
def test_medium_replay_reruns_the_recorded_training(fake_shipped: Path):
    ds = build_recipe("hopper", "medium-replay", reference_episodes=1)
    again = build_recipe("hopper", "medium-replay", reference_episodes=1)
    assert ds.content_hash() == again.content_hash()  # the re-run reproduces the buffer
    assert ds.size == 600  # every transition the recorded run collected
    assert ds.metadata.extra["recipe"] == "hopper-medium-replay"
    assert ds.truncated[-1] or ds.terminated[-1]


def test_train_behaviour_stops_at_the_first_evaluation_reaching_the_target(tmp_path: Path):
    from coopo.data.policies import load_policy_file
    from coopo.recipes.behaviour import train_behaviour

    policy, replay, record = train_behaviour(
        "InvertedPendulum-v5",
        target_return=1.0,
        out_dir=tmp_path,
        max_steps=3_000,
        eval_every=1_000,
        eval_episodes=2,
    )
    assert (
        record["reached_target"] and record["env_steps"] == 1_000 == record["stopped_at_env_steps"]
    )
    assert replay.size == 1_000 and replay.metadata.extra["recipe"] == "medium-replay"
    assert load_policy_file(policy).obs_dim == 4
    assert (tmp_path / "record.json").is_file()


def test_train_behaviour_survives_a_due_in_phase_checkpoint(tmp_path: Path, monkeypatch):
    """A behaviour run longer than --checkpoint-minutes (walker2d-medium-replay's) once failed
    on the in-phase checkpoint of a run that `Trainer.run` never opened."""
    from coopo.recipes.behaviour import train_behaviour
    from coopo.resume_point import CheckpointClock

    monkeypatch.setattr(CheckpointClock, "due", lambda self, before, after: True)
    _, replay, record = train_behaviour(
        "InvertedPendulum-v5",
        target_return=1e9,
        out_dir=tmp_path,
        max_steps=1_000,
        eval_every=500,
        eval_episodes=1,
    )
    assert record["env_steps"] == 1_000 and replay.size == 1_000
    assert not list(tmp_path.rglob("checkpoints"))


@pytest.mark.parametrize("task", ["hopper", "halfcheetah", "walker2d", "ant"])
def test_shipped_medium_policies_fit_their_envs(task: str):
    from coopo.data.builder import check_policy
    from coopo.data.policies import load_policy_file
    from coopo.recipes import TASKS, shipped_policy

    path, record = shipped_policy(task)
    env_id, kw = TASKS[task]
    check_policy(load_policy_file(path), env_id, kw)
    assert record["env_id"] == env_id and record["reached_target"]
    assert path.stat().st_size < 1_000_000  # small files


def test_real_hopper_medium_recipe_beats_random():
    medium = build_recipe("hopper", "medium", size=3_000, reference_episodes=2)
    random = build_recipe("hopper", "random", size=3_000, reference_episodes=2)
    assert medium.episode_returns().mean() > 5 * random.episode_returns().mean()
