"""TD3+BC (Fujimoto & Gu 2021, "A Minimalist Approach to Offline Reinforcement Learning").

TD3 with one extra term in the actor loss, a behaviour-cloning regulariser:

    L_pi = -lambda E[Q_1(s, pi(s))] + mean((pi(s) - a)^2),   lambda = alpha / E|Q_1(s, pi(s))|

(``coopo.losses.td3_bc_actor_loss``). The squared error is averaged over the action
dimensions as well as the batch, as the reference code's ``F.mse_loss`` does (the paper writes
a sum over action dimensions, which would make alpha mean something else for each |A|). The critic step, target policy smoothing and delayed
updates are TD3's (imported from :mod:`coopo.algos.td3`). The paper also normalises states
with dataset statistics, which coopo's observation normaliser already does.

As with TD3, the policy is the mean head of the shared tanh-Gaussian actor.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from coopo import distributions as D
from coopo.algos import td3
from coopo.losses import td3_bc_actor_loss
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "td3_bc"
ROLES = frozenset({"offline", "online"})
State = td3.State
act, handoff, absorb = td3.act, td3.handoff, td3.absorb


@dataclass(frozen=True)
class Config(td3.Config):
    """TD3+BC hyperparameters: TD3's plus the BC trade-off alpha (paper: 2.5)."""

    alpha: float = 2.5
    """alpha in lambda = alpha / E|Q|: larger trusts Q more, smaller stays closer to the data."""


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> td3.State:
    return td3.init(key, spec, net, config)


def update(state: td3.State, batch: Transition, key: jax.Array) -> tuple[td3.State, Metrics]:
    cfg = state.config
    assert isinstance(cfg, Config)
    critic, critic_loss, q_mean = td3.critic_step(state, batch, key)

    def actor_loss_fn(params: Params) -> jax.Array:
        pi = td3.deterministic_action(state.actor.apply_fn, params, batch.observations)
        q = critic.apply_fn(critic.params, batch.observations, pi)[0]
        return td3_bc_actor_loss(q, pi, batch.actions, cfg.alpha)

    new, actor_loss = td3.delayed_actor_step(state, critic, actor_loss_fn)
    mean, log_std = state.actor.apply_fn(state.actor.params, batch.observations)
    bc_mse = jnp.mean(jnp.sum((jnp.tanh(mean) - batch.actions) ** 2, -1))
    metrics = {
        "critic_loss": critic_loss,
        "actor_loss": actor_loss,
        "q_mean": q_mean,
        "bc_mse": bc_mse,
        "data_log_likelihood": D.tanh_gaussian_log_prob(mean, log_std, batch.actions).mean(),
    }
    return new, metrics
