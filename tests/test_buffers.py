from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from coopo.buffers import (
    mix_counts,
    mix_sample,
    replay_add,
    replay_init,
    share_sample,
    uniform_sample,
    union_sample,
)
from coopo.types import Transition


def rows(start: int, n: int, obs_dim: int = 2) -> Transition:
    ids = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transition(
        observations=jnp.repeat(ids[:, None], obs_dim, 1),
        actions=ids[:, None],
        rewards=ids,
        next_observations=jnp.repeat(ids[:, None] + 0.5, obs_dim, 1),
        terminated=jnp.zeros(n),
        truncated=jnp.zeros(n),
        mc_returns=jnp.zeros(n),
    )


def test_fifo_wraps_around_and_overwrites_oldest():
    buf = replay_init(2, 1, capacity=5)
    buf = replay_add(buf, rows(0, 3))
    assert int(buf.size) == 3 and int(buf.ptr) == 3
    buf = replay_add(buf, rows(3, 4))  # 7 rows into capacity 5: rows 0, 1 are gone
    assert int(buf.size) == 5 and int(buf.ptr) == 2
    np.testing.assert_array_equal(np.asarray(buf.data.rewards), [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(
        np.asarray(buf.data.next_observations[:, 0]), [5.5, 6.5, 2.5, 3.5, 4.5]
    )


def test_replay_add_jits():
    buf = jax.jit(replay_add)(replay_init(2, 1, 4), rows(0, 6))
    np.testing.assert_array_equal(np.asarray(buf.data.rewards), [4, 5, 2, 3])


def test_uniform_sample_stays_inside_filled_rows():
    buf = replay_add(replay_init(2, 1, 100), rows(0, 10))
    batch = uniform_sample(buf.data, buf.size, jax.random.PRNGKey(0), 1000)
    r = np.asarray(batch.rewards)
    assert r.min() >= 0 and r.max() <= 9 and len(np.unique(r)) == 10


@pytest.mark.parametrize("fractions", [[0.5, 0.5], [0.25, 0.75], [1.0, 0.0], [0.1, 0.9]])
def test_mix_counts_exact(fractions):
    counts = mix_counts(256, fractions)
    assert sum(counts) == 256
    assert all(abs(c - f * 256) < 1 for c, f in zip(counts, fractions, strict=True))


def test_mix_counts_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        mix_counts(10, [0.5, 0.6])
    with pytest.raises(ValueError):
        mix_counts(10, [-0.1, 1.1])


def test_mixer_draws_configured_proportions():
    a, b = rows(0, 50), rows(1000, 20)  # sources are distinguishable by reward
    counts = mix_counts(256, [0.25, 0.75])
    batch = mix_sample([(a, 50), (b, 20)], counts, jax.random.PRNGKey(1))
    r = np.asarray(batch.rewards)
    assert r.shape == (256,)
    assert int((r < 1000).sum()) == 64 and int((r >= 1000).sum()) == 192


def test_union_sample_is_proportional_to_sizes():
    data = rows(0, 300)
    buf = replay_add(replay_init(2, 1, 1000), rows(1000, 100))
    batch = union_sample(data, 300, buf, jax.random.PRNGKey(2), 20_000)
    frac_online = float((np.asarray(batch.rewards) >= 1000).mean())
    assert abs(frac_online - 0.25) < 0.02
    # rows from the buffer beyond its size are never drawn
    assert np.asarray(batch.rewards).max() < 1100


def test_union_with_empty_buffer_draws_only_dataset():
    batch = union_sample(rows(0, 10), 10, replay_init(2, 1, 50), jax.random.PRNGKey(0), 500)
    assert np.asarray(batch.rewards).max() < 10


def test_masks_ignore_truncation():
    t = Transition(
        jnp.zeros((3, 1)),
        jnp.zeros((3, 1)),
        jnp.zeros(3),
        jnp.zeros((3, 1)),
        terminated=jnp.array([0.0, 1.0, 0.0]),
        truncated=jnp.array([0.0, 0.0, 1.0]),
        mc_returns=jnp.zeros(3),
    )
    np.testing.assert_array_equal(np.asarray(t.masks), [1.0, 0.0, 1.0])


def test_share_sample_draws_a_fixed_share_from_the_buffer_whatever_its_size():
    data = rows(0, 300)
    buf = replay_add(replay_init(2, 1, 1000), rows(1000, 10))  # 10 rows against 300
    batch = share_sample(data, 300, buf, jax.random.PRNGKey(3), 256, 64)
    r = np.asarray(batch.rewards)
    assert int((r >= 1000).sum()) == 64  # exactly the share, not 10/310 of the batch
    assert r[r >= 1000].max() < 1010  # only the buffer's filled rows
    assert len(set(r[r >= 1000].tolist())) == 10  # and all of them, at 64 draws
    assert r[r < 1000].max() < 300


def test_share_sample_with_an_empty_buffer_is_the_dataset_only_batch():
    key, empty = jax.random.PRNGKey(0), replay_init(2, 1, 50)
    batch = share_sample(rows(0, 10), 10, empty, key, 500, 250)
    assert np.asarray(batch.rewards).max() < 10
    same = uniform_sample(rows(0, 10), 10, key, 500)
    np.testing.assert_array_equal(batch.rewards, same.rewards)
    np.testing.assert_array_equal(
        batch.rewards, union_sample(rows(0, 10), 10, empty, key, 500).rewards
    )
