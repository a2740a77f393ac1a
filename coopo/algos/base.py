"""The algorithm protocol and the pieces the algorithm modules share.

An algorithm is a plain module that satisfies :class:`Learner`: a ``NAME``, the ``ROLES`` it
can play, a frozen ``Config`` dataclass and pure functions over an immutable state pytree. The
registry (:data:`coopo.algos.ALGORITHMS`) is one line per module, and the run configuration
derives its per-algorithm options from it. An on-policy optimizer also satisfies
:class:`RolloutLearner`. Phases talk to algorithms only through this protocol, and hand over a
:class:`PolicyHandoff` (a typed value, never a shared mutable object) at every phase boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import jax
from flax import struct

from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Metrics, Params, Transition


class PolicyHandoff(struct.PyTreeNode):
    """What one phase gives the next: the actor and the critics it ended with.

    ``actor`` is the reference policy for the next offline phase's KL term.
    """

    actor: Params
    critic: Params
    target_critic: Params


@dataclass(frozen=True)
class ActorCriticConfig:
    """The hyperparameters every actor-critic algorithm has; each ``Config`` extends it."""

    actor_lr: float = 3e-4
    """Actor learning rate (Adam)."""
    critic_lr: float = 3e-4
    """Critic learning rate (Adam)."""
    discount: float = 0.99
    """Discount factor gamma."""
    tau: float = 0.005
    """Polyak rate of the target networks."""


class Learner(Protocol):
    """An algorithm module: ``init``, pure ``update``, ``act`` and the two handoff functions."""

    NAME: str
    ROLES: frozenset[str]
    """``"offline"``, ``"online"`` (and ``"on-policy"`` for a :class:`RolloutLearner`)."""
    Config: type

    def init(self, key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Any) -> Any:
        """Fresh state (parameters, optimizer states, target networks)."""
        ...

    def update(self, state: Any, batch: Transition, key: jax.Array) -> tuple[Any, Metrics]:
        """One gradient update; pure, so phases can ``lax.scan`` and ``vmap`` it."""
        ...

    def act(self, state: Any, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        """Actions in [-1, 1]^act_dim for a batch of (normalised) observations."""
        ...

    def handoff(self, state: Any) -> PolicyHandoff:
        """The networks this algorithm ends its phase with."""
        ...

    def absorb(self, state: Any, handoff: PolicyHandoff) -> Any:
        """Start a phase from another phase's networks, keeping this algorithm's own state."""
        ...


@runtime_checkable
class RolloutLearner(Learner, Protocol):
    """An on-policy online optimizer (PPO, ``ROLES`` with ``"on-policy"``): it learns from the
    rollout it has just collected, not from a replay buffer. The online phase collects ``rollout_steps(config)`` env steps
    per seed, then calls ``update_rollout`` once; a module that has these three functions is
    run this way (:class:`coopo.phases.online.OnPolicyUpdates`)."""

    def rollout_steps(self, config: Any) -> int:
        """Env steps per seed in one rollout."""
        ...

    def updates_per_rollout(self, config: Any) -> int:
        """Gradient steps one ``update_rollout`` call makes (for the run's grad-step counter)."""
        ...

    def update_rollout(
        self, state: Any, rollout: Transition, key: jax.Array
    ) -> tuple[Any, Metrics]:
        """Learn from one seed's rollout, rows of shape (T, ...) in collection order."""
        ...


def config_errors(algo: Learner, config: Any, net: NetworkConfig) -> list[tuple[str, str]]:
    """(field, message) for each value of ``config`` that cannot work. An algorithm checks its
    own config in an optional module function ``validate(config, net)``; the generic checks
    (learning rates > 0, discount in (0, 1], ...) are the run config's."""
    validate = getattr(algo, "validate", None)
    return list(validate(config, net)) if validate is not None else []


def same_shapes(a: Params, b: Params) -> bool:
    """Whether two parameter trees have the same structure and leaf shapes (a static check)."""
    if jax.tree_util.tree_structure(a) != jax.tree_util.tree_structure(b):  # type: ignore[operator]
        return False
    shapes = [tuple(x.shape) for x in jax.tree_util.tree_leaves(a)]
    return shapes == [tuple(x.shape) for x in jax.tree_util.tree_leaves(b)]


def take_critics(h: PolicyHandoff, own_critic: Params, own_target: Params) -> tuple[Params, Params]:
    """The incoming critics if they fit this algorithm's critic network, else its own.

    Critic ensembles differ between algorithms (twin Q vs RLPD's 10 LayerNorm critics); an
    algorithm that cannot use the incoming critics keeps its own and takes the actor only.
    """
    if same_shapes(h.critic, own_critic):
        return h.critic, h.target_critic
    return own_critic, own_target


# Shared pieces of the protocol, for the algorithms whose state has ``actor`` (TrainState of
# the tanh-Gaussian actor), ``critic`` (TrainState) and ``target_critic`` fields.


def stochastic_actor_act(
    state: Any, obs: jax.Array, key: jax.Array, deterministic: bool
) -> jax.Array:
    """``act`` of a tanh-Gaussian actor: tanh(mean) when deterministic, else a sample."""
    from coopo.distributions import tanh_gaussian_action

    return tanh_gaussian_action(state.actor.apply_fn(state.actor.params, obs), key, deterministic)


def actor_critic_handoff(state: Any) -> PolicyHandoff:
    """``handoff``: the actor, the critics and the target critics."""
    return PolicyHandoff(state.actor.params, state.critic.params, state.target_critic)


def absorb_actor_critic(state: Any, h: PolicyHandoff, **more: Any) -> Any:
    """``absorb``: take the actor, and the critics when they fit (:func:`take_critics`);
    ``more`` sets further fields (a KL reference, a target actor, ...)."""
    critic, target_critic = take_critics(h, state.critic.params, state.target_critic)
    return state.replace(
        actor=state.actor.replace(params=h.actor),
        critic=state.critic.replace(params=critic),
        target_critic=target_critic,
        **more,
    )


def absorb_as_anchor(state: Any, h: PolicyHandoff) -> Any:
    """``absorb`` of an anchoring (offline) algorithm: the incoming actor is both the starting
    point and the reference policy pi_prev of the KL term, which becomes active."""
    import jax.numpy as jnp

    return absorb_actor_critic(state, h, reference_actor=h.actor, kl_active=jnp.ones(()))


def anchored_actor_step(
    state: Any, batch: Transition, weights: jax.Array, kl_coef: float
) -> tuple[Any, jax.Array, jax.Array, jax.Array]:
    """One step of COOPO's anchoring actor loss, shared by the advantage-weighted algorithms
    (AWAC-KL, IQL): ``-E[w log pi(a|s)] + kl_coef * kl_active * KL(pi || pi_prev)``.

    Returns (new actor TrainState, loss, KL to the reference, mean data log-likelihood).
    """
    import jax.numpy as jnp

    from coopo import distributions as D
    from coopo.losses import advantage_weighted_nll

    apply = state.actor.apply_fn
    ref_mean, ref_log_std = apply(state.reference_actor, batch.observations)

    def loss_fn(params: Params) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        mean, log_std = apply(params, batch.observations)
        log_prob = D.tanh_gaussian_log_prob(mean, log_std, batch.actions)
        kl = jnp.mean(D.gaussian_kl(mean, log_std, ref_mean, ref_log_std))
        loss = advantage_weighted_nll(weights, log_prob) + kl_coef * state.kl_active * kl
        return loss, (kl, log_prob.mean())

    (loss, (kl, log_prob)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.actor.params)
    return state.actor.apply_gradients(grads=grads), loss, kl, log_prob


def td_critic_step(
    critic: Any, batch: Transition, target: jax.Array
) -> tuple[Any, jax.Array, jax.Array]:
    """One step of the critic ensemble's mean squared TD error towards ``target``.

    Returns (new critic TrainState, loss, Q(s, a) of the batch's actions per critic).
    """
    from coopo.losses import critic_mse

    def loss_fn(params: Params) -> tuple[jax.Array, jax.Array]:
        q = critic.apply_fn(params, batch.observations, batch.actions)
        return critic_mse(q, target), q

    (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(critic.params)
    return critic.apply_gradients(grads=grads), loss, q


def keep_if(keep: jax.Array, old: Any, new: Any) -> Any:
    """``old`` where ``keep`` else ``new``, leaf by leaf (a train state frozen for an update:
    parameters and optimizer moments alike, e.g. the actor during a critic warm-up)."""
    import jax.numpy as jnp

    return jax.tree_util.tree_map(lambda o, n: jnp.where(keep, o, n), old, new)


def init_actor_critic(
    key: jax.Array, spec: EnvSpec, net: Any, actor_lr: float, critic_lr: float
) -> tuple[Any, Any]:
    """Fresh (actor, critic) TrainStates of the shared networks; the critic's params double as
    the initial target critic (and the actor's as the initial reference/target actor)."""
    import jax.numpy as jnp
    from flax.training.train_state import TrainState

    from coopo.networks import adam, make_actor, make_critic

    k_actor, k_critic = jax.random.split(key)
    actor_def, critic_def = make_actor(net, spec.act_dim), make_critic(net)
    obs, act = jnp.zeros((1, spec.obs_dim)), jnp.zeros((1, spec.act_dim))
    actor = TrainState.create(
        apply_fn=actor_def.apply, params=actor_def.init(k_actor, obs), tx=adam(actor_lr)
    )
    critic = TrainState.create(
        apply_fn=critic_def.apply, params=critic_def.init(k_critic, obs, act), tx=adam(critic_lr)
    )
    return actor, critic


def init_temperature(initial: float, lr: float) -> Any:
    """SAC-style entropy temperature: a TrainState over {"log_alpha": scalar}."""
    import jax.numpy as jnp
    from flax.training.train_state import TrainState

    from coopo.networks import adam

    log_alpha = jnp.log(jnp.asarray(initial, jnp.float32))
    return TrainState.create(apply_fn=None, params={"log_alpha": log_alpha}, tx=adam(lr))
