"""Vector envs: seeded per-env resets, lockstep replay for mid-episode resume, evaluation and
dataset building on gymnasium.vector, and sync == async."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from coopo.config import PRESETS, ConfigError, validate_config
from coopo.data import build_dataset
from coopo.envs import ActionScaler, EnvError, make_env, make_vector_env, reset_where
from coopo.evaluation import Evaluator
from coopo.resume_point import ReplayMismatch, replay_episodes

ENV = "Hopper-v5"


def actions_for(n: int, steps: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.uniform(-1, 1, 3).astype(np.float32) for _ in range(steps)] for _ in range(n)]


def play(seed: int, actions: list[np.ndarray], scaler: ActionScaler) -> tuple[np.ndarray, float]:
    """One plain env: reset with ``seed``, take ``actions``; (observation, return)."""
    env = make_env(ENV)
    obs, ret = env.reset(seed=seed)[0], 0.0
    for a in actions:
        obs, r, term, trunc, _ = env.step(scaler.to_env(a[None])[0])
        ret += float(r)
        assert not (term or trunc)
    env.close()
    return np.asarray(obs, np.float32), ret


def test_bad_mode_and_bad_env_id_name_the_problem():
    with pytest.raises(ValueError, match="sync, async"):
        make_vector_env(ENV, {}, 2, "threads")
    with pytest.raises(ValueError, match="num_envs"):
        make_vector_env(ENV, {}, 0)
    for mode in ("sync", "async"):
        with pytest.raises(EnvError, match="NoSuchEnv-v0"):
            make_vector_env("NoSuchEnv-v0", {}, 2, mode)
    bad = dataclasses.replace(PRESETS["smoke"], vector_env="threads")
    with pytest.raises(ConfigError, match="--vector-env"):
        validate_config(bad)


def test_reset_where_resets_only_the_masked_envs_with_their_seeds():
    venv = make_vector_env(ENV, {}, 3)
    try:
        first = reset_where(venv, np.ones(3, bool), [1, 2, 3])
        stepped, *_ = venv.step(np.zeros((3, 3), np.float32))
        again = reset_where(venv, np.array([False, True, False]), [0, 2, 0])
        np.testing.assert_array_equal(again[1], first[1])  # the same seed, the same start
        np.testing.assert_array_equal(again[[0, 2]], stepped[[0, 2]].astype(np.float32))
        assert not np.array_equal(again[0], first[0])
    finally:
        venv.close()


def test_replay_rebuilds_every_env_mid_episode_in_lockstep():
    """Episodes of different lengths (none, short, long) are replayed so that each env ends in
    the state a plain env reaches, and steps on from there identically."""
    seeds, lengths = [11, 12, 13], [0, 3, 17]
    acts = [a[:n] for a, n in zip(actions_for(3, 17, 0), lengths, strict=True)]
    venv = make_vector_env(ENV, {}, 3)
    scaler = ActionScaler.of_env(venv)
    try:
        expected = [play(s, a, scaler) for s, a in zip(seeds, acts, strict=True)]
        obs = replay_episodes(venv, seeds, acts, scaler.to_env, [r for _, r in expected])
        for i, (o, _) in enumerate(expected):
            np.testing.assert_array_equal(obs[i], o)
        nxt = np.full((3, 3), 0.3, np.float32)
        stepped, *_ = venv.step(scaler.to_env(nxt))
        for i, s in enumerate(seeds):
            o, _ = play(s, [*acts[i], nxt[i]], scaler)
            np.testing.assert_array_equal(stepped[i].astype(np.float32), o)
        with pytest.raises(ReplayMismatch, match="env 2"):
            wrong = [r for _, r in expected[:2]] + [expected[2][1] + 1.0]
            replay_episodes(venv, seeds, acts, scaler.to_env, wrong)
    finally:
        venv.close()


def test_evaluation_runs_each_episode_to_its_own_end():
    """Lockstep evaluation gives every episode the return and length a plain env gives it,
    though the vector env keeps stepping the episodes that ended first."""
    ev = Evaluator(ENV, {}, seeds=[0, 1], episodes=3)
    try:
        rng = np.random.default_rng(0)
        table = rng.uniform(-1, 1, (2, 3, 3)).astype(np.float32)

        def policy(obs: np.ndarray) -> np.ndarray:  # one fixed action per (seed, episode)
            return table

        returns, lengths = ev.run(policy, round_index=4)
        assert len(set(lengths.ravel().tolist())) > 1  # episodes of different lengths
        for i, s in enumerate([0, 1]):
            for e in range(3):
                env = make_env(ENV)
                env.reset(seed=ev.base_seed + 10_000 * s + 4 * 3 + e)
                ret, n, over = 0.0, 0, False
                while not over:
                    _, r, term, trunc, _ = env.step(ev.scaler.to_env(table[i, e]))
                    ret, n, over = ret + r, n + 1, term or trunc
                env.close()
                assert (returns[i, e], lengths[i, e]) == (ret, n)
    finally:
        ev.close()


def test_dataset_building_is_the_same_in_async_mode():
    sync = build_dataset(ENV, "random", size=603, seed=3, num_envs=4, progress=False)
    asyn = build_dataset(
        ENV, "random", size=603, seed=3, num_envs=4, progress=False, vector_env="async"
    )
    assert sync.content_hash() == asyn.content_hash()
    assert sync.terminated.any() or sync.truncated.sum() > 4  # episodes ended and restarted


@pytest.mark.slow
def test_training_is_the_same_with_async_envs(tmp_path: Path):
    """Two seeds whose episodes end at different steps: the async vector env gives the same
    metrics, record for record, as the sync one."""
    base = dataclasses.replace(
        PRESETS["smoke"], seeds=(0, 1), progress=False, cycles=1, eval_interval=100
    )
    from coopo.api import train

    out = {}
    for mode in ("sync", "async"):
        cfg = dataclasses.replace(base, vector_env=mode, run_dir=str(tmp_path / mode))
        train(cfg)
        recs = [json.loads(line) for line in (tmp_path / mode / "metrics.jsonl").open()]
        out[mode] = [{k: v for k, v in r.items() if "time" not in k} for r in recs]
    assert out["sync"] == out["async"]
    lengths = [r for r in out["sync"] if "online/episode_length" in r]
    assert lengths  # episodes finished inside the online phase
