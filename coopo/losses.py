"""Small, pure, shape-checked loss functions, named after the papers they come from.

Every function here has a golden-value test in ``tests/test_losses.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def td_target(r_t: jax.Array, discount: float, mask_t: jax.Array, v_tp1: jax.Array) -> jax.Array:
    """One-step TD target ``r_t + discount * mask_t * v_tp1`` (no gradient through it).

    ``mask_t = 1 - terminated_t``: truncated transitions still bootstrap.
    """
    assert r_t.shape == mask_t.shape == v_tp1.shape, (r_t.shape, mask_t.shape, v_tp1.shape)
    return jax.lax.stop_gradient(r_t + discount * mask_t * v_tp1)


def critic_mse(q_t: jax.Array, target_t: jax.Array) -> jax.Array:
    """Mean squared TD error, summed over the critic ensemble axis 0 of ``q_t`` (E, B)."""
    assert q_t.shape[1:] == target_t.shape, (q_t.shape, target_t.shape)
    return jnp.mean((q_t - target_t[None]) ** 2, axis=1).sum()


def awac_weights(advantage: jax.Array, temperature: float, max_weight: float) -> jax.Array:
    """exp(A / lambda), clipped at ``max_weight``, with no gradient (AWAC, Nair et al. 2020).

    This is the closed-form solution of max_pi E[A] s.t. KL(pi || pi_beta) <= eps, where
    ``temperature`` (lambda) is the Lagrange multiplier of the KL constraint.
    """
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(advantage / temperature), max_weight))


def advantage_weighted_nll(weights: jax.Array, log_prob: jax.Array) -> jax.Array:
    """-E[w * log pi(a|s)]: the weighted maximum-likelihood projection of the AWAC target."""
    assert weights.shape == log_prob.shape, (weights.shape, log_prob.shape)
    return -jnp.mean(weights * log_prob)


def sac_actor_loss(alpha: jax.Array, log_prob: jax.Array, q: jax.Array) -> jax.Array:
    """E[alpha * log pi(a|s) - Q(s, a)] with a ~ pi (Haarnoja et al. 2018)."""
    assert log_prob.shape == q.shape, (log_prob.shape, q.shape)
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob - q)


def sac_temperature_loss(
    log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float
) -> jax.Array:
    """-E[log_alpha * (log pi + target_entropy)]; gradient flows into ``log_alpha`` only."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))


def soft_update(target: jax.Array, online: jax.Array, tau: float) -> jax.Array:
    """Polyak averaging ``target <- (1 - tau) * target + tau * online`` over a pytree."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)
