"""SAC's handoff options (docs/results/handoffs.md): each one does what it says, and only after a handoff."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from coopo import distributions as D
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


@pytest.mark.parametrize("jit", [False, True])
def test_anchor_kl_weight_golden(jit):
    cfg = sac.Config(anchor_kl_coef=2.0, anchor_kl_decay_steps=100)
    f = jax.jit(sac.anchor_kl_weight, static_argnums=0) if jit else sac.anchor_kl_weight
    got = [float(f(cfg, jnp.ones(()), jnp.asarray(t))) for t in (0, 50, 100, 250)]
    np.testing.assert_allclose(got, [2.0, 1.0, 0.0, 0.0], atol=1e-6)
    const = sac.Config(anchor_kl_coef=2.0)
    assert float(f(const, jnp.ones(()), jnp.asarray(10_000))) == pytest.approx(2.0)
    assert float(f(cfg, jnp.zeros(()), jnp.asarray(0))) == 0.0  # no handoff yet: off


@pytest.mark.slow
def test_anchor_kl_keeps_the_actor_near_the_handed_over_one():
    h = incoming()
    kls = {}
    for coef in (0.0, 100.0):
        state = sac.absorb(fresh(anchor_kl_coef=coef, init_temperature=1.0), h)
        state, metrics = run(state, 60)
        assert metrics[0]["anchor_kl_weight"] == pytest.approx(coef)
        kls[coef] = metrics[-1]["anchor_kl"]
    # Without the term SAC drifts from the anchor; with it the KL stays far smaller.
    assert kls[100.0] < 0.3 * kls[0.0], kls


def test_anchor_kl_off_before_any_handoff():
    _, metrics = run(fresh(anchor_kl_coef=5.0), 3)
    assert all(m["anchor_kl_weight"] == 0.0 for m in metrics)


@pytest.mark.slow
def test_anchor_tau_moves_the_anchor_toward_the_actor_by_polyak_averaging():
    """With anchor_tau the anchor after an update is (1 - tau) * anchor + tau * new actor,
    exactly; with 0 it stays the handed-over actor for the whole phase."""
    h = incoming()
    fixed = sac.absorb(fresh(anchor_kl_coef=1.0), h)
    after, _ = run(fixed, 5)
    assert not differ(after.anchor_actor, h.actor)

    tau = 0.25
    state = sac.absorb(fresh(anchor_kl_coef=1.0, anchor_tau=tau), h)
    one, _ = run(state, 1)
    expected = jax.tree_util.tree_map(
        lambda a, p: (1 - tau) * a + tau * p, h.actor, one.actor.params
    )
    for x, y in zip(
        jax.tree_util.tree_leaves(one.anchor_actor),
        jax.tree_util.tree_leaves(expected),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
    # over many updates the moving anchor stays closer to the actor than the fixed one does
    moving, m_moving = run(state, 60)
    still, m_still = run(fixed, 60)
    assert m_moving[-1]["anchor_kl"] < m_still[-1]["anchor_kl"]
    # a new handoff resets the anchor to the incoming actor
    again = sac.absorb(moving, h)
    assert not differ(again.anchor_actor, h.actor)
    assert sac.validate(sac.Config(anchor_tau=1.5), NET) == [
        ("anchor_tau", "must be in [0, 1], got 1.5")
    ]


def test_critic_warmup_freezes_actor_and_temperature_only():
    state = sac.absorb(fresh(critic_warmup_steps=3), incoming())
    warm, _ = run(state, 3)
    assert not differ(state.actor, warm.actor)
    assert not differ(state.temperature, warm.temperature)
    assert differ(state.critic.params, warm.critic.params)
    after, _ = run(warm, 1, seed=50)
    assert differ(warm.actor.params, after.actor.params)


def test_target_entropy_from_actor():
    h = incoming()
    default = sac.absorb(fresh(), h)
    state = sac.absorb(fresh(target_entropy_from_actor=True), h)
    s1, m1 = run(state, 1)
    # The target is the handed-over actor's entropy on the first batch, then stays.
    assert float(s1.target_entropy) == pytest.approx(m1[0]["entropy"], rel=1e-5)
    assert float(s1.target_entropy) != pytest.approx(-SPEC.act_dim)
    s2, _ = run(s1, 2, seed=9)
    assert float(s2.target_entropy) == pytest.approx(float(s1.target_entropy))
    d1, _ = run(default, 1)
    assert float(d1.target_entropy) == pytest.approx(-SPEC.act_dim)


def test_reset_optimizers_on_handoff():
    h = incoming()
    for reset in (False, True):
        trained, _ = run(fresh(reset_optimizers_on_handoff=reset), 3)
        state = sac.absorb(trained, h)
        mu = jax.tree_util.tree_leaves(state.actor.opt_state)
        zero = all(np.all(np.asarray(x) == 0) for x in mu if np.asarray(x).ndim > 0)
        assert zero == reset


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


@pytest.mark.slow
def test_anchor_kl_is_the_exact_gaussian_kl():
    h = incoming()
    state = sac.absorb(fresh(anchor_kl_coef=1.0), h)
    b = batch()
    _, m = sac.update(state, b, jax.random.PRNGKey(3))
    mean, log_std = state.actor.apply_fn(state.actor.params, b.observations)
    ref = state.actor.apply_fn(state.anchor_actor, b.observations)
    assert float(m["anchor_kl"]) == pytest.approx(0.0, abs=1e-6)  # starts at the anchor
    other = state.replace(anchor_actor=incoming(11).actor)
    _, m2 = sac.update(other, b, jax.random.PRNGKey(3))
    ref = state.actor.apply_fn(other.anchor_actor, b.observations)
    want = jnp.mean(D.gaussian_kl(mean, log_std, *ref))
    assert float(m2["anchor_kl"]) == pytest.approx(float(want), rel=1e-5)
