r"""AWAC-KL: KL-regularised advantage-weighted actor-critic, COOPO's offline anchoring phase.

Derivation (Peters & Schaal 2007; Peng et al. 2019, AWR; Nair et al. 2020, AWAC). The offline
phase solves, at every state,

    max_pi  E_{a~pi}[A(s, a)]   s.t.   KL(pi(.|s) || pi_D(.|s)) <= eps,

whose Lagrangian has the closed form pi*(a|s) ∝ pi_D(a|s) exp(A(s, a) / lambda), lambda being
the multiplier of the KL constraint. Projecting pi* onto the parametric policy class by
minimising KL(pi* || pi_theta) gives a weighted maximum-likelihood step on dataset actions,

    L_actor(theta) = -E_{(s,a)~D}[ exp(A(s,a)/lambda) * log pi_theta(a|s) ],

which never evaluates pi_theta off the data: this is the "anchoring" to the dataset.

COOPO returns to this phase after every online phase. The policy that the online phase ended
with, pi_prev, is the natural trust region for the next anchoring step, so we add an explicit
penalty ``kl_coef * KL(pi_theta || pi_prev)`` (exact for tanh-Gaussians, see
:func:`coopo.distributions.gaussian_kl`). It is off in the first offline phase (there is no
previous policy yet) and on after every handoff.

Choices made where the COOPO paper is silent (all in :class:`Config`):

- Critic: twin Q with Polyak target networks; TD target ``r + gamma * (1 - terminated) *
  min_j Q'_j(s', a')`` with a' ~ pi (AWAC's, no entropy bonus).
- Advantage ``A = min_j Q_j(s, a) - mean_k min_j Q_j(s, a_k)``, a_k ~ pi (``value_samples``).
- Weights ``exp(A / lambda)`` clipped at ``max_weight`` (AWAC: lambda = 1, CORL: max 100).
- The actor is the same tanh-Gaussian as SAC's, so handoffs need no conversion; dataset actions
  are clipped to 1 - 1e-5 before the inverse tanh.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algos.base import (
    ActorCriticConfig,
    absorb_as_anchor,
    actor_critic_handoff,
    anchored_actor_step,
    init_actor_critic,
    stochastic_actor_act,
    td_critic_step,
)
from coopo.losses import awac_weights, soft_update, td_target
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "awac_kl"
ROLES = frozenset({"offline", "online"})


@dataclass(frozen=True)
class Config(ActorCriticConfig):
    """AWAC-KL hyperparameters (defaults follow AWAC / CORL where the COOPO paper is silent)."""

    awac_lambda: float = 1.0
    """Temperature lambda in exp(A / lambda): the KL-to-data constraint's multiplier."""
    max_weight: float = 100.0
    """Clip on the advantage weights."""
    kl_coef: float = 0.1
    """beta in beta * KL(pi || pi_prev), active from the second offline phase on (0 = off)."""
    value_samples: int = 1
    """Policy samples used to estimate V(s) = E_{a~pi} Q(s, a) in the advantage."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_critic: Params
    reference_actor: Params
    kl_active: jax.Array  # 0.0 until the first handoff from an online phase
    config: Config = struct.field(pytree_node=False)


def validate(config: Config, net: NetworkConfig) -> list[tuple[str, str]]:
    """Config errors as (field, message)."""
    checks = [
        (config.awac_lambda > 0, "awac_lambda", "must be > 0"),
        (config.value_samples >= 1, "value_samples", "must be >= 1"),
        (config.kl_coef >= 0, "kl_coef", "must be >= 0"),
    ]
    return [(name, msg) for ok, name, msg in checks if not ok]


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    return State(
        actor=actor,
        critic=critic,
        target_critic=critic.params,
        reference_actor=actor.params,
        kl_active=jnp.zeros(()),
        config=config,
    )


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    cfg = state.config
    k_next, k_value = jax.random.split(key)
    actor_apply, critic_apply = state.actor.apply_fn, state.critic.apply_fn

    # --- Critic: TD on the phase's data. ---
    next_mean, next_log_std = actor_apply(state.actor.params, batch.next_observations)
    next_actions, _ = D.sample_tanh_gaussian(k_next, next_mean, next_log_std)
    q_next = critic_apply(state.target_critic, batch.next_observations, next_actions).min(0)
    target = td_target(batch.rewards, cfg.discount, batch.masks, q_next)
    critic, critic_loss, q_data = td_critic_step(state.critic, batch, target)

    # --- Actor: advantage-weighted log-likelihood + KL to the previous phase's policy. ---
    mean, log_std = actor_apply(state.actor.params, batch.observations)
    value_keys = jax.random.split(k_value, cfg.value_samples)
    pi_actions = jax.vmap(lambda k: D.sample_tanh_gaussian(k, mean, log_std)[0])(value_keys)
    v = jax.vmap(lambda a: critic_apply(critic.params, batch.observations, a).min(0))(
        pi_actions
    ).mean(0)
    advantage = critic_apply(critic.params, batch.observations, batch.actions).min(0) - v
    weights = awac_weights(advantage, cfg.awac_lambda, cfg.max_weight)
    actor, actor_loss, kl, log_prob = anchored_actor_step(state, batch, weights, cfg.kl_coef)

    new_state = state.replace(
        actor=actor,
        critic=critic,
        target_critic=soft_update(state.target_critic, critic.params, cfg.tau),
    )
    metrics = {
        "critic_loss": critic_loss,
        "actor_loss": actor_loss,
        "q_mean": q_data.mean(),
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        "kl_to_previous": kl,
        "data_log_likelihood": log_prob,
    }
    return new_state, metrics


# The incoming actor becomes both the starting point and the KL reference pi_prev.
act = stochastic_actor_act
handoff = actor_critic_handoff
absorb = absorb_as_anchor
