"""TD3: Twin Delayed DDPG (Fujimoto, van Hoof & Meger 2018), an online optimizer.

Clipped double Q, target policy smoothing (noise 0.2 clipped at 0.5), delayed actor and
target updates (every 2 critic updates), Gaussian exploration noise 0.1.

Handoff conversion: TD3's deterministic policy is the *mean head* of coopo's shared
tanh-Gaussian actor, pi(s) = tanh(mean(s)). Absorbing a stochastic actor therefore needs no
parameter change (TD3 acts with its mean), and handing back gives the next phase a full
tanh-Gaussian whose std head is whatever it was when TD3 took over (TD3 never trains it).
TD3's target actor is re-initialised from the absorbed actor.

The critic and actor steps are plain functions (:func:`critic_step`, :func:`actor_loss`) that
:mod:`coopo.algos.td3_bc` reuses.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo.algos.base import (
    ActorCriticConfig,
    PolicyHandoff,
    absorb_actor_critic,
    actor_critic_handoff,
    init_actor_critic,
    td_critic_step,
)
from coopo.losses import soft_update, td_target
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "td3"
ROLES = frozenset({"online"})


@dataclass(frozen=True)
class Config(ActorCriticConfig):
    """TD3 hyperparameters (the paper's defaults)."""

    policy_noise: float = 0.2
    """Std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """Clip of the target policy smoothing noise."""
    exploration_noise: float = 0.1
    """Std of the Gaussian exploration noise when acting."""
    policy_delay: int = 2
    """Critic updates per actor and target update."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_actor: Params
    target_critic: Params
    step: jax.Array
    config: Config = struct.field(pytree_node=False)


def deterministic_action(apply_fn: object, params: Params, obs: jax.Array) -> jax.Array:
    mean, _ = apply_fn(params, obs)  # type: ignore[operator]
    return jnp.tanh(mean)


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    return State(
        actor=actor,
        critic=critic,
        target_actor=actor.params,
        target_critic=critic.params,
        step=jnp.zeros((), jnp.int32),
        config=config,
    )


def critic_step(
    state: State, batch: Transition, key: jax.Array
) -> tuple[TrainState, jax.Array, jax.Array]:
    """Clipped double-Q TD step with target policy smoothing."""
    cfg = state.config
    next_a = deterministic_action(state.actor.apply_fn, state.target_actor, batch.next_observations)
    noise = jnp.clip(
        cfg.policy_noise * jax.random.normal(key, next_a.shape), -cfg.noise_clip, cfg.noise_clip
    )
    next_a = jnp.clip(next_a + noise, -1.0, 1.0)
    q_next = state.critic.apply_fn(state.target_critic, batch.next_observations, next_a).min(0)
    target = td_target(batch.rewards, cfg.discount, batch.masks, q_next)
    critic, loss, q = td_critic_step(state.critic, batch, target)
    return critic, loss, q.mean()


def delayed_actor_step(
    state: State, critic: TrainState, actor_loss_fn: object
) -> tuple[State, jax.Array]:
    """Every ``policy_delay`` steps: one actor step and the target updates; else nothing."""
    cfg = state.config

    def do(_: None) -> tuple[TrainState, Params, Params, jax.Array]:
        loss, grads = jax.value_and_grad(actor_loss_fn)(state.actor.params)  # type: ignore[arg-type]
        actor = state.actor.apply_gradients(grads=grads)
        return (
            actor,
            soft_update(state.target_actor, actor.params, cfg.tau),
            soft_update(state.target_critic, critic.params, cfg.tau),
            loss,
        )

    def skip(_: None) -> tuple[TrainState, Params, Params, jax.Array]:
        return state.actor, state.target_actor, state.target_critic, jnp.zeros(())

    actor, target_actor, target_critic, loss = jax.lax.cond(
        state.step % cfg.policy_delay == 0, do, skip, None
    )
    new = state.replace(
        actor=actor,
        critic=critic,
        target_actor=target_actor,
        target_critic=target_critic,
        step=state.step + 1,
    )
    return new, loss


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    critic, critic_loss, q_mean = critic_step(state, batch, key)

    def actor_loss_fn(params: Params) -> jax.Array:
        a = deterministic_action(state.actor.apply_fn, params, batch.observations)
        return -critic.apply_fn(critic.params, batch.observations, a)[0].mean()

    new, actor_loss = delayed_actor_step(state, critic, actor_loss_fn)
    return new, {"critic_loss": critic_loss, "actor_loss": actor_loss, "q_mean": q_mean}


def act(state: State, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
    a = deterministic_action(state.actor.apply_fn, state.actor.params, obs)
    if deterministic:
        return a
    noise = state.config.exploration_noise * jax.random.normal(key, a.shape)
    return jnp.clip(a + noise, -1.0, 1.0)


handoff = actor_critic_handoff


def absorb(state: State, h: PolicyHandoff) -> State:
    # Conversion: a stochastic actor becomes deterministic by acting with its mean (see doc).
    return absorb_actor_critic(state, h, target_actor=h.actor)
