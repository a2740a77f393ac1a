r"""PPO: Proximal Policy Optimization (Schulman et al. 2017), an on-policy online optimizer.

The online phase collects ``rollout_length`` fresh steps per seed with the current policy,
then :func:`update_rollout` computes GAE (bootstrapping through truncations) and runs
``epochs`` passes of ``num_minibatches`` minibatch steps of the clipped surrogate
(``losses.ppo_clipped_objective``) and a value regression, all in one jitted call.

Handoff conversions (explicit in :func:`absorb` and :func:`update_rollout`):

- *offline -> PPO*: PPO takes the actor (the same tanh-Gaussian, so its log-probabilities
  are exact) and the critics. Its own state-value function V is warm-started on the first
  rollout after a handoff: ``value_warmup_steps`` regression steps of V(s) onto the handed
  critic's value of the current policy, E_{a~pi} min_j Q_j(s, a) (``value_samples`` actions),
  before the first PPO epoch.
- *PPO -> offline*: PPO hands back its actor (the next offline phase's KL reference) and the
  critics it received, unchanged (PPO does not train Q).

Departures from the paper: a tanh-squashed Gaussian with state-dependent std instead of a
Gaussian with state-independent std (coopo's shared actor), no entropy bonus by default, and
no observation running-mean normalisation (coopo's dataset-fitted normaliser is used).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct
from flax.training.train_state import TrainState

from coopo import distributions as D
from coopo.algos.base import PolicyHandoff, stochastic_actor_act, take_critics
from coopo.losses import gae, ppo_clipped_objective
from coopo.networks import NetworkConfig, make_actor, make_critic, make_value
from coopo.types import EnvSpec, Metrics, Params, Transition

NAME = "ppo"
ROLES = frozenset({"online", "on-policy"})


@dataclass(frozen=True)
class Config:
    """PPO hyperparameters (the paper's MuJoCo settings where they apply)."""

    actor_lr: float = 3e-4
    """Actor learning rate (Adam)."""
    value_lr: float = 3e-4
    """Value-function learning rate (Adam)."""
    discount: float = 0.99
    """Discount factor gamma."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_eps: float = 0.2
    """Clipping range of the probability ratio."""
    rollout_length: int = 2048
    """Environment steps per seed per rollout (the online phase collects this many, then updates)."""
    epochs: int = 10
    """Passes over each rollout."""
    num_minibatches: int = 32
    """Minibatches per epoch."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    entropy_coef: float = 0.0
    """Weight of the entropy bonus (estimated as -log pi of the sampled action)."""
    value_warmup_steps: int = 200
    """V regression steps onto the handed critic's value after an offline -> PPO handoff."""
    value_samples: int = 4
    """Policy samples for E_{a~pi} Q(s, a) in the value warm-up."""


def rollout_steps(config: Config) -> int:
    """``RolloutLearner``: env steps per seed collected before each update."""
    return config.rollout_length


def updates_per_rollout(config: Config) -> int:
    """``RolloutLearner``: gradient steps of one :func:`update_rollout` call."""
    return config.epochs * config.num_minibatches


def validate(config: Config, net: NetworkConfig) -> list[tuple[str, str]]:
    """Config errors as (field, message)."""
    errors = []
    if not config.rollout_length >= config.num_minibatches >= 1:
        errors.append(
            ("num_minibatches", f"must be in [1, ppo.rollout_length={config.rollout_length}]")
        )
    if config.epochs < 1:
        errors.append(("epochs", "must be >= 1"))
    return errors


class State(struct.PyTreeNode):
    actor: TrainState
    value: TrainState
    critic: Params  # received at the handoff, handed back unchanged
    target_critic: Params
    needs_value_warmup: jax.Array
    config: Config = struct.field(pytree_node=False)
    critic_apply: object = struct.field(pytree_node=False, default=None)


@functools.cache
def _tx(lr: float, max_grad_norm: float) -> optax.GradientTransformation:
    # Cached like networks.adam: states built separately must share static fields.
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(lr))


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> State:
    k_actor, k_value, k_critic = jax.random.split(key, 3)
    actor_def, value_def, critic_def = (
        make_actor(net, spec.act_dim),
        make_value(net),
        make_critic(net),
    )
    obs, act = jnp.zeros((1, spec.obs_dim)), jnp.zeros((1, spec.act_dim))
    critic_params = critic_def.init(k_critic, obs, act)
    return State(
        actor=TrainState.create(
            apply_fn=actor_def.apply,
            params=actor_def.init(k_actor, obs),
            tx=_tx(config.actor_lr, config.max_grad_norm),
        ),
        value=TrainState.create(
            apply_fn=value_def.apply,
            params=value_def.init(k_value, obs),
            tx=_tx(config.value_lr, config.max_grad_norm),
        ),
        critic=critic_params,
        target_critic=critic_params,
        needs_value_warmup=jnp.zeros(()),
        config=config,
        critic_apply=critic_def.apply,
    )


def _v(state: State, params: Params, obs: jax.Array) -> jax.Array:
    return state.value.apply_fn(params, obs)[..., 0]


def _value_warmup(state: State, obs: jax.Array, key: jax.Array) -> TrainState:
    """Fit V(s) to E_{a~pi} min_j Q_j(s, a) of the handed critic (see module doc)."""
    cfg = state.config
    mean, log_std = state.actor.apply_fn(state.actor.params, obs)
    keys = jax.random.split(key, cfg.value_samples)
    actions = jax.vmap(lambda k: D.sample_tanh_gaussian(k, mean, log_std)[0])(keys)
    q = jax.vmap(lambda a: state.critic_apply(state.critic, obs, a).min(0))(actions).mean(0)  # type: ignore[operator]
    target = jax.lax.stop_gradient(q)

    def step(value: TrainState, _: None) -> tuple[TrainState, None]:
        grads = jax.grad(lambda p: jnp.mean((_v(state, p, obs) - target) ** 2))(value.params)
        return value.apply_gradients(grads=grads), None

    value, _ = jax.lax.scan(step, state.value, None, length=cfg.value_warmup_steps)
    return value


def update_rollout(state: State, rollout: Transition, key: jax.Array) -> tuple[State, Metrics]:
    """GAE + ``epochs`` x ``num_minibatches`` PPO steps on one time-ordered rollout (T,)."""
    cfg = state.config
    k_warm, k_epochs = jax.random.split(key)
    value = jax.lax.cond(
        state.needs_value_warmup > 0,
        lambda: _value_warmup(state, rollout.observations, k_warm),
        lambda: state.value,
    )
    state = state.replace(value=value, needs_value_warmup=jnp.zeros(()))

    mean, log_std = state.actor.apply_fn(state.actor.params, rollout.observations)
    old_log_prob = D.tanh_gaussian_log_prob(mean, log_std, rollout.actions)
    v = _v(state, state.value.params, rollout.observations)
    v_next = _v(state, state.value.params, rollout.next_observations)
    done = jnp.maximum(rollout.terminated, rollout.truncated)
    advantage = gae(
        rollout.rewards, v, v_next, rollout.terminated, done, cfg.discount, cfg.gae_lambda
    )
    returns = advantage + v
    t = rollout.rewards.shape[0]
    mb = t // cfg.num_minibatches

    def minibatch_step(st: State, idx: jax.Array) -> tuple[State, Metrics]:
        obs, act = rollout.observations[idx], rollout.actions[idx]
        adv = advantage[idx]
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)

        def actor_loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
            m, s = st.actor.apply_fn(params, obs)
            logp = D.tanh_gaussian_log_prob(m, s, act)
            loss = ppo_clipped_objective(logp, old_log_prob[idx], adv, cfg.clip_eps)
            return loss + cfg.entropy_coef * jnp.mean(logp), logp

        (actor_loss, logp), actor_grads = jax.value_and_grad(actor_loss_fn, has_aux=True)(
            st.actor.params
        )

        def value_loss_fn(params: Params) -> jax.Array:
            return jnp.mean((_v(st, params, obs) - returns[idx]) ** 2)

        value_loss, value_grads = jax.value_and_grad(value_loss_fn)(st.value.params)
        approx_kl = jnp.mean(old_log_prob[idx] - logp)
        new = st.replace(
            actor=st.actor.apply_gradients(grads=actor_grads),
            value=st.value.apply_gradients(grads=value_grads),
        )
        return new, {"actor_loss": actor_loss, "value_loss": value_loss, "approx_kl": approx_kl}

    def epoch(st: State, k: jax.Array) -> tuple[State, Metrics]:
        perm = jax.random.permutation(k, t)[: mb * cfg.num_minibatches]
        st, metrics = jax.lax.scan(minibatch_step, st, perm.reshape(cfg.num_minibatches, mb))
        return st, metrics

    state, metrics = jax.lax.scan(epoch, state, jax.random.split(k_epochs, cfg.epochs))
    out = jax.tree_util.tree_map(lambda m: m.mean(), metrics)
    out["advantage_mean"] = advantage.mean()
    out["value_mean"] = v.mean()
    return state, out


def update(state: State, batch: Transition, key: jax.Array) -> tuple[State, Metrics]:
    """The protocol's update: ``batch`` treated as one time-ordered rollout."""
    return update_rollout(state, batch, key)


act = stochastic_actor_act


def handoff(state: State) -> PolicyHandoff:
    return PolicyHandoff(state.actor.params, state.critic, state.target_critic)


def absorb(state: State, h: PolicyHandoff) -> State:
    critic, target_critic = take_critics(h, state.critic, state.target_critic)
    return state.replace(
        actor=state.actor.replace(params=h.actor),
        critic=critic,
        target_critic=target_critic,
        needs_value_warmup=jnp.ones(()),  # conversion: re-fit V to the new critic (module doc)
    )
