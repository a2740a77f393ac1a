"""Golden values of every loss, computed by hand, with and without jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from coopo import distributions as D
from coopo import losses as L


def both(fn, *args, **kw):
    """Run ``fn`` eagerly and under jit; they must agree."""
    eager = fn(*args, **kw)
    jitted = jax.jit(lambda *a: fn(*a, **kw))(*args)
    np.testing.assert_allclose(np.asarray(eager), np.asarray(jitted), rtol=1e-6)
    return np.asarray(eager)


def test_td_target_bootstraps_only_through_non_terminal():
    r = jnp.array([1.0, 2.0, 0.5])
    mask = jnp.array([1.0, 0.0, 1.0])  # second row terminated
    v = jnp.array([10.0, 10.0, -4.0])
    out = both(L.td_target, r, 0.9, mask, v)
    np.testing.assert_allclose(out, [10.0, 2.0, 0.5 - 3.6], rtol=1e-6)


def test_td_target_has_no_gradient():
    g = jax.grad(lambda v: L.td_target(jnp.ones(2), 0.9, jnp.ones(2), v).sum())(jnp.ones(2))
    np.testing.assert_array_equal(np.asarray(g), 0.0)


def test_td_target_rejects_mismatched_shapes():
    with pytest.raises(AssertionError):
        L.td_target(jnp.ones(3), 0.9, jnp.ones(3), jnp.ones(2))


def test_critic_mse_sums_over_ensemble():
    q = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    assert both(L.critic_mse, q, jnp.array([1.0, 1.0])) == pytest.approx(0.5 + 6.5)


def test_awac_weights_exp_and_clip():
    adv = jnp.array([0.0, np.log(2.0), 10.0])
    np.testing.assert_allclose(both(L.awac_weights, adv, 1.0, 5.0), [1.0, 2.0, 5.0], rtol=1e-6)
    np.testing.assert_allclose(
        both(L.awac_weights, jnp.array([2 * np.log(3.0)]), 2.0, 100.0), [3.0], rtol=1e-6
    )
    g = jax.grad(lambda a: L.awac_weights(a, 1.0, 5.0).sum())(adv)
    np.testing.assert_array_equal(np.asarray(g), 0.0)


def test_advantage_weighted_nll():
    out = both(L.advantage_weighted_nll, jnp.array([1.0, 2.0]), jnp.array([-1.0, -3.0]))
    assert out == pytest.approx(3.5)


def test_sac_actor_loss():
    out = both(L.sac_actor_loss, jnp.asarray(0.5), jnp.array([-1.0, -3.0]), jnp.array([2.0, 4.0]))
    assert out == pytest.approx(-4.0)


def test_sac_temperature_loss_value_and_gradient():
    log_alpha = jnp.log(0.5)
    log_prob = jnp.array([-1.0, -3.0])
    out = both(L.sac_temperature_loss, log_alpha, log_prob, 1.0)
    assert out == pytest.approx(np.log(0.5) * -1.0 * -1.0)  # -mean(log_a * [0, -2]) = log_a
    g = jax.grad(L.sac_temperature_loss)(log_alpha, log_prob, 1.0)
    # d/dlog_alpha = -mean(log_prob + target_entropy) = -mean([0, -2]) = 1: entropy too low -> raise alpha
    assert float(g) == pytest.approx(1.0)


def test_soft_update():
    out = L.soft_update({"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, 0.1)
    np.testing.assert_allclose(np.asarray(out["w"]), [0.1, 0.1])


def test_gaussian_kl_golden():
    z = jnp.zeros((1,))
    assert both(D.gaussian_kl, z, z, z + 1.0, z)[()] == pytest.approx(0.5)
    expected = 0.5 * (np.exp(-2.0) - 1.0) + 1.0
    assert both(D.gaussian_kl, z, z, z, z + 1.0)[()] == pytest.approx(expected, rel=1e-6)
    assert both(D.gaussian_kl, z + 0.3, z - 0.2, z + 0.3, z - 0.2)[()] == pytest.approx(
        0.0, abs=1e-7
    )


def test_tanh_gaussian_log_prob_matches_change_of_variables():
    mean, log_std = jnp.array([0.2, -0.1]), jnp.array([0.0, -0.5])
    u = np.array([0.5, -1.2])
    a = np.tanh(u)
    std = np.exp(np.asarray(log_std))
    base = -0.5 * ((u - np.asarray(mean)) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)
    expected = np.sum(base - np.log(1 - a**2))
    got = both(D.tanh_gaussian_log_prob, mean, log_std, jnp.asarray(a))
    assert got == pytest.approx(expected, rel=1e-4)


def test_sample_log_prob_agrees_with_density():
    key = jax.random.PRNGKey(0)
    mean, log_std = jnp.array([[0.3, -0.4]]), jnp.array([[-0.2, 0.1]])
    a, logp = D.sample_tanh_gaussian(key, mean, log_std)
    assert np.all(np.abs(np.asarray(a)) <= 1.0)
    np.testing.assert_allclose(
        np.asarray(logp), np.asarray(D.tanh_gaussian_log_prob(mean, log_std, a)), rtol=1e-3
    )


def test_boundary_actions_give_finite_log_prob():
    out = D.tanh_gaussian_log_prob(jnp.zeros(2), jnp.zeros(2), jnp.array([1.0, -1.0]))
    assert np.isfinite(float(out))


def test_expectile_loss_weights_positive_and_negative_errors():
    # u = [1, -1] with tau 0.7: (0.7 * 1 + 0.3 * 1) / 2 = 0.5
    assert both(L.expectile_loss, jnp.array([1.0, -1.0]), 0.7) == pytest.approx(0.5)
    # u = [2, -2] with tau 0.9: (0.9 * 4 + 0.1 * 4) / 2 = 2.0
    assert both(L.expectile_loss, jnp.array([2.0, -2.0]), 0.9) == pytest.approx(2.0)
    # tau 0.5 is half the mean squared error
    u = jnp.array([0.3, -1.2, 2.0])
    assert both(L.expectile_loss, u, 0.5) == pytest.approx(0.5 * float(jnp.mean(u**2)), rel=1e-6)


def test_td3_bc_actor_loss():
    q = jnp.array([2.0, -4.0])  # lambda = 2.5 / mean|q| = 2.5 / 3
    pi = jnp.array([[0.5, 0.0], [0.0, 0.0]])
    a = jnp.array([[0.0, 0.0], [0.0, 1.0]])  # element errors 0.25, 0, 0, 1.0
    # BC term = F.mse_loss(pi, a) of the reference: the mean over batch and action dims,
    # 1.25 / 4 = 0.3125 (the sum over action dims, 1.25 / 2 = 0.625, is |A| = 2 times it)
    expected = -(2.5 / 3.0) * (-1.0) + 0.3125
    assert both(L.td3_bc_actor_loss, q, pi, a, 2.5) == pytest.approx(expected, rel=1e-6)
    # the normaliser carries no gradient: d/dq = -lambda / n
    g = jax.grad(lambda q: L.td3_bc_actor_loss(q, pi, a, 2.5))(q)
    np.testing.assert_allclose(np.asarray(g), [-(2.5 / 3.0) / 2] * 2, rtol=1e-6)
    # d/dpi of mean((pi - a)^2) over B = 2 states and |A| = 2 dims: 2 (pi - a) / 4
    g_pi = jax.grad(lambda p: L.td3_bc_actor_loss(q, p, a, 2.5))(pi)
    np.testing.assert_allclose(np.asarray(g_pi), [[0.25, 0.0], [0.0, -0.5]], rtol=1e-6)
    # three action dims: errors 1, 1, 1 on one state with q = 1 (lambda = 2.5): 1 - 2.5
    one = L.td3_bc_actor_loss(jnp.array([1.0]), jnp.ones((1, 3)), jnp.zeros((1, 3)), 2.5)
    assert float(one) == pytest.approx(-2.5 + 1.0)


def test_cql_penalty_golden():
    z = jnp.zeros((1, 1, 1))  # N = E = B = 1
    lp = jnp.zeros((1, 1))
    # act_dim 1: uniform term 0 + log 2, two policy terms 0: logsumexp = log(2 + 1 + 1)
    assert both(L.cql_penalty, z, z, z, lp, lp, jnp.zeros((1, 1)), 1) == pytest.approx(np.log(4.0))
    # the data action's Q is subtracted, and policy log-probs divide out their density
    out = both(L.cql_penalty, z, z + 1.0, z, lp + 1.0, lp, jnp.full((1, 1), 2.0), 2)
    assert out == pytest.approx(np.log(4.0 + 1.0 + np.e**0) - 2.0, rel=1e-6)
    # two critics are summed, states averaged
    q = jnp.zeros((1, 2, 3))
    assert both(
        L.cql_penalty, q, q, q, jnp.zeros((1, 3)), jnp.zeros((1, 3)), jnp.zeros((2, 3)), 1
    ) == pytest.approx(2 * np.log(4.0))


def test_calql_lower_bound():
    q = jnp.array([[1.0, -5.0, 3.0]])
    mc = jnp.array([0.0, 0.0, 10.0])
    np.testing.assert_array_equal(both(L.calql_lower_bound, q, mc), [[1.0, 0.0, 10.0]])
    # rows with no known return (NO_MC_RETURN) keep their value
    no_return = jnp.full(3, -1e9)
    np.testing.assert_array_equal(both(L.calql_lower_bound, q, no_return), q)


def test_gae_golden_with_termination_and_truncation():
    r = jnp.array([1.0, 1.0, 1.0, 1.0])
    v = jnp.array([0.5, 0.5, 0.5, 0.5])
    v_next = jnp.array([0.5, 2.0, 0.5, 3.0])
    term = jnp.array([0.0, 1.0, 0.0, 0.0])
    done = jnp.array([0.0, 1.0, 0.0, 1.0])  # step 1 terminated, step 3 truncated
    g, lam = 0.9, 0.5
    d = [1 + 0.9 * 0.5 - 0.5, 1 - 0.5, 1 + 0.9 * 0.5 - 0.5, 1 + 0.9 * 3.0 - 0.5]
    a3 = d[3]  # truncated: bootstraps v_next, but the recursion stops
    a2 = d[2] + g * lam * a3
    a1 = d[1]  # terminated: no bootstrap, recursion stops
    a0 = d[0] + g * lam * a1
    np.testing.assert_allclose(
        both(L.gae, r, v, v_next, term, done, g, lam), [a0, a1, a2, a3], rtol=1e-6
    )


def test_ppo_clipped_objective():
    logp, old = jnp.log(jnp.array([1.5, 0.5, 1.1])), jnp.zeros(3)
    adv = jnp.array([1.0, -1.0, 2.0])
    # ratio 1.5 with A>0 clips at 1.2; ratio 0.5 with A<0 clips at 0.8 (-0.8 < -0.5); 1.1 unclipped
    expected = -np.mean([1.2 * 1.0, 0.8 * -1.0, 1.1 * 2.0])
    assert both(L.ppo_clipped_objective, logp, old, adv, 0.2) == pytest.approx(expected, rel=1e-6)
    g = jax.grad(L.ppo_clipped_objective)(logp, old, adv, 0.2)
    assert float(g[0]) == 0.0 and float(g[1]) == 0.0 and float(g[2]) != 0.0  # clipped: no gradient
