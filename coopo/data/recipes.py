"""D4RL-style dataset recipes for Gymnasium MuJoCo v5, built offline from the package alone.

This module is part of the data layer (it rolls policies out, and never trains): the
``medium-replay`` quality, which re-runs a behaviour training, is given its builder by
:mod:`coopo.recipes`, the public entry point above the runner.

Recipes (``coopo data build TASK-QUALITY``), following D4RL's generation protocol:

- ``random``: uniform random actions.
- ``medium``: stochastic rollouts (Gaussian noise ``MEDIUM_NOISE`` before the tanh) of the
  shipped medium policy ``coopo/data/policies/<task>-medium.npz``: coopo's own SAC stopped
  at the first evaluation reaching a third of D4RL's expert reference (``<task>-medium.json``
  records how; ``scripts/train_medium_policies.sh`` reproduces it).
- ``medium-replay``: every transition in that SAC run's replay buffer up to the stop, made by
  re-running the recorded training (minutes on a CPU; deterministic for a given machine).
- ``expert``: rollouts of an expert policy file the user supplies (``--expert-policy``), with
  noise ``EXPERT_NOISE``.
- ``medium-expert``: medium ++ expert (each ``size`` transitions).

Reference scores: D4RL's table is kept in ``extra['d4rl_ref_min_score' / 'd4rl_ref_max_score']``
for comparison with published numbers; ``ref_min_score`` / ``ref_max_score`` (what coopo's
normalised score uses, as in Minari) are measured on v5: the mean return of 100 episodes of
the random policy and, when an expert policy is given, of the expert policy. Without an
expert policy ``ref_max_score`` falls back to D4RL's and ``extra['ref_max_source']`` says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from coopo.data.builder import build_dataset, check_policy
from coopo.data.dataset import Dataset, DatasetError, concatenate
from coopo.data.policies import MLPPolicy, load_policy_file
from coopo.evaluation import D4RL_REFERENCE_SCORES
from coopo.paths import coopo_data_root
from coopo.tasks import QUALITIES, TASKS, parse_recipe
from coopo.version import __version__

__all__ = [
    "QUALITIES",
    "TASKS",
    "build_recipe",
    "data_root",
    "dataset_id",
    "parse_recipe",
    "shipped_policy",
]

DEFAULT_SIZE = 1_000_000
MEDIUM_NOISE = 0.1
EXPERT_NOISE = 0.1
REFERENCE_EPISODES = 100


def data_root() -> Path:
    """Where recipes are written: $MINARI_DATASETS_PATH, else coopo's cache directory."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else coopo_data_root()


def dataset_id(task: str, quality: str) -> str:
    return f"coopo/{task}/{quality}-v0"


def shipped_policy(task: str) -> tuple[Path, dict[str, Any]]:
    """The medium policy shipped in the package and its training record."""
    base = resources.files("coopo.data") / "policies"
    path, record = base / f"{task}-medium.npz", base / f"{task}-medium.json"
    if not path.is_file():
        raise DatasetError(str(path), None, f"no shipped medium policy for task {task!r}")
    return Path(str(path)), json.loads(record.read_text()) if record.is_file() else {}


@functools.lru_cache(maxsize=64)
def reference_return(task: str, policy_path: str | None, episodes: int, seed: int) -> float:
    """Mean return of ``episodes`` episodes of a policy file (None: uniform random), cached:
    every recipe of a task shares its reference measurements."""
    env_id, kw = TASKS[task]
    return policy_return(
        env_id, kw, load_policy_file(policy_path) if policy_path else None, episodes, seed
    )


def policy_return(
    env_id: str, env_kwargs: dict[str, Any], policy: MLPPolicy | None, episodes: int, seed: int
) -> float:
    """Mean return of ``episodes`` deterministic episodes (uniform random if ``policy`` is None)."""
    from coopo.envs import ActionScaler, make_env

    env = make_env(env_id, env_kwargs)
    scaler, rng, total = ActionScaler.of_env(env), np.random.default_rng(seed), 0.0
    try:
        for e in range(episodes):
            obs, _ = env.reset(seed=seed + e)
            done = False
            while not done:
                a = rng.uniform(-1, 1, scaler.low.shape) if policy is None else policy(obs[None])[0]
                obs, r, term, trunc, _ = env.step(scaler.to_env(a))
                total += float(r)
                done = term or trunc
    finally:
        env.close()
    return total / episodes


def build_recipe(
    task: str,
    quality: str,
    size: int | None = None,
    seed: int = 0,
    expert_policy: str | None = None,
    num_envs: int = 8,
    reference_episodes: int = REFERENCE_EPISODES,
    vector_env: str = "sync",
    medium_replay: Callable[[str, dict[str, Any]], Dataset] | None = None,
) -> Dataset:
    """The recipe ``task``-``quality`` built (its data, then the metadata recording how it was
    made: reference scores, policy hashes, noise)."""
    env_id, kw = TASKS[task]
    size = size or DEFAULT_SIZE
    expert = None
    if expert_policy is not None:
        expert = load_policy_file(expert_policy)
        check_policy(expert, env_id, kw)
    if quality in ("expert", "medium-expert") and expert is None:
        raise ValueError(f"recipe {task}-{quality} needs --expert-policy PATH (a policy .npz)")

    def build(policy: str, noise: float, seed: int) -> Dataset:
        return build_dataset(env_id, policy, size, noise, seed, kw, num_envs, vector_env=vector_env)

    if quality == "random":
        ds = build("random", 0.0, seed)
    elif quality == "medium":
        ds = build(str(shipped_policy(task)[0]), MEDIUM_NOISE, seed)
    elif quality == "expert":
        ds = build(str(expert_policy), EXPERT_NOISE, seed + 1)
    elif quality == "medium-expert":
        m = build(str(shipped_policy(task)[0]), MEDIUM_NOISE, seed)
        ds = concatenate([m, build(str(expert_policy), EXPERT_NOISE, seed + 1)], m.metadata)
    else:  # medium-replay: re-run the recorded behaviour training and keep its replay buffer
        ds = _medium_replay(task, medium_replay)
    return _with_recipe_metadata(ds, task, quality, seed, expert_policy, expert, reference_episodes)


def _medium_replay(
    task: str, medium_replay: Callable[[str, dict[str, Any]], Dataset] | None
) -> Dataset:
    if medium_replay is None:
        raise DatasetError(
            f"{task}-medium-replay",
            None,
            "is made by re-running the behaviour training: build it with `coopo data build "
            f"{task}-medium-replay` (coopo.recipes.build_recipe)",
        )
    _, record = shipped_policy(task)
    if not record:
        raise DatasetError(task, None, "no training record for the shipped policy")
    return medium_replay(task, record)


def _with_recipe_metadata(
    ds: Dataset,
    task: str,
    quality: str,
    seed: int,
    expert_policy: str | None,
    expert: Any,
    reference_episodes: int,
) -> Dataset:
    env_id, kw = TASKS[task]
    d4_min, d4_max = D4RL_REFERENCE_SCORES[task]
    ref_min = reference_return(task, None, reference_episodes, 10_000)
    ref_max = (
        reference_return(task, expert_policy, reference_episodes, 20_000) if expert else d4_max
    )
    policy_hash = None
    if quality in ("medium", "medium-expert", "medium-replay"):
        policy_hash = hashlib.sha256(shipped_policy(task)[0].read_bytes()).hexdigest()[:16]
    return ds.with_metadata(
        env_id=env_id,
        env_kwargs=kw,
        dataset_id=dataset_id(task, quality),
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        source=f"coopo recipe {task}-{quality}",
        extra={
            **ds.metadata.extra,
            "recipe": f"{task}-{quality}",
            "seed": seed,
            "size": ds.size,
            "medium_policy_sha256": policy_hash,
            "expert_policy_sha256": expert.sha256 if expert else None,
            "noise_std": {"medium": MEDIUM_NOISE, "expert": EXPERT_NOISE},
            "coopo_version": __version__,
            "d4rl_ref_min_score": d4_min,
            "d4rl_ref_max_score": d4_max,
            "ref_min_source": f"uniform random policy, {reference_episodes} episodes, v5",
            "ref_max_source": (
                f"expert policy, {reference_episodes} episodes, v5"
                if expert
                else "d4rl (no expert policy given)"
            ),
        },
    )
