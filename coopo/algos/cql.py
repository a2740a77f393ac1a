r"""CQL: Conservative Q-Learning (Kumar, Zhou, Tucker & Levine 2020), CQL(H) variant with a
SAC-style actor and automatic entropy temperature.

    L_Q  = TD(Q) + cql_alpha * E_s[ logsumexp_a Q(s, a) - Q(s, a_data) ]     (losses.cql_penalty)
    L_pi = E[ alpha log pi(a|s) - min_j Q_j(s, a) ] + kl_coef KL(pi || pi_prev),  a ~ pi

The logsumexp is estimated with ``num_samples`` uniform actions and ``num_samples`` policy
actions at s and at s' (importance-weighted by their densities). Defaults follow the paper's
Gym-MuJoCo setting (cql_alpha 5, 10 samples, no entropy in the TD backup, as in CORL).
COOPO's KL-to-the-previous-policy term is added as in :mod:`.awac_kl`.

:mod:`coopo.algos.cal_ql` is this update with the Monte-Carlo lower bound switched on.

``critic_warmup_steps`` (off by default; ``docs/results/handoffs.md``): after a handoff into this
algorithm (from the second phase on, when it fine-tunes after another algorithm's anchoring
or anchors after another's fine-tuning) the first W updates train the critic only, so the
conservative penalty reshapes the critic it was handed before the actor follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algos.base import (
    ActorCriticConfig,
    PolicyHandoff,
    absorb_as_anchor,
    actor_critic_handoff,
    init_actor_critic,
    init_temperature,
    keep_if,
    stochastic_actor_act,
)
from coopo.losses import (
    calql_lower_bound,
    cql_penalty,
    critic_mse,
    sac_actor_loss,
    sac_temperature_loss,
    soft_update,
    td_target,
)
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "cql"
ROLES = frozenset({"offline", "online"})


@dataclass(frozen=True)
class Config(ActorCriticConfig):
    """CQL hyperparameters (paper / CORL Gym-MuJoCo defaults)."""

    actor_lr: float = 1e-4
    """Actor learning rate (Adam; the paper uses 1e-4 for the policy)."""
    temperature_lr: float = 1e-4
    """Learning rate of the SAC entropy temperature."""
    cql_alpha: float = 5.0
    """Weight of the conservative penalty."""
    num_samples: int = 10
    """Sampled actions per source (uniform, pi(s), pi(s')) in the logsumexp."""
    cql_temperature: float = 1.0
    """Temperature of the logsumexp."""
    init_temperature: float = 1.0
    """Initial SAC entropy temperature alpha."""
    backup_entropy: bool = False
    """Subtract alpha log pi(a'|s') in the TD target."""
    kl_coef: float = 0.1
    """beta in beta * KL(pi || pi_prev), active from the second offline phase on (0 = off)."""
    critic_warmup_steps: int = 0
    """Updates after a handoff into this algorithm that train the critic only (actor and temperature frozen), so the conservative penalty reshapes a handed-over critic before the actor follows it."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    target_critic: Params
    temperature: TrainState  # params = {"log_alpha": scalar}
    reference_actor: Params
    kl_active: jax.Array
    steps_since_handoff: jax.Array  # updates since the last absorb (int32)
    target_entropy: float = struct.field(pytree_node=False)
    config: Config = struct.field(pytree_node=False)


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    return State(
        actor=actor,
        critic=critic,
        target_critic=critic.params,
        temperature=init_temperature(config.init_temperature, config.temperature_lr),
        reference_actor=actor.params,
        kl_active=jnp.zeros(()),
        steps_since_handoff=jnp.zeros((), jnp.int32),
        target_entropy=-float(spec.act_dim),
        config=config,
    )


def conservative_update(
    state: State, batch: Transition, key: jax.Array, calibrated: bool
) -> tuple[State, Metrics]:
    """One CQL update; ``calibrated=True`` applies Cal-QL's lower bound to policy-action Qs:
    the critic's TD loss plus the conservative penalty, then SAC's actor (with the KL to the
    previous policy) and temperature, as in the CQL/Cal-QL algorithm boxes."""
    cfg = state.config
    k_next, k_rand, k_cur, k_nxt, k_actor = jax.random.split(key, 5)
    actor_apply = state.actor.apply_fn
    alpha = jnp.exp(state.temperature.params["log_alpha"])
    critic, critic_metrics = conservative_critic_step(
        state, batch, (k_next, k_rand, k_cur, k_nxt), alpha, calibrated
    )
    ref_mean, ref_log_std = actor_apply(state.reference_actor, batch.observations)

    def actor_loss_fn(params: Params) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        mean, log_std = actor_apply(params, batch.observations)
        a, logp = D.sample_tanh_gaussian(k_actor, mean, log_std)
        q_pi = critic.apply_fn(critic.params, batch.observations, a).min(0)
        kl = jnp.mean(D.gaussian_kl(mean, log_std, ref_mean, ref_log_std))
        return sac_actor_loss(alpha, logp, q_pi) + cfg.kl_coef * state.kl_active * kl, (logp, kl)

    (actor_loss, (logp, kl)), actor_grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
        state.actor.params
    )
    actor = state.actor.apply_gradients(grads=actor_grads)
    temp_loss, temp_grads = jax.value_and_grad(
        lambda p: sac_temperature_loss(p["log_alpha"], logp, state.target_entropy)
    )(state.temperature.params)

    temperature = state.temperature.apply_gradients(grads=temp_grads)
    # Critic warm-up after a handoff: the actor and temperature (and their moments) stay.
    warming = (state.kl_active > 0) & (state.steps_since_handoff < cfg.critic_warmup_steps)
    new_state = state.replace(
        actor=keep_if(warming, state.actor, actor),
        critic=critic,
        target_critic=soft_update(state.target_critic, critic.params, cfg.tau),
        temperature=keep_if(warming, state.temperature, temperature),
        steps_since_handoff=state.steps_since_handoff + 1,
    )
    metrics = {
        **critic_metrics,
        "actor_loss": actor_loss,
        "temperature_loss": temp_loss,
        "alpha": alpha,
        "kl_to_previous": kl,
    }
    return new_state, metrics


def conservative_critic_step(
    state: State,
    batch: Transition,
    keys: tuple[jax.Array, jax.Array, jax.Array, jax.Array],
    alpha: jax.Array,
    calibrated: bool,
) -> tuple[Any, Metrics]:
    """The critic's step: TD loss to the entropy-regularised target plus ``cql_alpha`` times
    the conservative penalty over ``num_samples`` random, current-policy and next-policy
    actions per source (Cal-QL: policy-action Qs bounded below by the data's returns)."""
    cfg = state.config
    k_next, k_rand, k_cur, k_nxt = keys
    actor_apply, critic_apply = state.actor.apply_fn, state.critic.apply_fn
    n, (b, act_dim) = cfg.num_samples, batch.actions.shape

    next_mean, next_log_std = actor_apply(state.actor.params, batch.next_observations)
    next_a, next_logp = D.sample_tanh_gaussian(k_next, next_mean, next_log_std)
    q_next = critic_apply(state.target_critic, batch.next_observations, next_a).min(0)
    if cfg.backup_entropy:
        q_next = q_next - alpha * next_logp
    target = td_target(batch.rewards, cfg.discount, batch.masks, q_next)

    # Sampled actions for the logsumexp (no gradient into the actor from the critic loss).
    mean, log_std = actor_apply(state.actor.params, batch.observations)
    rand_a = jax.random.uniform(k_rand, (n, b, act_dim), minval=-1.0, maxval=1.0)
    sample_n = jax.vmap(D.sample_tanh_gaussian, in_axes=(0, None, None))
    cur_a, cur_logp = sample_n(jax.random.split(k_cur, n), mean, log_std)
    nxt_a, nxt_logp = sample_n(jax.random.split(k_nxt, n), next_mean, next_log_std)
    cur_a, cur_logp, nxt_a, nxt_logp = jax.lax.stop_gradient((cur_a, cur_logp, nxt_a, nxt_logp))

    def critic_loss_fn(params: Params) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        q_data = critic_apply(params, batch.observations, batch.actions)
        q_at = jax.vmap(lambda a: critic_apply(params, batch.observations, a))
        q_rand, q_cur, q_nxt = q_at(rand_a), q_at(cur_a), q_at(nxt_a)
        if calibrated:
            q_cur = calql_lower_bound(q_cur, batch.mc_returns)
            q_nxt = calql_lower_bound(q_nxt, batch.mc_returns)
        penalty = cql_penalty(
            q_rand, q_cur, q_nxt, cur_logp, nxt_logp, q_data, act_dim, cfg.cql_temperature
        )
        td = critic_mse(q_data, target)
        return td + cfg.cql_alpha * penalty, (td, penalty)

    (critic_loss, (td_loss, penalty)), critic_grads = jax.value_and_grad(
        critic_loss_fn, has_aux=True
    )(state.critic.params)
    metrics = {
        "critic_loss": critic_loss,
        "td_loss": td_loss,
        "cql_penalty": penalty,
        "data_log_likelihood": D.tanh_gaussian_log_prob(mean, log_std, batch.actions).mean(),
    }
    return state.critic.apply_gradients(grads=critic_grads), metrics


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    return conservative_update(state, batch, key, calibrated=False)


def absorb(state: State, h: PolicyHandoff) -> State:
    """Start from the handed-over actor and critics; the actor becomes pi_prev of the KL term
    and the warm-up clock restarts."""
    return absorb_as_anchor(state, h).replace(steps_since_handoff=jnp.zeros((), jnp.int32))


act = stochastic_actor_act
handoff = actor_critic_handoff
