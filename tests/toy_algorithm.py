"""A toy algorithm that lives outside the package: behaviour cloning of the batch's actions
(maximum likelihood under the shared tanh-Gaussian actor); the critics ride along untrained.

It is what adding an algorithm takes: this one module, plus one registry line
(``NAME: module`` in ``coopo.algos.ALGORITHMS``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algos.base import (
    absorb_actor_critic,
    actor_critic_handoff,
    init_actor_critic,
    stochastic_actor_act,
)
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "toy_bc"
ROLES = frozenset({"offline", "online"})


@dataclass(frozen=True)
class Config:
    """Toy behaviour cloning."""

    actor_lr: float = 1e-3
    """Actor learning rate."""
    critic_lr: float = 1e-3
    """Unused critic's learning rate."""
    discount: float = 0.99
    """Discount of the dataset's returns-to-go."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_critic: Params


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    return State(actor=actor, critic=critic, target_critic=critic.params)


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    def loss_fn(params: Params) -> jax.Array:
        mean, log_std = state.actor.apply_fn(params, batch.observations)
        return -jnp.mean(D.tanh_gaussian_log_prob(mean, log_std, batch.actions))

    loss, grads = jax.value_and_grad(loss_fn)(state.actor.params)
    return state.replace(actor=state.actor.apply_gradients(grads=grads)), {"bc_loss": loss}


act = stochastic_actor_act
handoff = actor_critic_handoff
absorb = absorb_actor_critic
