"""The two phases as jitted chunks of K updates, vmapped over seeds.

The jit boundary is "K updates", not one step: each call runs ``lax.scan`` over K
(sample batch -> ``update``) steps for every seed at once (``vmap``). Env stepping stays a host
loop (:mod:`coopo.runner`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from coopo.algorithms import Learner
from coopo.buffers import (
    ReplayBuffer,
    mix_counts,
    mix_sample,
    replay_add,
    uniform_sample,
    union_sample,
)
from coopo.types import NO_MC_RETURN, Metrics, Transition

Sampler = Callable[[Transition, ReplayBuffer, jax.Array], Transition]


def offline_sampler(batch_size: int, dataset_size: int, mode: str) -> Sampler:
    """The offline phase's data: the dataset only, or uniform over dataset ∪ online buffer."""
    if mode == "dataset":
        return lambda data, buf, key: uniform_sample(data, dataset_size, key, batch_size)
    if mode == "dataset+online":
        return lambda data, buf, key: union_sample(data, dataset_size, buf, key, batch_size)
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
    """K = ``num_updates`` updates for one seed in a ``lax.scan``; metrics averaged over K."""

    def body(carry: tuple[Any, jax.Array], _: None) -> tuple[tuple[Any, jax.Array], Metrics]:
        st, k = carry
        k, k_sample, k_update = jax.random.split(k, 3)
        st, metrics = update(st, sample(dataset, buffer, k_sample), k_update)
        return (st, k), metrics

    (state, key), metrics = jax.lax.scan(body, (state, key), None, length=num_updates)
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


# Append one chunk of collected rows to every seed's replay buffer.
add_chunk = jax.jit(jax.vmap(replay_add))


def to_device(
    obs: Any,
    act: Any,
    rew: Any,
    next_obs: Any,
    term: Any,
    trunc: Any,
    mc_returns: Any = None,
) -> Transition:
    f32 = jnp.float32
    rew = jnp.asarray(rew, f32)
    if mc_returns is None:
        mc_returns = jnp.full(rew.shape, NO_MC_RETURN, f32)
    return Transition(
        jnp.asarray(obs, f32),
        jnp.asarray(act, f32),
        rew,
        jnp.asarray(next_obs, f32),
        jnp.asarray(term, f32),
        jnp.asarray(trunc, f32),
        jnp.asarray(mc_returns, f32),
    )
