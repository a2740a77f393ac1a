"""Build a D4RL-style dataset by rolling out a behaviour policy in Gymnasium envs.

The behaviour is uniform random actions or a plain-MLP policy file (:mod:`.policies`) with
optional Gaussian noise added before its squash, as D4RL's generation scripts do.

Collection is vectorised: ``num_envs`` envs step in lockstep as one :mod:`gymnasium.vector` env
(sync, or async with one process per env: the same data either way) and the policy runs once
per step on the batch of their observations. Env k collects its own share of the transitions with its
own reset seeds and noise stream (``SeedSequence([seed, k])``), and the dataset is env 0's
episodes, then env 1's, ..., so episodes stay contiguous. The same arguments give a
byte-identical dataset.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coopo import provenance
from coopo.data.dataset import Dataset, DatasetError, DatasetMetadata, make_dataset
from coopo.data.policies import MLPPolicy, load_policy_file
from coopo.envs import ActionScaler, make_env, make_vector_env, reset_where
from coopo.evaluation import reference_scores
from coopo.progress import make_progress
from coopo.version import __version__

# Bumped whenever the same arguments would produce different data (cache keys include it).
BUILDER_VERSION = 2


def rollout(
    env_id: str,
    policy: MLPPolicy | None,
    size: int,
    noise_std: float,
    seed: int,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 8,
    progress: bool = True,
    vector_env: str = "sync",
) -> dict[str, np.ndarray]:
    """``size`` transitions of ``policy`` (None: uniform random) in a vector env of
    ``num_envs`` envs (``vector_env`` 'sync' or 'async', the same data either way; a progress
    bar on a terminal unless ``progress`` is false)."""
    # Over 60 lines: one lockstep loop over the envs whose order of resets and noise draws
    # is what makes a built dataset byte-reproducible; kept in one piece on purpose.
    envs = make_vector_env(env_id, env_kwargs, num_envs, vector_env)
    scaler = ActionScaler.of_env(envs)
    obs_dim = int(np.prod(envs.single_observation_space.shape or ()))
    act_dim = int(scaler.low.shape[0])
    quota = [size // num_envs + (k < size % num_envs) for k in range(num_envs)]
    rngs = [np.random.default_rng(np.random.SeedSequence([seed, k])) for k in range(num_envs)]
    reset_seeds = [
        np.random.SeedSequence([seed, k, 1]).generate_state(1)[0] for k in range(num_envs)
    ]
    episode = [0] * num_envs
    cols: list[dict[str, np.ndarray]] = [
        {
            "observations": np.empty((q, obs_dim), np.float32),
            "actions": np.empty((q, act_dim), np.float32),
            "rewards": np.empty(q, np.float32),
            "next_observations": np.empty((q, obs_dim), np.float32),
            "terminated": np.zeros(q, bool),
            "truncated": np.zeros(q, bool),
        }
        for q in quota
    ]

    def seeds() -> list[int]:
        return [int(reset_seeds[k]) + episode[k] for k in range(num_envs)]

    obs = reset_where(envs, np.ones(num_envs, bool), seeds())
    t = np.zeros(num_envs, int)
    bar = make_progress(enabled=progress)
    task = bar.add_task(f"building {env_id} dataset", total=size)
    try:
        bar.start()
        while True:
            active = np.flatnonzero(t < quota)
            if not len(active):
                break
            if policy is None:
                actions = np.stack([rngs[k].uniform(-1.0, 1.0, act_dim) for k in active])
            else:
                pre = policy.pre_activation(obs[active])
                noise = np.stack([rngs[k].standard_normal(act_dim) for k in active])
                actions = policy.squash(pre + noise_std * noise)
            # Envs whose share is full (quotas differ by at most one) step idle, unrecorded.
            env_actions = np.zeros((num_envs, act_dim))  # float64, as the policy gives them
            env_actions[active] = scaler.to_env(actions)
            next_obs, reward, term, trunc, _ = envs.step(env_actions)
            for k in active:
                c, i = cols[k], t[k]
                c["observations"][i], c["actions"][i] = obs[k], env_actions[k]
                c["rewards"][i], c["next_observations"][i] = reward[k], next_obs[k]
                c["terminated"][i], c["truncated"][i] = term[k], trunc[k]
                t[k] += 1
            ended = term | trunc
            episode = [e + int(ended[k] and k in active) for k, e in enumerate(episode)]
            obs = next_obs.astype(np.float32)
            if ended.any():  # each ended env starts its next episode from its own seed
                obs = reset_where(envs, ended, seeds())
            bar.advance(task, len(active))
    finally:
        bar.stop()
        envs.close()
    for c, q in zip(cols, quota, strict=True):  # each env's share ends its last episode
        if q:
            c["truncated"][-1] |= ~c["terminated"][-1]
    return {name: np.concatenate([c[name] for c in cols]) for name in cols[0]}


def check_policy(policy: MLPPolicy, env_id: str, env_kwargs: dict[str, Any] | None) -> None:
    env = make_env(env_id, env_kwargs)
    obs_dim = int(np.prod(env.observation_space.shape or ()))
    act_dim = int(ActionScaler.of_env(env).low.shape[0])
    env.close()
    if policy.obs_dim != obs_dim:
        raise DatasetError(
            policy.path,
            "layer0/kernel",
            f"policy expects observations of size {policy.obs_dim}, {env_id} gives {obs_dim}",
        )
    if policy.act_dim != act_dim:
        raise DatasetError(
            policy.path,
            "last layer",
            f"policy outputs {policy.act_dim} actions, {env_id} takes {act_dim}",
        )


def build_dataset(
    env_id: str,
    behaviour: str = "random",
    size: int = 100_000,
    noise_std: float = 0.0,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    num_envs: int = 8,
    progress: bool = True,
    vector_env: str = "sync",
) -> Dataset:
    """Roll out ``behaviour`` ('random' or a policy file path) for ``size`` transitions in
    ``num_envs`` envs (``vector_env`` 'sync' or 'async': the same data; a progress bar on a
    terminal unless ``progress`` is false)."""
    if size <= 0:
        raise ValueError(f"dataset size must be positive, got {size}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    if num_envs <= 0:
        raise ValueError(f"num_envs must be positive, got {num_envs}")
    probe = make_env(env_id, env_kwargs)
    scaler = ActionScaler.of_env(probe)
    probe.close()
    policy = None
    if behaviour != "random":
        policy = load_policy_file(behaviour)
        check_policy(policy, env_id, env_kwargs)
    arrays = rollout(
        env_id, policy, size, noise_std, seed, env_kwargs, min(num_envs, size), progress, vector_env
    )
    ref_min, ref_max = reference_scores(env_id)
    meta = DatasetMetadata(
        env_id=env_id,
        env_kwargs=dict(env_kwargs or {}),
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        source=f"coopo.data.build_dataset({env_id}, {behaviour})",
        action_low=tuple(float(x) for x in scaler.low),
        action_high=tuple(float(x) for x in scaler.high),
        extra={
            "recipe": "random" if policy is None else "policy",
            "behaviour": behaviour,
            "policy_sha256": policy.sha256 if policy else None,
            "noise_std": noise_std,
            "seed": seed,
            "size": size,
            "num_envs": min(num_envs, size),
            "builder_version": BUILDER_VERSION,
            "coopo_version": __version__,
            "reference_scores": "d4rl" if ref_min is not None else None,
            "provenance": provenance.collect(),
        },
    )
    return make_dataset(meta.source, meta, **arrays)
