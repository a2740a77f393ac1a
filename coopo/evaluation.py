"""Evaluation on separate envs (never the training envs), the drift probe, D4RL normalised scores.

The normalised score is ``100 * (return - ref_min) / (ref_max - ref_min)``. Reference scores
come from the dataset's metadata when it has them (Minari's ``ref_min_score`` /
``ref_max_score``) and otherwise from D4RL's table, keyed by the env's task name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from coopo.envs import ActionScaler, make_vector_env, reset_where
from coopo.normalization import Normalizer
from coopo.types import Transition

# d4rl/infos.py REF_MIN_SCORE / REF_MAX_SCORE (same for v0, v1, v2).
D4RL_REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "hopper": (-20.272305, 3234.3),
    "halfcheetah": (-280.178953, 12135.0),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
}


def task_name(env_id: str) -> str:
    """'Hopper-v5' -> 'hopper', 'HalfCheetah-v4' -> 'halfcheetah'."""
    return re.sub(r"-v\d+$", "", env_id.split("/")[-1]).lower()


def reference_scores(
    env_id: str, ref_min: float | None = None, ref_max: float | None = None
) -> tuple[float | None, float | None]:
    """Dataset references if given (they take precedence), else D4RL's, else (None, None)."""
    if ref_min is not None and ref_max is not None:
        return float(ref_min), float(ref_max)
    return D4RL_REFERENCE_SCORES.get(task_name(env_id), (None, None))


def normalized_score(ret: np.ndarray | float, ref_min: float | None, ref_max: float | None) -> Any:
    if ref_min is None or ref_max is None:
        return np.full(np.shape(ret), np.nan)
    return 100.0 * (np.asarray(ret) - ref_min) / (ref_max - ref_min)


# (S, E, obs) raw observations -> (S, E, act) actions in [-1, 1]
BatchPolicy = Callable[[np.ndarray], np.ndarray]
# jit(vmap over seeds(act)): (states, (S, ..., obs) normalised, keys) -> (actions, keys)
ActFn = Callable[[Any, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]

PROBE_ROWS = 1_000
"""Dataset rows of the drift probe (evenly spaced over the dataset)."""


def drift_probe(dataset: Transition, size: int, num_seeds: int) -> tuple[jax.Array, jax.Array]:
    """Fixed dataset rows on which every evaluation measures how far the policy's actions are
    from the data's (``eval/data_action_mse``): (observations (S, P, obs), actions (P, act))."""
    idx = np.linspace(0, size - 1, min(PROBE_ROWS, size)).astype(int)
    obs = dataset.observations[idx]
    return jnp.broadcast_to(obs, (num_seeds, *obs.shape)), dataset.actions[idx]


@dataclass(frozen=True)
class Evaluation:
    returns: np.ndarray
    """(S,) mean return per seed."""
    scores: np.ndarray
    """(S,) mean normalised score per seed (NaN without reference scores)."""
    metrics: dict[str, np.ndarray]
    """(S,) per name, for ``eval/...``."""


class Evaluator:
    """``episodes`` evaluation envs per seed, one sync vector env stepped in lockstep with one
    batched policy call (sync always: S x E envs would be too many processes, and evaluation is a
    small share of a run).

    Reset seeds are ``base_seed + 10_000 * seed + round * episodes + e``: deterministic, and
    different for every evaluation round, so a resumed run evaluates exactly as an unbroken one.
    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any],
        seeds: list[int],
        episodes: int,
        base_seed: int = 1_000_000,
        normalizer: Normalizer | None = None,
        probe: tuple[jax.Array, jax.Array] | None = None,
        ref_scores: tuple[float | None, float | None] = (None, None),
    ) -> None:
        if episodes <= 0:
            raise ValueError(f"eval episodes must be positive, got {episodes}")
        self.seeds, self.episodes, self.base_seed = seeds, episodes, base_seed
        self.normalizer, self.probe = normalizer, probe
        self.ref_min, self.ref_max = ref_scores
        self.envs = make_vector_env(env_id, env_kwargs, len(seeds) * episodes)
        self.scaler = ActionScaler.of_env(self.envs)

    def run(self, policy: BatchPolicy, round_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns (returns, lengths), each (S, E)."""
        S, E = len(self.seeds), self.episodes
        reset_seeds = [
            self.base_seed + 10_000 * s + round_index * E + e for s in self.seeds for e in range(E)
        ]
        self.envs.set_attr("paused", [False] * (S * E))
        obs = reset_where(self.envs, np.ones(S * E, bool), reset_seeds)
        returns, lengths = np.zeros(S * E), np.zeros(S * E, int)
        done = np.zeros(S * E, bool)
        while not done.all():
            actions = self.scaler.to_env(np.asarray(policy(obs.reshape(S, E, -1))))
            o, r, term, trunc, _ = self.envs.step(actions.reshape(S * E, -1))
            live = ~done
            obs[live] = o[live]
            returns[live] += r[live]
            lengths[live] += 1
            ended = term | trunc
            if ended.any():
                # The vector env steps every env: one whose episode is over is reset (autoreset
                # is disabled) and paused, its simulator left alone and its steps ignored,
                # until the slowest episode ends.
                done |= ended
                if not done.all():
                    reset_where(self.envs, ended, reset_seeds)
                    self.envs.set_attr("paused", done.tolist())
        return returns.reshape(S, E), lengths.reshape(S, E)

    def evaluate(
        self,
        act: ActFn,
        states: Any,
        keys: jax.Array,
        round_index: int,
        phase_end: bool,
        q_probe: Callable[..., Any] | None = None,
    ) -> Evaluation:
        """Deterministic episodes of the policy ``act(states, ., keys)`` (on normalised
        observations) and the drift probe; with ``q_probe`` (:func:`coopo.phases.make_q_probe`)
        also the critic's mean value of the probe's dataset actions and of the policy's."""
        normalize = self.normalizer.numpy if self.normalizer is not None else np.asarray

        def policy(obs: np.ndarray) -> np.ndarray:
            a, _ = act(states, jnp.asarray(normalize(obs)), keys)
            return np.asarray(a)

        returns, lengths = self.run(policy, round_index)
        scores = normalized_score(returns, self.ref_min, self.ref_max)
        metrics = {
            "return": returns.mean(1),
            "return_std": returns.std(1),
            "length": lengths.mean(1),
            "phase_end": np.full(len(self.seeds), float(phase_end)),
        }
        if self.ref_min is not None:  # no reference scores for this task: returns only
            metrics["normalized_score"] = scores.mean(1)
        if self.probe is not None:
            probe_actions, _ = act(states, self.probe[0], keys)
            sq = jnp.sum((probe_actions - self.probe[1]) ** 2, axis=-1)
            metrics["data_action_mse"] = np.asarray(sq.mean(axis=-1))
            q = q_probe(states, *self.probe, probe_actions) if q_probe is not None else None
            if q is not None:
                metrics["q_data"], metrics["q_policy"] = np.asarray(q[0]), np.asarray(q[1])
        return Evaluation(returns.mean(1), scores.mean(1), metrics)

    def close(self) -> None:
        self.envs.close()


def play_policy(policy: Any, episodes: int, env_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic episodes of a loaded :class:`coopo.policy.Policy`; episode i resets its
    env with ``env_seed + i``. Returns (returns, normalised scores), each (episodes,); the
    scores are NaN where the task has no reference scores."""
    # One "seed" 0 with base seed env_seed: episode i resets with env_seed + i.
    evaluator = Evaluator(policy.env_id, policy.env_kwargs, [0], episodes, base_seed=env_seed)
    try:
        returns, _ = evaluator.run(policy.unit_action, 0)
    finally:
        evaluator.close()
    ref = (policy.meta.get("ref_min_score"), policy.meta.get("ref_max_score"))
    return returns[0], np.asarray(normalized_score(returns[0], *ref), np.float64)
