"""Contract suite: every registered algorithm must pass it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from coopo import phases
from coopo.algos import ALGORITHMS, PHASES
from coopo.algos.base import RolloutLearner, same_shapes
from coopo.buffers import replay_add, replay_init
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec, Transition

SPEC = EnvSpec(obs_dim=5, act_dim=2)
NET = NetworkConfig(hidden_dims=(32, 32))
ALGOS = ALGORITHMS


def batch(n: int = 64, seed: int = 0) -> Transition:
    rng = np.random.default_rng(seed)
    return phases.to_device(
        rng.normal(size=(n, SPEC.obs_dim)),
        rng.uniform(-1, 1, (n, SPEC.act_dim)),
        rng.normal(size=n),
        rng.normal(size=(n, SPEC.obs_dim)),
        rng.random(n) < 0.1,
        rng.random(n) < 0.1,
    )


# Smaller on-policy settings keep the suite fast; the code paths are the same.
SMALL = {"ppo": {"epochs": 2, "num_minibatches": 4, "value_warmup_steps": 10}}


def config(algo, **changes):
    import dataclasses

    return dataclasses.replace(algo.Config(), **{**SMALL.get(algo.NAME, {}), **changes})


def init(algo, seed: int = 0):
    return algo.init(jax.random.PRNGKey(seed), SPEC, NET, config(algo))


def leaves_differ(a, b) -> bool:
    return any(
        not np.array_equal(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


@pytest.fixture(params=sorted(ALGOS), ids=sorted(ALGOS))
def algo(request):
    return ALGOS[request.param]


def test_roles_are_declared_and_kept(algo):
    """Each module names the phases it can play; "on-policy" marks exactly the modules that
    learn from their own rollout; an offline algorithm's config has the discount of the
    dataset's returns-to-go; every offline algorithm can also fine-tune."""
    import dataclasses

    assert algo.ROLES <= {*PHASES, "on-policy"} and algo.ROLES & set(PHASES)
    assert ("on-policy" in algo.ROLES) == isinstance(algo, RolloutLearner)
    assert "on-policy" not in algo.ROLES or "online" in algo.ROLES
    if "offline" in algo.ROLES:
        assert "online" in algo.ROLES
        assert "discount" in {f.name for f in dataclasses.fields(algo.Config)}


def test_update_is_finite_and_changes_parameters(algo):
    state = init(algo)
    new, metrics = jax.jit(algo.update)(state, batch(), jax.random.PRNGKey(1))
    assert metrics and all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
    assert leaves_differ(state.actor.params, new.actor.params)
    if isinstance(algo, RolloutLearner):  # PPO trains V, not Q
        assert leaves_differ(state.value.params, new.value.params)
    else:
        assert leaves_differ(state.critic.params, new.critic.params)
        assert leaves_differ(state.target_critic, new.target_critic)


@pytest.mark.slow
def test_many_updates_stay_finite(algo):
    state = init(algo)
    data = batch(512, seed=1)
    buf = replay_add(replay_init(SPEC.obs_dim, SPEC.act_dim, 512), data)
    sample = phases.offline_sampler(64, 512, "dataset")
    state, _, metrics = jax.jit(phases.run_updates, static_argnums=(0, 1, 6))(
        algo.update, sample, state, buf, data, jax.random.PRNGKey(0), 200
    )
    assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
    acts = algo.act(state, data.observations, jax.random.PRNGKey(0), False)
    assert np.isfinite(np.asarray(acts)).all()


@pytest.mark.parametrize("deterministic", [True, False])
def test_actions_in_bounds(algo, deterministic):
    state = init(algo)
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(256, SPEC.obs_dim)) * 100)
    a = np.asarray(algo.act(state, obs, jax.random.PRNGKey(0), deterministic))
    assert a.shape == (256, SPEC.act_dim)
    assert np.all(np.abs(a) <= 1.0)


def test_deterministic_act_ignores_key(algo):
    state, obs = init(algo), batch().observations
    a1 = algo.act(state, obs, jax.random.PRNGKey(0), True)
    a2 = algo.act(state, obs, jax.random.PRNGKey(1), True)
    np.testing.assert_array_equal(np.asarray(a1), np.asarray(a2))


@pytest.mark.parametrize("other_name", sorted(ALGOS))
def test_handoff_round_trip_with_every_algorithm(algo, other_name):
    """A -> B hands over the exact networks, and B acts like A did; B -> A back again."""
    other = ALGOS[other_name]
    a = jax.jit(algo.update)(init(algo, 0), batch(), jax.random.PRNGKey(3))[0]
    b = other.absorb(init(other, 1), algo.handoff(a))
    obs = batch().observations
    np.testing.assert_array_equal(
        np.asarray(algo.act(a, obs, jax.random.PRNGKey(0), True)),
        np.asarray(other.act(b, obs, jax.random.PRNGKey(0), True)),
    )
    hb = other.handoff(b)
    if same_shapes(hb.critic, algo.handoff(a).critic):
        assert not leaves_differ(hb.critic, algo.handoff(a).critic)
    else:  # incompatible ensembles (e.g. RLPD's): the receiver keeps its own critics
        assert not leaves_differ(hb.critic, other.handoff(init(other, 1)).critic)
    back = algo.absorb(init(algo, 2), hb)
    np.testing.assert_array_equal(
        np.asarray(algo.act(back, obs, jax.random.PRNGKey(0), True)),
        np.asarray(algo.act(a, obs, jax.random.PRNGKey(0), True)),
    )


def test_checkpoint_round_trip_gives_identical_actions(algo):
    state = jax.jit(algo.update)(init(algo), batch(), jax.random.PRNGKey(4))[0]
    restored = serialization.from_bytes(init(algo, seed=9), serialization.to_bytes(state))
    obs = batch(seed=2).observations
    for det in (True, False):
        np.testing.assert_array_equal(
            np.asarray(algo.act(state, obs, jax.random.PRNGKey(5), det)),
            np.asarray(algo.act(restored, obs, jax.random.PRNGKey(5), det)),
        )
    # and training continues identically
    s1, _ = algo.update(state, batch(seed=3), jax.random.PRNGKey(6))
    s2, _ = algo.update(restored, batch(seed=3), jax.random.PRNGKey(6))
    assert not leaves_differ(s1, s2)


@pytest.mark.slow
def test_vmapped_update_matches_per_seed_update(algo):
    states = [init(algo, s) for s in (0, 1)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *states)
    keys = jnp.stack([jax.random.PRNGKey(10), jax.random.PRNGKey(11)])
    out, _ = jax.vmap(algo.update, in_axes=(0, None, 0))(stacked, batch(), keys)
    for i in range(2):
        single, _ = algo.update(states[i], batch(), keys[i])
        for x, y in zip(
            jax.tree_util.tree_leaves(single), jax.tree_util.tree_leaves(out), strict=True
        ):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y)[i], rtol=2e-4, atol=2e-5)


@pytest.mark.slow
def test_scan_of_k_updates_equals_k_single_updates(algo):
    data = batch(256, seed=7)
    buf = replay_init(SPEC.obs_dim, SPEC.act_dim, 8)
    sample = phases.offline_sampler(32, 256, "dataset")
    state = init(algo)
    scanned, _, _ = phases.run_updates(
        algo.update, sample, state, buf, data, jax.random.PRNGKey(0), 5
    )
    _, k_sample, k_update = jax.random.split(jax.random.PRNGKey(0), 3)
    for ks, ku in zip(jax.random.split(k_sample, 5), jax.random.split(k_update, 5), strict=True):
        state, _ = algo.update(state, sample(data, buf, ks), ku)
    for x, y in zip(
        jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(scanned), strict=True
    ):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-6)


def test_terminated_rows_do_not_bootstrap_but_truncated_rows_do(algo):
    """Train on one self-loop row (s' = s) with reward 1: a terminated row's Q goes to 1,
    a truncated row's Q keeps growing through the bootstrap towards 1 / (1 - gamma).
    (On-policy PPO has no Q to train; its bootstrapping is tested in test_losses' GAE test.)"""
    import dataclasses

    if isinstance(algo, RolloutLearner):
        pytest.skip("on-policy: no TD critic")

    fast = {
        f.name: 0.02 for f in dataclasses.fields(algo.Config) if f.name in ("critic_lr", "value_lr")
    }
    # the bootstrap is what is under test: switch off CQL's conservative penalty
    off = {f.name: 0.0 for f in dataclasses.fields(algo.Config) if f.name == "cql_alpha"}
    cfg = dataclasses.replace(algo.Config(), tau=0.2, **fast, **off)
    state = algo.init(jax.random.PRNGKey(0), SPEC, NET, cfg)
    b = batch(1, seed=5)
    b = b.replace(next_observations=b.observations, rewards=jnp.ones(1))
    b_term = b.replace(terminated=jnp.ones(1), truncated=jnp.zeros(1))
    b_trunc = b.replace(terminated=jnp.zeros(1), truncated=jnp.ones(1))
    update = jax.jit(algo.update)

    def q_after(rows: Transition) -> float:
        s = state
        for i in range(300):
            s, _ = update(s, rows, jax.random.PRNGKey(i))
        return float(s.critic.apply_fn(s.critic.params, b.observations, b.actions).mean())

    q_term, q_trunc = q_after(b_term), q_after(b_trunc)
    assert abs(q_term - 1.0) < 0.3, q_term
    assert q_trunc > 3.0, q_trunc
