"""Build a D4RL-style dataset by rolling out a behaviour policy in a Gymnasium env.

The behaviour is uniform random actions or a plain-MLP policy file (:mod:`.policies`) with
optional Gaussian noise added before its squash, as D4RL's generation scripts do. Rollouts
are reproducible: env resets are seeded ``seed, seed + 1, ...`` per episode and the noise
comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from coopo import __version__
from coopo.data.dataset import Dataset, DatasetError, DatasetMetadata, make_dataset
from coopo.data.policies import load_policy_file
from coopo.envs import ActionScaler, make_env
from coopo.evaluation import reference_scores


def build_dataset(
    env_id: str,
    behaviour: str = "random",
    size: int = 100_000,
    noise_std: float = 0.0,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
) -> Dataset:
    """Roll out ``behaviour`` ('random' or a policy file path) for ``size`` transitions."""
    if size <= 0:
        raise ValueError(f"dataset size must be positive, got {size}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    env = make_env(env_id, env_kwargs)
    scaler = ActionScaler.of_env(env)
    obs_dim, act_dim = int(np.prod(env.observation_space.shape or ())), int(scaler.low.shape[0])
    rng = np.random.default_rng(seed)
    policy = None
    if behaviour != "random":
        policy = load_policy_file(behaviour)
        if policy.obs_dim != obs_dim:
            raise DatasetError(
                behaviour,
                "layer0/kernel",
                f"policy expects observations of size {policy.obs_dim}, {env_id} gives {obs_dim}",
            )
        if policy.act_dim != act_dim:
            raise DatasetError(
                behaviour,
                "last layer",
                f"policy outputs {policy.act_dim} actions, {env_id} takes {act_dim}",
            )
    out = {
        "observations": np.empty((size, obs_dim), np.float32),
        "actions": np.empty((size, act_dim), np.float32),
        "rewards": np.empty(size, np.float32),
        "next_observations": np.empty((size, obs_dim), np.float32),
        "terminated": np.zeros(size, bool),
        "truncated": np.zeros(size, bool),
    }
    episode = 0
    obs, _ = env.reset(seed=seed + episode)
    for t in range(size):
        if policy is None:
            a = rng.uniform(-1.0, 1.0, act_dim)
        else:
            pre = policy.pre_activation(obs[None])[0]
            a = policy.squash(pre + noise_std * rng.standard_normal(act_dim))
        env_action = scaler.to_env(a)
        next_obs, reward, terminated, truncated, _ = env.step(env_action)
        out["observations"][t] = obs
        out["actions"][t] = env_action
        out["rewards"][t] = reward
        out["next_observations"][t] = next_obs
        out["terminated"][t] = terminated
        out["truncated"][t] = truncated
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
        else:
            obs = next_obs
    env.close()
    ref_min, ref_max = reference_scores(env_id)
    recipe = "random" if policy is None else "policy"
    meta = DatasetMetadata(
        env_id=env_id,
        env_kwargs=dict(env_kwargs or {}),
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        source=f"coopo.data.build_dataset({env_id}, {behaviour})",
        action_low=tuple(float(x) for x in scaler.low),
        action_high=tuple(float(x) for x in scaler.high),
        extra={
            "recipe": recipe,
            "behaviour": behaviour,
            "policy_sha256": policy.sha256 if policy else None,
            "noise_std": noise_std,
            "seed": seed,
            "size": size,
            "coopo_version": __version__,
            "reference_scores": "d4rl" if ref_min is not None else None,
        },
    )
    return make_dataset(meta.source, meta, **out)
