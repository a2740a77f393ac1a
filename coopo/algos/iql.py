r"""IQL: Implicit Q-Learning (Kostrikov, Nair & Levine 2021, "Offline Reinforcement Learning
with Implicit Q-Learning"), as an anchoring phase for COOPO.

    L_V  = E[ L_2^tau( min_j Q'_j(s, a) - V(s) ) ]               expectile regression, tau 0.7
    L_Q  = E[ (r + gamma (1 - terminated) V(s') - Q_j(s, a))^2 ]  no policy in the target
    L_pi = -E[ min(exp(beta (min_j Q'_j(s, a) - V(s))), 100) log pi(a|s) ]  + kl_coef KL(pi || pi_prev)

Never querying Q at actions outside the dataset is what keeps IQL in-distribution. The
advantage-weighted policy extraction is the same closed form as AWAC's with temperature
1/beta. COOPO's KL-to-the-previous-policy term is added as in :mod:`.awac_kl` (off in the
first offline phase).

Departures from the paper: the actor is coopo's shared tanh-Gaussian (the paper uses a
Gaussian with tanh-squashed mean and state-independent std), and the actor learning rate is
constant (the paper uses a cosine decay over 1M steps, which does not fit repeated phases).

Handoff: the V network is IQL's own and is not handed over. When IQL absorbs another
algorithm's networks it takes the actor and critics and keeps its previous V, which the
expectile loss re-fits to the new critic from the first update on.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState

from coopo.algos.base import (
    ActorCriticConfig,
    absorb_as_anchor,
    actor_critic_handoff,
    anchored_actor_step,
    init_actor_critic,
    stochastic_actor_act,
    td_critic_step,
)
from coopo.losses import (
    awac_weights,
    expectile_loss,
    soft_update,
    td_target,
)
from coopo.networks import NetworkConfig, adam, make_value
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "iql"
ROLES = frozenset({"offline", "online"})


@dataclass(frozen=True)
class Config(ActorCriticConfig):
    """IQL hyperparameters (the paper's MuJoCo locomotion settings)."""

    value_lr: float = 3e-4
    """V learning rate (Adam)."""
    expectile: float = 0.7
    """Expectile tau of the value loss (0.5 = mean, -> 1 = max)."""
    beta: float = 3.0
    """Inverse temperature of the advantage weights exp(beta * A)."""
    max_weight: float = 100.0
    """Clip on the advantage weights."""
    kl_coef: float = 0.1
    """beta_KL in KL(pi || pi_prev), active from the second offline phase on (0 = off)."""


class State(struct.PyTreeNode):
    actor: TrainState
    critic: TrainState
    value: TrainState
    target_critic: Params
    reference_actor: Params
    kl_active: jax.Array
    config: Config = struct.field(pytree_node=False)


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    key, k_value = jax.random.split(key)
    actor, critic = init_actor_critic(key, spec, net, config.actor_lr, config.critic_lr)
    value_def = make_value(net)
    value_params = value_def.init(k_value, jnp.zeros((1, spec.obs_dim)))
    return State(
        actor=actor,
        critic=critic,
        value=TrainState.create(
            apply_fn=value_def.apply, params=value_params, tx=adam(config.value_lr)
        ),
        target_critic=critic.params,
        reference_actor=actor.params,
        kl_active=jnp.zeros(()),
        config=config,
    )


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    del key  # IQL's updates are deterministic given the batch
    cfg = state.config
    critic_apply, value_apply = state.critic.apply_fn, state.value.apply_fn
    q_target = critic_apply(state.target_critic, batch.observations, batch.actions).min(0)

    # --- V: expectile regression towards the target critic ---
    def value_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
        v = value_apply(params, batch.observations)[..., 0]
        return expectile_loss(q_target - v, cfg.expectile), v

    (value_loss, v), value_grads = jax.value_and_grad(value_loss_fn, has_aux=True)(
        state.value.params
    )
    value = state.value.apply_gradients(grads=value_grads)

    # --- Q: TD towards V(s') (no policy in the target) ---
    next_v = value_apply(value.params, batch.next_observations)[..., 0]
    target = td_target(batch.rewards, cfg.discount, batch.masks, next_v)
    critic, critic_loss, q = td_critic_step(state.critic, batch, target)

    # --- Actor: advantage-weighted regression + KL to the previous phase's policy ---
    advantage = q_target - v
    weights = awac_weights(advantage, 1.0 / cfg.beta, cfg.max_weight)
    actor, actor_loss, kl, log_prob = anchored_actor_step(state, batch, weights, cfg.kl_coef)

    new_state = state.replace(
        actor=actor,
        critic=critic,
        value=value,
        target_critic=soft_update(state.target_critic, critic.params, cfg.tau),
    )
    metrics = {
        "critic_loss": critic_loss,
        "value_loss": value_loss,
        "actor_loss": actor_loss,
        "q_mean": q.mean(),
        "v_mean": v.mean(),
        "advantage_mean": advantage.mean(),
        "weight_mean": weights.mean(),
        "kl_to_previous": kl,
        "data_log_likelihood": log_prob,
    }
    return new_state, metrics


# Conversion: V is not part of the handoff; IQL keeps its own and re-fits it (see module doc).
act = stochastic_actor_act
handoff = actor_critic_handoff
absorb = absorb_as_anchor
