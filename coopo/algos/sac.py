"""Soft Actor-Critic with automatic temperature (Haarnoja et al. 2018, "SAC: Algorithms and
Applications"), COOPO's default online optimizer.

The critic ensemble has ``num_critics`` members; the TD target takes the minimum over a random
subset of ``num_min_q`` of them (= clipped double Q for 2 critics, RLPD's rule for more).
When the phase starts from an offline phase, :func:`absorb` takes the actor and critics and
keeps SAC's own temperature and optimizer states across cycles.

Handoff options (all off by default; ``docs/results/handoffs.md`` measures each). They exist because
an anchored actor handed to plain SAC leaves the data at once: SAC maximises a critic that was
fitted on dataset actions only, so it climbs to over-estimated actions off the data.

- ``anchor_kl_coef``: COOPO's KL anchoring carried into fine-tuning. The actor loss gains
  ``lambda_t * KL(pi || pi_anchor)``, pi_anchor being the actor handed over by the offline
  phase and ``lambda_t`` decaying linearly to 0 over ``anchor_kl_decay_steps`` updates. The
  actor then maximises ``E_pi[Q] - lambda_t KL(pi || pi_anchor)`` (plus SAC's entropy term),
  whose maximiser is ``pi_anchor exp(Q / lambda_t)``: the offline phase's closed form, so
  ``lambda`` has the units and meaning of AWAC-KL's ``awac_lambda`` (in Q units).
- ``anchor_tau``: the anchor follows the actor by Polyak averaging after every update, so the
  KL term bounds how fast the policy moves instead of how far it may go from the handed-over
  actor (a trust region; 0 keeps the anchor fixed for the phase).
- ``critic_warmup_steps``: after a handoff, the first W updates train the critic only (actor
  and temperature frozen, their optimizer moments untouched).
- ``target_entropy_from_actor``: at a handoff the target entropy becomes the incoming actor's
  entropy (measured on the phase's first batch), so the temperature does not push a
  low-entropy anchored actor off the data.
- ``reset_optimizers_on_handoff``: fresh Adam moments for actor and critic at a handoff
  (default: keep the moments from this optimizer's previous phase).
- ``backup_entropy=False`` gives SAC the plain Q of the offline phase (AWAC-KL, IQL, Cal-QL
  learn Q without an entropy bonus), so the critic keeps one meaning across handoffs.
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
    PolicyHandoff,
    absorb_actor_critic,
    actor_critic_handoff,
    init_actor_critic,
    init_temperature,
    keep_if,
    stochastic_actor_act,
)
from coopo.losses import critic_mse, sac_actor_loss, sac_temperature_loss, soft_update, td_target
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
    anchor_kl_coef: float = 0.0
    """lambda of lambda * KL(pi || handed-over actor) in the actor loss after a handoff (Q units, like awac_lambda); 0 = off."""
    anchor_kl_decay_steps: int = 0
    """Updates over which the anchor KL weight decays linearly to 0 (0: constant for the phase)."""
    anchor_tau: float = 0.0
    """Polyak rate at which the anchor follows the actor after every update (a trust region on how fast the policy moves); 0: the anchor stays the handed-over actor for the phase."""
    critic_warmup_steps: int = 0
    """Updates after a handoff that train the critic only (actor and temperature frozen)."""
    target_entropy_from_actor: bool = False
    """At a handoff, set the target entropy to the incoming actor's entropy on the first batch."""
    reset_optimizers_on_handoff: bool = False
    """Fresh Adam moments for actor and critic at a handoff (default: keep this optimizer's own)."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_critic: Params
    temperature: TrainState  # params = {"log_alpha": scalar}
    target_entropy: jax.Array  # a value: target_entropy_from_actor sets it at a handoff
    anchor_actor: Params  # the actor handed over by the last offline phase
    anchor_active: jax.Array  # 0.0 until the first handoff
    steps_since_handoff: jax.Array  # updates since the last absorb (int32)
    config: Config = struct.field(pytree_node=False)


def validate(config: Config, net: NetworkConfig) -> list[tuple[str, str]]:
    """Config errors as (field, message)."""
    errors = []
    if config.num_min_q > net.num_critics:
        errors.append(("num_min_q", f"must be <= network.num_critics ({net.num_critics})"))
    if not 0.0 <= config.anchor_tau <= 1.0:
        errors.append(("anchor_tau", f"must be in [0, 1], got {config.anchor_tau}"))
    return errors


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
        target_entropy=jnp.asarray(-config.target_entropy_scale * spec.act_dim, jnp.float32),
        anchor_actor=actor.params,
        anchor_active=jnp.zeros(()),
        steps_since_handoff=jnp.zeros((), jnp.int32),
        config=config,
    )


def anchor_kl_weight(cfg: Config, anchor_active: jax.Array, steps: jax.Array) -> jax.Array:
    """c_t: ``anchor_kl_coef`` after a handoff, decaying linearly to 0 over
    ``anchor_kl_decay_steps`` updates (constant when that is 0); 0 before any handoff."""
    if cfg.anchor_kl_decay_steps > 0:
        decay = jnp.clip(1.0 - steps / cfg.anchor_kl_decay_steps, 0.0, 1.0)
    else:
        decay = jnp.ones(())
    return cfg.anchor_kl_coef * anchor_active * decay


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

    # --- Actor (+ KL to the handed-over actor) ---
    kl_weight = anchor_kl_weight(cfg, state.anchor_active, state.steps_since_handoff)
    anchor_mean, anchor_log_std = actor_apply(state.anchor_actor, batch.observations)

    def actor_loss_fn(params: Params) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        mean, log_std = actor_apply(params, batch.observations)
        actions, log_prob = D.sample_tanh_gaussian(k_actor, mean, log_std)
        q_all = critic_apply(critic.params, batch.observations, actions)
        q_pi = q_all.min(0) if cfg.actor_q_reduction == "min" else q_all.mean(0)
        kl = jnp.mean(D.gaussian_kl(mean, log_std, anchor_mean, anchor_log_std))
        loss = sac_actor_loss(alpha, log_prob, q_pi) + kl_weight * kl
        return loss, (log_prob, kl)

    (actor_loss, (log_prob, kl)), actor_grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
        state.actor.params
    )
    actor = state.actor.apply_gradients(grads=actor_grads)

    # --- Temperature ---
    first = (state.steps_since_handoff == 0) & (state.anchor_active > 0)
    target_entropy = state.target_entropy
    if cfg.target_entropy_from_actor:
        target_entropy = jnp.where(
            first, -jax.lax.stop_gradient(log_prob.mean()), state.target_entropy
        )
    temp_loss, temp_grads = jax.value_and_grad(
        lambda p: sac_temperature_loss(p["log_alpha"], log_prob, target_entropy)
    )(state.temperature.params)
    temperature = state.temperature.apply_gradients(grads=temp_grads)

    # Critic warm-up: the actor and temperature (and their Adam moments) stay as they were.
    warming = (state.anchor_active > 0) & (state.steps_since_handoff < cfg.critic_warmup_steps)
    actor = keep_if(warming, state.actor, actor)
    temperature = keep_if(warming, state.temperature, temperature)

    anchor_actor = state.anchor_actor
    if cfg.anchor_tau > 0:
        anchor_actor = soft_update(anchor_actor, actor.params, cfg.anchor_tau)

    new_state = state.replace(
        actor=actor,
        anchor_actor=anchor_actor,
        critic=critic,
        target_critic=soft_update(state.target_critic, critic.params, cfg.tau),
        temperature=temperature,
        target_entropy=target_entropy,
        steps_since_handoff=state.steps_since_handoff + 1,
    )
    metrics = {
        "critic_loss": critic_loss,
        "actor_loss": actor_loss,
        "temperature_loss": temp_loss,
        "alpha": alpha,
        "entropy": -log_prob.mean(),
        "q_mean": q.mean(),
        "anchor_kl": kl,
        "anchor_kl_weight": kl_weight,
        "target_entropy": target_entropy,
    }
    return new_state, metrics


def absorb(state: State, h: PolicyHandoff) -> State:
    """Start from the handed-over actor (and critics when they fit); it becomes the anchor of
    the KL term and the handoff clock restarts. The temperature is SAC's own."""
    state = absorb_actor_critic(
        state,
        h,
        anchor_actor=h.actor,
        anchor_active=jnp.ones(()),
        steps_since_handoff=jnp.zeros((), jnp.int32),
    )
    if state.config.reset_optimizers_on_handoff:
        state = state.replace(
            actor=state.actor.replace(opt_state=state.actor.tx.init(state.actor.params)),
            critic=state.critic.replace(opt_state=state.critic.tx.init(state.critic.params)),
        )
    return state


act = stochastic_actor_act
handoff = actor_critic_handoff
