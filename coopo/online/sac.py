"""Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018, "SAC: Algorithms and
Applications"), COOPO's default online optimizer.

The critic ensemble has ``num_critics`` members; the TD target takes the minimum over a random
subset of ``num_min_q`` of them (= clipped double Q for 2 critics, RLPD's rule for more).
When the phase starts from an offline phase, :func:`absorb` takes the actor and critics and
keeps SAC's own temperature and optimizer states across cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algorithms import (
    absorb_actor_critic,
    actor_critic_handoff,
    init_actor_critic,
    init_temperature,
    stochastic_actor_act,
)
from coopo.losses import critic_mse, sac_actor_loss, sac_temperature_loss, soft_update, td_target
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "sac"


@dataclass(frozen=True)
class Config:
    """SAC hyperparameters (defaults from the SAC paper, temperature as in fine-tuning work)."""

    actor_lr: float = 3e-4
    """Actor learning rate (Adam)."""
    critic_lr: float = 3e-4
    """Critic learning rate (Adam)."""
    temperature_lr: float = 3e-4
    """Learning rate of log(alpha)."""
    discount: float = 0.99
    """Discount factor gamma."""
    tau: float = 0.005
    """Polyak rate of the target critics."""
    init_temperature: float = 0.1
    """Initial alpha. Lower than SAC's 1.0 so a pretrained actor is not washed out by entropy."""
    target_entropy_scale: float = 1.0
    """Target entropy = -scale * act_dim."""
    num_min_q: int = 2
    """Critics in the random subset whose minimum forms the TD target."""
    backup_entropy: bool = True
    """Subtract alpha * log pi(a'|s') in the TD target."""
    actor_q_reduction: Literal["min", "mean"] = "min"
    """How the actor loss reduces the critic ensemble (SAC: min; RLPD: mean)."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_critic: Params
    temperature: TrainState  # params = {"log_alpha": scalar}
    target_entropy: float = struct.field(pytree_node=False)
    config: Config = struct.field(pytree_node=False)


def validate(config: Config, net: NetworkConfig) -> list[tuple[str, str]]:
    """Config errors as (field, message)."""
    if config.num_min_q > net.num_critics:
        return [("num_min_q", f"must be <= network.num_critics ({net.num_critics})")]
    return []


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    if config.num_min_q > net.num_critics:
        raise ValueError(
            f"sac.num_min_q={config.num_min_q} exceeds network.num_critics={net.num_critics}"
        )
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    return State(
        actor=actor,
        critic=critic,
        target_critic=critic.params,
        temperature=init_temperature(config.init_temperature, config.temperature_lr),
        target_entropy=-config.target_entropy_scale * spec.act_dim,
        config=config,
    )


def _min_over_subset(q: jax.Array, num_min_q: int, key: jax.Array) -> jax.Array:
    if num_min_q == q.shape[0]:
        return q.min(0)
    idx = jax.random.choice(key, q.shape[0], (num_min_q,), replace=False)
    return q[idx].min(0)


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    # Just over 60 lines: critic, actor and temperature steps of one SAC update, in the
    # paper's order, kept together.
    cfg = state.config
    k_next, k_subset, k_actor = jax.random.split(key, 3)
    actor_apply, critic_apply = state.actor.apply_fn, state.critic.apply_fn
    alpha = jnp.exp(state.temperature.params["log_alpha"])

    # --- Critic ---
    next_mean, next_log_std = actor_apply(state.actor.params, batch.next_observations)
    next_actions, next_log_prob = D.sample_tanh_gaussian(k_next, next_mean, next_log_std)
    q_next = _min_over_subset(
        critic_apply(state.target_critic, batch.next_observations, next_actions),
        cfg.num_min_q,
        k_subset,
    )
    if cfg.backup_entropy:
        q_next = q_next - alpha * next_log_prob
    target = td_target(batch.rewards, cfg.discount, batch.masks, q_next)

    def critic_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
        q = critic_apply(params, batch.observations, batch.actions)
        return critic_mse(q, target), q

    (critic_loss, q), critic_grads = jax.value_and_grad(critic_loss_fn, has_aux=True)(
        state.critic.params
    )
    critic = state.critic.apply_gradients(grads=critic_grads)

    # --- Actor ---
    def actor_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
        mean, log_std = actor_apply(params, batch.observations)
        actions, log_prob = D.sample_tanh_gaussian(k_actor, mean, log_std)
        q_all = critic_apply(critic.params, batch.observations, actions)
        q_pi = q_all.min(0) if cfg.actor_q_reduction == "min" else q_all.mean(0)
        return sac_actor_loss(alpha, log_prob, q_pi), log_prob

    (actor_loss, log_prob), actor_grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
        state.actor.params
    )
    actor = state.actor.apply_gradients(grads=actor_grads)

    # --- Temperature ---
    temp_loss, temp_grads = jax.value_and_grad(
        lambda p: sac_temperature_loss(p["log_alpha"], log_prob, state.target_entropy)
    )(state.temperature.params)
    temperature = state.temperature.apply_gradients(grads=temp_grads)

    new_state = state.replace(
        actor=actor,
        critic=critic,
        target_critic=soft_update(state.target_critic, critic.params, cfg.tau),
        temperature=temperature,
    )
    metrics = {
        "critic_loss": critic_loss,
        "actor_loss": actor_loss,
        "temperature_loss": temp_loss,
        "alpha": alpha,
        "entropy": -log_prob.mean(),
        "q_mean": q.mean(),
    }
    return new_state, metrics


act = stochastic_actor_act
handoff = actor_critic_handoff
absorb = absorb_actor_critic
