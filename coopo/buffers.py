"""Buffers as pure functions over state pytrees (flashbax-style).

- The dataset is a read-only, device-resident :class:`~coopo.types.Transition` of N rows.
- :class:`ReplayBuffer` is a fixed-capacity FIFO ring; :func:`replay_add` writes a chunk of
  rows and wraps around, overwriting the oldest.
- :func:`mix_sample` draws one batch from several sources in fixed proportions;
  :func:`union_sample` draws uniformly from the union of the dataset and a replay buffer;
  :func:`share_sample` draws a fixed share of each batch from the buffer instead.

Everything is jittable; shapes are static (counts are Python ints) and only sizes are traced.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from coopo.types import NO_MC_RETURN, Transition


class ReplayBuffer(struct.PyTreeNode):
    data: Transition  # arrays of shape (capacity, ...)
    ptr: jax.Array  # next row to write
    size: jax.Array  # rows filled, <= capacity

    @property
    def capacity(self) -> int:
        return int(self.data.rewards.shape[-1])


def replay_init(
    obs_dim: int, act_dim: int, capacity: int, batch_shape: tuple[int, ...] = ()
) -> ReplayBuffer:
    """An empty buffer; ``batch_shape=(S,)`` gives S independent buffers (one per seed),
    allocated once (building them with ``vmap`` materialised the zeros twice)."""
    if capacity <= 0:
        raise ValueError(f"replay buffer capacity must be positive, got {capacity}")
    b = tuple(batch_shape)

    def z(*shape: int) -> jax.Array:
        return jnp.zeros(b + (capacity, *shape), jnp.float32)

    data = Transition(
        observations=z(obs_dim),
        actions=z(act_dim),
        rewards=z(),
        next_observations=z(obs_dim),
        terminated=z(),
        truncated=z(),
        mc_returns=jnp.full(b + (capacity,), NO_MC_RETURN, jnp.float32),
    )
    return ReplayBuffer(data=data, ptr=jnp.zeros(b, jnp.int32), size=jnp.zeros(b, jnp.int32))


def replay_add(buffer: ReplayBuffer, chunk: Transition) -> ReplayBuffer:
    """Append ``n`` rows (leading axis of ``chunk``) FIFO, wrapping around the capacity."""
    cap = buffer.capacity
    n = chunk.rewards.shape[0]
    idx = (buffer.ptr + jnp.arange(n)) % cap
    data = jax.tree_util.tree_map(lambda d, c: d.at[idx].set(c.astype(d.dtype)), buffer.data, chunk)
    return ReplayBuffer(
        data=data, ptr=(buffer.ptr + n) % cap, size=jnp.minimum(buffer.size + n, cap)
    )


def mark_last_truncated(buffer: ReplayBuffer) -> ReplayBuffer:
    """The newest row marked truncated unless it terminated: the end of an episode that a
    phase cut short (leading seed axes too; an empty buffer is returned as it is)."""
    last = (buffer.ptr - 1) % buffer.capacity
    newest = (jnp.arange(buffer.capacity) == last[..., None]) & (buffer.size[..., None] > 0)
    d = buffer.data
    truncated = jnp.where(newest, jnp.maximum(d.truncated, 1.0 - d.terminated), d.truncated)
    return buffer.replace(data=d.replace(truncated=truncated))


def gather(data: Transition, idx: jax.Array) -> Transition:
    return jax.tree_util.tree_map(lambda x: x[idx], data)


def uniform_sample(data: Transition, size: jax.Array | int, key: jax.Array, n: int) -> Transition:
    """``n`` rows drawn uniformly with replacement from the first ``size`` rows."""
    idx = jax.random.randint(key, (n,), 0, jnp.maximum(size, 1))
    return gather(data, idx)


def mix_sample(
    sources: Sequence[tuple[Transition, jax.Array | int]],
    counts: Sequence[int],
    key: jax.Array,
) -> Transition:
    """Concatenate ``counts[i]`` uniform draws from source i; sources with count 0 are skipped."""
    keys = jax.random.split(key, len(sources))
    parts = [
        uniform_sample(data, size, k, c)
        for (data, size), c, k in zip(sources, counts, keys, strict=True)
        if c > 0
    ]
    return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs, 0), *parts)


def mix_counts(batch_size: int, fractions: Sequence[float]) -> list[int]:
    """Integer counts summing to ``batch_size`` with the given fractions (largest remainder)."""
    f = np.asarray(fractions, dtype=np.float64)
    if np.any(f < 0) or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"mixing fractions must be >= 0 and sum to 1, got {list(fractions)}")
    raw = f * batch_size
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: batch_size - counts.sum()]] += 1
    return counts.tolist()


def share_sample(
    dataset: Transition,
    dataset_size: int,
    buffer: ReplayBuffer,
    key: jax.Array,
    n: int,
    n_buffer: int,
) -> Transition:
    """``n`` rows of which ``n_buffer`` are drawn uniformly from the replay buffer and the rest
    from the dataset, whatever their sizes; all ``n`` from the dataset while the buffer is
    empty (the first offline phase)."""
    # the dataset rows use ``key`` as uniform_sample and union_sample do, so while the buffer
    # is empty the batch is theirs, row for row (a first cycle reproduces the dataset-only one)
    a = uniform_sample(dataset, dataset_size, key, n)
    b = uniform_sample(buffer.data, buffer.size, jax.random.fold_in(key, 1), n)
    from_buffer = (jnp.arange(n) >= n - n_buffer) & (buffer.size > 0)
    return rows_where(~from_buffer, a, b)


def rows_where(first: jax.Array, a: Transition, b: Transition) -> Transition:
    """Row i of ``a`` where ``first[i]``, else row i of ``b`` (same-shaped batches)."""

    def pick(x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.where(first.reshape(first.shape + (1,) * (x.ndim - 1)), x, y)

    return jax.tree_util.tree_map(pick, a, b)


def union_sample(
    dataset: Transition, dataset_size: int, buffer: ReplayBuffer, key: jax.Array, n: int
) -> Transition:
    """``n`` rows uniform over dataset ∪ replay buffer (proportions follow their sizes)."""
    idx = jax.random.randint(key, (n,), 0, dataset_size + buffer.size)
    from_data = idx < dataset_size
    a = gather(dataset, jnp.minimum(idx, dataset_size - 1))
    b = gather(buffer.data, jnp.clip(idx - dataset_size, 0, buffer.capacity - 1))
    return rows_where(from_data, a, b)
