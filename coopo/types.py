"""The one data vocabulary shared by datasets, buffers and updates.

A transition is ``(s_t, a_t, r_t, s_{t+1}, terminated_t, truncated_t)`` as in Gymnasium.
Bootstrapping uses ``1 - terminated`` only; ``truncated`` (time limit, dataset end) marks an
episode boundary for bookkeeping but is still bootstrapped through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
from flax import struct

NO_MC_RETURN = -1e9  # "no lower bound": max(Q, NO_MC_RETURN) == Q

Params = Any
Metrics = dict[str, jax.Array]


class Transition(struct.PyTreeNode):
    """A batch (or buffer) of transitions. Leading axes are free: (B,), (N,), (S, N), ..."""

    observations: jax.Array
    actions: jax.Array
    rewards: jax.Array
    next_observations: jax.Array
    terminated: jax.Array  # float32 0/1: true termination, no bootstrap
    truncated: jax.Array  # float32 0/1: time limit or dataset end, bootstrap through
    # Discounted Monte-Carlo return-to-go of the row's episode (dataset rows; Cal-QL's lower
    # bound); NO_MC_RETURN where unknown (online rows, whose episodes are still running).
    mc_returns: jax.Array

    @property
    def masks(self) -> jax.Array:
        """Bootstrap mask ``1 - terminated`` (truncation still bootstraps)."""
        return 1.0 - self.terminated


@dataclass(frozen=True)
class EnvSpec:
    """What an algorithm needs to know about the task to build its networks."""

    obs_dim: int
    act_dim: int
