"""Correctness of the performance choices: the batched critic ensemble, the batched buffer
allocation and the donated buffer write give the same values as the plain versions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from coopo import phases
from coopo.buffers import replay_add, replay_init
from coopo.networks import MLP, CriticEnsemble


def test_ensemble_equals_separate_networks():
    ens = CriticEnsemble(hidden_dims=(16, 16), num_critics=3)
    obs, act = jnp.ones((5, 4)), jnp.linspace(-1, 1, 10).reshape(5, 2)
    params = ens.init(jax.random.PRNGKey(0), obs, act)
    q = ens.apply(params, obs, act)
    assert q.shape == (3, 5)
    single = MLP((16, 16), 1)
    for j in range(3):
        member = jax.tree_util.tree_map(lambda x, j=j: x[j], params["params"]["VmapMLP_0"])
        qj = single.apply({"params": member}, jnp.concatenate([obs, act], -1))[..., 0]
        np.testing.assert_allclose(np.asarray(q[j]), np.asarray(qj), rtol=1e-5, atol=1e-6)
    # members are initialised independently
    assert not np.allclose(np.asarray(q[0]), np.asarray(q[1]))


def test_batched_buffer_allocation_matches_vmapped():
    a = replay_init(3, 2, 7, batch_shape=(4,))
    b = jax.vmap(lambda _: replay_init(3, 2, 7))(jnp.arange(4))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        assert x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert a.capacity == 7


def test_donated_add_chunk_equals_plain_add():
    rng = np.random.default_rng(0)
    chunk = phases.to_device(
        rng.normal(size=(2, 6, 3)),
        rng.normal(size=(2, 6, 2)),
        rng.normal(size=(2, 6)),
        rng.normal(size=(2, 6, 3)),
        np.zeros((2, 6)),
        np.ones((2, 6)),
    )
    plain = jax.vmap(replay_add)(replay_init(3, 2, 4, batch_shape=(2,)), chunk)
    donated = phases.add_chunk(replay_init(3, 2, 4, batch_shape=(2,)), chunk)
    for x, y in zip(
        jax.tree_util.tree_leaves(plain), jax.tree_util.tree_leaves(donated), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
