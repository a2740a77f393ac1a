"""Observation normaliser: fitted once on the dataset, applied offline, online, at evaluation
and in the saved policy alike (CORL's rule)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


class Normalizer(struct.PyTreeNode):
    mean: jax.Array
    std: jax.Array

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        return cls(jnp.zeros(dim, jnp.float32), jnp.ones(dim, jnp.float32))

    @classmethod
    def fit(cls, observations: np.ndarray, eps: float = 1e-3) -> Normalizer:
        obs = np.asarray(observations, np.float64)
        return cls(
            jnp.asarray(obs.mean(0), jnp.float32), jnp.asarray(obs.std(0) + eps, jnp.float32)
        )

    def __call__(self, obs: jax.Array) -> jax.Array:
        return (obs - self.mean) / self.std

    def numpy(self, obs: np.ndarray) -> np.ndarray:
        """The same map on the host, for env observations: computed in the observations'
        precision (float64 from MuJoCo), then float32."""
        return ((obs - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)
