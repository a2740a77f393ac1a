"""SAC beyond the contract suite (tests/test_algorithms.py): the handoff, the plain-Q option and
the Q probe of the online phase."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from coopo import phases
from coopo.algos import rlpd, sac
from coopo.algos.base import PolicyHandoff

from ..test_algorithms import NET, SPEC, batch


def fresh(**changes) -> sac.State:
    return sac.init(jax.random.PRNGKey(0), SPEC, NET, sac.Config(**changes))


def incoming(seed: int = 7) -> PolicyHandoff:
    """A handoff from another actor/critic (different initialisation)."""
    other = sac.init(jax.random.PRNGKey(seed), SPEC, NET, sac.Config())
    return sac.handoff(other)


def run(state: sac.State, n: int, seed: int = 1) -> tuple[sac.State, list[dict]]:
    upd = jax.jit(sac.update)
    out = []
    for i in range(n):
        state, m = upd(state, batch(seed=i), jax.random.PRNGKey(seed + i))
        out.append({k: float(v) for k, v in m.items()})
    return state, out


def differ(a, b) -> bool:
    return any(
        not np.array_equal(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def test_absorb_takes_the_networks_and_keeps_sacs_temperature_and_optimizer_state():
    trained, _ = run(fresh(init_temperature=0.5), 3)
    h = incoming()
    state = sac.absorb(trained, h)
    assert not differ(state.actor.params, h.actor) and not differ(state.critic.params, h.critic)
    assert not differ(state.target_critic, h.target_critic)
    assert not differ(state.temperature, trained.temperature)
    assert not differ(state.actor.opt_state, trained.actor.opt_state)
    assert state.target_entropy == -SPEC.act_dim


def test_plain_q_target_ignores_the_temperature():
    for backup, should_differ in ((True, True), (False, False)):
        a = fresh(backup_entropy=backup, init_temperature=0.01)
        b = fresh(backup_entropy=backup, init_temperature=5.0)
        (na, _), (nb, _) = run(a, 1), run(b, 1)
        assert differ(na.critic.params, nb.critic.params) == should_differ


def test_q_probe_matches_the_critic_and_skips_other_ensembles():
    state = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], fresh())  # one seed
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(1, 10, SPEC.obs_dim)), jnp.float32)
    data_a = jnp.full((10, SPEC.act_dim), 0.3)
    pi_a = jnp.full((1, 10, SPEC.act_dim), -0.2)
    q_data, q_pi = phases.make_q_probe(sac, NET, SPEC)(state, obs, data_a, pi_a)
    s0 = jax.tree_util.tree_map(lambda x: x[0], state)
    want = s0.critic.apply_fn(s0.critic.params, obs[0], data_a).min(0).mean()
    assert float(q_data[0]) == pytest.approx(float(want), rel=1e-5)
    assert float(q_pi[0]) != pytest.approx(float(q_data[0]))
    big = rlpd.init(jax.random.PRNGKey(0), SPEC, NET, rlpd.Config())
    big = jax.tree_util.tree_map(lambda x: jnp.asarray(x)[None], big)
    assert phases.make_q_probe(rlpd, NET, SPEC)(big, obs, data_a, pi_a) is None
