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


def test_critic_layer_norm_reaches_every_actor_critic_algorithm():
    """`--network.critic-layer-norm` must change the critics that AWAC-KL, SAC, TD3, IQL and
    Cal-QL build (a LayerNorm per hidden layer), so a run that asks for it cannot silently get
    plain critics; and the handoff between AWAC-KL and SAC keeps those LayerNorm parameters."""
    import dataclasses

    from coopo.config import algorithm
    from coopo.networks import NetworkConfig
    from coopo.types import EnvSpec

    spec = EnvSpec(obs_dim=4, act_dim=2)
    plain = NetworkConfig(hidden_dims=(8, 8))
    normed = dataclasses.replace(plain, critic_layer_norm=True)

    def layer_norms(state):
        leaves = jax.tree_util.tree_leaves_with_path(state.critic.params)
        return {
            jax.tree_util.keystr(p) for p, _ in leaves if "LayerNorm" in jax.tree_util.keystr(p)
        }

    for name in ("awac_kl", "sac", "td3", "iql", "cal_ql"):
        algo = algorithm(name)
        key = jax.random.PRNGKey(0)
        assert layer_norms(algo.init(key, spec, plain, algo.Config())) == set(), name
        found = layer_norms(algo.init(key, spec, normed, algo.Config()))
        # scale and bias of one LayerNorm after each of the 2 hidden layers
        assert len(found) == 4, (name, found)

    offline, online = algorithm("awac_kl"), algorithm("sac")
    off = offline.init(jax.random.PRNGKey(1), spec, normed, offline.Config())
    on = online.init(jax.random.PRNGKey(2), spec, normed, online.Config())
    on = online.absorb(on, offline.handoff(off))
    for a, b in zip(
        jax.tree_util.tree_leaves(on.critic.params),
        jax.tree_util.tree_leaves(off.critic.params),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
