"""Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018, "SAC: Algorithms and
Applications").

    L_Q     = E[ (Q_j(s, a) - (r + gamma (1 - terminated) (min_{j in M} Q'_j(s', a') - alpha log pi(a'|s'))))^2 ]
    L_pi    = E[ alpha log pi(a|s) - min_j Q_j(s, a) ],                  a ~ pi(.|s), a' ~ pi(.|s')
    L_alpha = -E[ log alpha (log pi(a|s) + target_entropy) ]

The critic ensemble has ``num_critics`` members; the TD target takes the minimum over a random
subset M of ``num_min_q`` of them (clipped double Q for 2 critics, RLPD's rule for more), and
the actor loss reduces the ensemble by its minimum (SAC) or mean (RLPD). The three steps run
in the paper's order: critic, then actor on the updated critic, then temperature.

Departures from the paper: the initial temperature is 0.1 instead of 1.0, so that a pretrained
actor is not washed out by entropy, and ``backup_entropy=False`` gives SAC the plain Q of the
offline phase (AWAC-KL, IQL, Cal-QL learn Q without an entropy bonus). When the phase starts
from an offline phase, :func:`absorb` takes the actor and critics and keeps SAC's own
temperature and optimizer states across cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algos.base import (
    ActorCriticConfig,
    absorb_actor_critic,
    actor_critic_handoff,
    init_actor_critic,
    init_temperature,
    stochastic_actor_act,
    td_critic_step,
)
from coopo.losses import sac_actor_loss, sac_temperature_loss, soft_update, td_target
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "sac"
ROLES = frozenset({"online"})


@dataclass(frozen=True)
class Config(ActorCriticConfig):
    """SAC hyperparameters (defaults from the SAC paper, temperature as in fine-tuning work)."""

    temperature_lr: float = 3e-4
    """Learning rate of log(alpha)."""
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


def update_critic(
    state: State, batch: Transition, alpha: jax.Array, k_next: jax.Array, k_subset: jax.Array
) -> tuple[TrainState, Metrics]:
    """One TD step of the critic ensemble towards the soft (or plain) Bellman target."""
    cfg, critic_apply = state.config, state.critic.apply_fn
    next_mean, next_log_std = state.actor.apply_fn(state.actor.params, batch.next_observations)
    next_actions, next_log_prob = D.sample_tanh_gaussian(k_next, next_mean, next_log_std)
    q_all = critic_apply(state.target_critic, batch.next_observations, next_actions)
    q_next = _min_over_subset(q_all, cfg.num_min_q, k_subset)
    if cfg.backup_entropy:
        q_next = q_next - alpha * next_log_prob
    target = td_target(batch.rewards, cfg.discount, batch.masks, q_next)
    critic, loss, q = td_critic_step(state.critic, batch, target)
    return critic, {"critic_loss": loss, "q_mean": q.mean()}


def update_actor(
    state: State, critic: TrainState, batch: Transition, alpha: jax.Array, key: jax.Array
) -> tuple[TrainState, jax.Array, Metrics]:
    """One step of the actor on the (updated) critic; also returns log pi of its samples."""
    cfg, actor_apply = state.config, state.actor.apply_fn

    def actor_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
        mean, log_std = actor_apply(params, batch.observations)
        actions, log_prob = D.sample_tanh_gaussian(key, mean, log_std)
        q_all = critic.apply_fn(critic.params, batch.observations, actions)
        q_pi = q_all.min(0) if cfg.actor_q_reduction == "min" else q_all.mean(0)
        return sac_actor_loss(alpha, log_prob, q_pi), log_prob

    (loss, log_prob), grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(state.actor.params)
    metrics = {"actor_loss": loss, "entropy": -log_prob.mean()}
    return state.actor.apply_gradients(grads=grads), log_prob, metrics


def update_temperature(state: State, log_prob: jax.Array) -> tuple[TrainState, Metrics]:
    """One step of log(alpha) towards the target entropy."""
    loss, grads = jax.value_and_grad(
        lambda p: sac_temperature_loss(p["log_alpha"], log_prob, state.target_entropy)
    )(state.temperature.params)
    return state.temperature.apply_gradients(grads=grads), {"temperature_loss": loss}


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    k_next, k_subset, k_actor = jax.random.split(key, 3)
    alpha = jnp.exp(state.temperature.params["log_alpha"])
    critic, critic_metrics = update_critic(state, batch, alpha, k_next, k_subset)
    actor, log_prob, actor_metrics = update_actor(state, critic, batch, alpha, k_actor)
    temperature, temperature_metrics = update_temperature(state, log_prob)
    new_state = state.replace(
        actor=actor,
        critic=critic,
        target_critic=soft_update(state.target_critic, critic.params, state.config.tau),
        temperature=temperature,
    )
    metrics = {**critic_metrics, **actor_metrics, **temperature_metrics, "alpha": alpha}
    return new_state, metrics


act = stochastic_actor_act
handoff = actor_critic_handoff
# Start from the handed-over actor (and critics when they fit); the temperature is SAC's own.
absorb = absorb_actor_critic
