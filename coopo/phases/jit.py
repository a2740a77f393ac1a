"""The phases' jitted pieces: chunks of K updates, vmapped over seeds; act; handoff.

The jit boundary is "K updates", not one step: each call runs ``lax.scan`` over K
(sample batch -> ``update``) steps for every seed at once (``vmap``). Env stepping stays a host
loop (:mod:`coopo.phases.online`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from coopo.algos.base import Learner
from coopo.buffers import (
    ReplayBuffer,
    mix_counts,
    mix_sample,
    replay_add,
    share_sample,
    uniform_sample,
    union_sample,
)
from coopo.networks import NetworkConfig, make_critic
from coopo.types import NO_MC_RETURN, EnvSpec, Metrics, Transition

Sampler = Callable[[Transition, ReplayBuffer, jax.Array], Transition]


def offline_sampler(
    batch_size: int, dataset_size: int, mode: str, online_fraction: float | None = None
) -> Sampler:
    """The offline phase's data: the dataset only, or dataset and online buffer together:
    uniform over their union (``online_fraction`` None), or ``online_fraction`` of each batch
    from the online data once there is any."""
    if mode == "dataset":
        return lambda data, buf, key: uniform_sample(data, dataset_size, key, batch_size)
    if mode == "dataset+online" and online_fraction is None:
        return lambda data, buf, key: union_sample(data, dataset_size, buf, key, batch_size)
    if mode == "dataset+online" and online_fraction is not None:
        f = float(online_fraction)
        n_online = mix_counts(batch_size, [1.0 - f, f])[1]
        return lambda data, buf, key: share_sample(
            data, dataset_size, buf, key, batch_size, n_online
        )
    raise ValueError(f"unknown offline data mode {mode!r}")


def online_sampler(batch_size: int, dataset_size: int, dataset_fraction: float) -> Sampler:
    """The online phase's data: the mixer, ``dataset_fraction`` of each batch from the dataset."""
    counts = mix_counts(batch_size, [dataset_fraction, 1.0 - dataset_fraction])
    return lambda data, buf, key: mix_sample(
        [(data, dataset_size), (buf.data, buf.size)], counts, key
    )


def run_updates(
    update: Callable[[Any, Transition, jax.Array], tuple[Any, Metrics]],
    sample: Sampler,
    state: Any,
    buffer: ReplayBuffer,
    dataset: Transition,
    key: jax.Array,
    num_updates: int,
) -> tuple[Any, jax.Array, Metrics]:
    """K = ``num_updates`` updates for one seed; metrics averaged over K.

    All K batches are gathered up front (sampling does not depend on the updates) and the
    ``lax.scan`` runs over them. Keeping the dataset and the buffer out of the loop matters:
    XLA copies loop-invariant operands into a while loop's state, which cost a full copy of
    the dataset per call in our memory benchmark.
    """
    key, k_sample, k_update = jax.random.split(key, 3)
    batches = jax.vmap(lambda k: sample(dataset, buffer, k))(
        jax.random.split(k_sample, num_updates)
    )

    def body(st: Any, xs: tuple[Transition, jax.Array]) -> tuple[Any, Metrics]:
        batch, k = xs
        return update(st, batch, k)

    state, metrics = jax.lax.scan(body, state, (batches, jax.random.split(k_update, num_updates)))
    return state, key, jax.tree_util.tree_map(lambda m: m.mean(0), metrics)


def make_update_chunk(algo: Learner, sample: Sampler) -> Callable[..., Any]:
    """jit(vmap over seeds (K updates)). The dataset is shared by all seeds (not vmapped)."""

    def chunk(
        states: Any, buffers: ReplayBuffer, dataset: Transition, keys: jax.Array, num_updates: int
    ) -> Any:
        one = partial(run_updates, algo.update, sample, num_updates=num_updates)
        return jax.vmap(lambda s, b, k: one(s, b, dataset, k))(states, buffers, keys)

    return jax.jit(chunk, static_argnames="num_updates")


def make_rollout_update(algo: Any) -> Callable[..., Any]:
    """jit(vmap over seeds (on-policy update on each seed's rollout of shape (T, ...)))."""

    def one(state: Any, rollout: Transition, key: jax.Array) -> tuple[Any, jax.Array, Metrics]:
        key, sub = jax.random.split(key)
        state, metrics = algo.update_rollout(state, rollout, sub)
        return state, key, metrics

    return jax.jit(jax.vmap(one))


def make_act(algo: Learner, deterministic: bool) -> Callable[..., Any]:
    """jit(vmap over seeds (act)): (S, ..., obs) -> (S, ..., act), with the keys advanced."""

    def act(states: Any, obs: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
        def one(s: Any, o: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
            k, sub = jax.random.split(k)
            return algo.act(s, o, sub, deterministic), k

        return jax.vmap(one)(states, obs, keys)

    return jax.jit(act)


def make_handoff(src: Learner, dst: Learner) -> Callable[[Any, Any], Any]:
    """jit(vmap(dst.absorb(dst_state, src.handoff(src_state))))."""
    return jax.jit(jax.vmap(lambda s_src, s_dst: dst.absorb(s_dst, src.handoff(s_src))))


# Append one chunk of collected rows to every seed's replay buffer. The old buffer is donated:
# XLA writes the rows in place instead of copying the whole buffer (measured on CPU too).
add_chunk = jax.jit(jax.vmap(replay_add), donate_argnums=0)


def to_device(
    obs: Any,
    act: Any,
    rew: Any,
    next_obs: Any,
    term: Any,
    trunc: Any,
    mc_returns: Any = None,
) -> Transition:
    def put(x: Any) -> jax.Array:
        # One host->device copy: device_put of a float32 array (jnp.asarray with a dtype
        # made two copies on CPU in our measurement).
        return jax.device_put(np.asarray(x, np.float32))

    rew = put(rew)
    if mc_returns is None:
        mc_returns = np.full(rew.shape, NO_MC_RETURN, np.float32)
    return Transition(
        put(obs), put(act), rew, put(next_obs), put(term), put(trunc), put(mc_returns)
    )


def make_q_probe(algo: Learner, net: NetworkConfig, spec: EnvSpec) -> Callable[..., Any]:
    """jit(vmap over seeds): the mean over probe rows of min_j Q_j(s, a), for the dataset's
    actions and for the policy's, with the critics ``algo`` hands over (the handoff probe of
    ``docs/results/handoffs.md``). Returns ``None`` for critics that are not ``net``'s ensemble."""
    critic = make_critic(net)
    own = critic.init(
        jax.random.PRNGKey(0), jnp.zeros((1, spec.obs_dim)), jnp.zeros((1, spec.act_dim))
    )
    own_shapes = [x.shape for x in jax.tree_util.tree_leaves(own)]

    @jax.jit
    def probe(states: Any, obs: jax.Array, data_actions: jax.Array, pi_actions: jax.Array) -> Any:
        def one(s: Any, o: jax.Array, a_pi: jax.Array) -> tuple[jax.Array, jax.Array]:
            params = algo.handoff(s).critic
            q_data: jax.Array = critic.apply(params, o, data_actions)  # type: ignore[assignment]
            q_pi: jax.Array = critic.apply(params, o, a_pi)  # type: ignore[assignment]
            return q_data.min(0).mean(), q_pi.min(0).mean()

        return jax.vmap(one)(states, obs, pi_actions)

    def checked(states: Any, obs: jax.Array, data_actions: jax.Array, pi_actions: jax.Array) -> Any:
        theirs = jax.eval_shape(jax.vmap(algo.handoff), states).critic
        if [x.shape[1:] for x in jax.tree_util.tree_leaves(theirs)] != own_shapes:
            return None
        return probe(states, obs, data_actions, pi_actions)

    return checked
