"""Gymnasium env construction and the action rescaling at the env boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np


class EnvError(ValueError):
    """An env id that cannot be made, or an env coopo cannot train on."""


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
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


@dataclass(frozen=True)
class ActionScaler:
    """Maps the agent's [-1, 1] actions to the env's [low, high] box and back."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of_env(cls, env: gym.Env) -> ActionScaler:
        space = env.action_space
        assert isinstance(space, gym.spaces.Box)
        return cls(np.asarray(space.low, np.float32), np.asarray(space.high, np.float32))

    def to_env(self, a: np.ndarray) -> np.ndarray:
        return self.low + (np.clip(a, -1.0, 1.0) + 1.0) * 0.5 * (self.high - self.low)

    def from_env(self, a: np.ndarray) -> np.ndarray:
        return np.clip(2.0 * (a - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0)
