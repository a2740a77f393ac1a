"""Gymnasium env construction (single and vector envs) and the action rescaling at the env
boundary.

Every loop that steps several envs (the training env of each seed, evaluation episodes,
dataset building) steps one :mod:`gymnasium.vector` env. Its autoreset is disabled: coopo
resets each sub-env itself, with a seed of its own, when its episode ends
(:func:`reset_where`). That is what keeps runs reproducible and resumable exactly: episode k of
env i always starts from the same seed, whichever other envs ended when.

Two vector modes (``--vector-env``):

- ``sync`` (default): the envs step one after another in this process
  (:class:`gymnasium.vector.SyncVectorEnv`);
- ``async``: each env steps in its own process (:class:`gymnasium.vector.AsyncVectorEnv`,
  started with ``spawn``, so no JAX state is forked). Each step costs a round trip to every
  process, so it pays off only when there are cores to spare for the envs: on 2 CPU cores
  that also run the updates it is 11% faster at 10 seeds and 3-10% slower at 1-4 seeds
  (``benchmarks/throughput.py``, docs/guides/performance.md).
  Both modes produce the same transitions, bit for bit.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

VectorMode = Literal["sync", "async"]
Vector = SyncVectorEnv | AsyncVectorEnv
"""What :func:`make_vector_env` returns (both take a list of per-env reset seeds)."""
VECTOR_MODES: tuple[str, ...] = ("sync", "async")


class EnvError(ValueError):
    """An env id that cannot be made, or an env coopo cannot train on."""


# MuJoCo 3.3+ warns, once per model compiled, that HalfCheetah's XML (part of Gymnasium, not
# of coopo) uses the deprecated 'settotalmass' attribute. A user can do nothing about it, so
# that one message is dropped; every other MuJoCo warning still reaches standard error.
_QUIET_MUJOCO = ("compiler attribute 'settotalmass' is deprecated",)


def _mujoco_warning(message: str) -> None:
    if not any(m in message for m in _QUIET_MUJOCO):
        sys.stderr.write(f"WARNING: {message}\n")


def _quiet_mujoco() -> None:
    try:
        import mujoco
    except ImportError:  # an env without MuJoCo
        return
    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_mujoco_warning)


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    _quiet_mujoco()
    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as e:
        raise EnvError(f"cannot make Gymnasium env {env_id!r}: {e}") from e
    except TypeError as e:
        raise EnvError(f"bad env kwargs for {env_id!r} ({env_kwargs}): {e}") from e
    if not isinstance(env.action_space, gym.spaces.Box) or len(env.action_space.shape) != 1:
        env.close()
        raise EnvError(f"{env_id!r}: coopo needs a flat continuous (Box) action space")
    if (
        not isinstance(env.observation_space, gym.spaces.Box)
        or len(env.observation_space.shape) != 1
    ):
        env.close()
        raise EnvError(f"{env_id!r}: coopo needs a flat Box observation space")
    return env


class SubEnv(gym.Wrapper):
    """How every env of a coopo vector env is wrapped.

    - Its info dicts are dropped: coopo reads none, and the vector env would merge them, key by
      key and env by env, on every step.
    - It can be held still: while ``paused`` (``venv.set_attr("paused", [...])``) a step leaves
      the simulator alone and returns the last observation, reward 0, not ended. Lockstep
      evaluation pauses the episodes that are over instead of stepping them on to no purpose.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.paused = False
        self._last: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, _ = self.env.reset(**kwargs)
        self._last = obs
        return obs, {}

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        if self.paused:
            return self._last, 0.0, False, False, {}
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self._last = obs
        return obs, reward, terminated, truncated, {}


def _make_sub_env(env_id: str, env_kwargs: dict[str, Any] | None) -> gym.Env:
    return SubEnv(make_env(env_id, env_kwargs))


def make_vector_env(
    env_id: str,
    env_kwargs: dict[str, Any] | None,
    num_envs: int,
    mode: str = "sync",
) -> Vector:
    """``num_envs`` copies of ``env_id``, each wrapped in :class:`SubEnv`, as one vector env
    with autoreset disabled (reset the sub-envs whose episode ended with :func:`reset_where`
    before stepping them again)."""
    if mode not in VECTOR_MODES:
        raise ValueError(f"vector env mode must be one of {', '.join(VECTOR_MODES)}, got {mode!r}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    fns = [partial(_make_sub_env, env_id, env_kwargs)] * num_envs
    if mode == "sync":
        # copy=False: every caller copies what it keeps (reset_where, the loops' astype)
        return SyncVectorEnv(fns, copy=False, autoreset_mode=AutoresetMode.DISABLED)
    make_env(env_id, env_kwargs).close()  # the same clear error here as in sync mode
    return AsyncVectorEnv(fns, context="spawn", copy=False, autoreset_mode=AutoresetMode.DISABLED)


def reset_where(venv: Vector, mask: np.ndarray, seeds: Any) -> np.ndarray:
    """Reset the sub-envs where ``mask`` is true, sub-env i with ``seeds[i]``; returns every
    sub-env's current observation (float32, a copy), the others' unchanged."""
    mask = np.asarray(mask, bool)
    if mask.all():
        obs, _ = venv.reset(seed=[int(s) for s in seeds])
    else:
        obs, _ = venv.reset(
            seed=[int(s) if m else None for s, m in zip(seeds, mask, strict=True)],
            options={"reset_mask": mask},
        )
    return np.array(obs, np.float32)


@dataclass(frozen=True)
class ActionScaler:
    """Maps the agent's [-1, 1] actions to the env's [low, high] box and back."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of_env(cls, env: gym.Env | VectorEnv) -> ActionScaler:
        space = env.single_action_space if isinstance(env, VectorEnv) else env.action_space
        assert isinstance(space, gym.spaces.Box)
        return cls(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32))

    def to_env(self, a: np.ndarray) -> np.ndarray:
        return self.low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)

    def from_env(self, a: np.ndarray) -> np.ndarray:
        return np.clip(2.0 * (a - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0)
