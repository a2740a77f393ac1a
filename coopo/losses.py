"""Small, pure, shape-checked loss functions, named after the papers they come from.

Every function here has a golden-value test in ``tests/test_losses.py``.
"""

from __future__ import annotations

from typing import Any

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
    log_alpha: jax.Array, log_prob: jax.Array, target_entropy: float | jax.Array
) -> jax.Array:
    """-E[log_alpha * (log pi + target_entropy)]; gradient flows into ``log_alpha`` only."""
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))


def soft_update(target: Any, online: Any, tau: float) -> Any:
    """Polyak averaging ``target <- (1 - tau) * target + tau * online`` over a pytree."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def expectile_loss(diff: jax.Array, expectile: float) -> jax.Array:
    """IQL's asymmetric L2, E[|tau - 1(u < 0)| u^2] with u = Q(s, a) - V(s) (Kostrikov et al. 2021)."""
    weight = jnp.where(diff > 0, expectile, 1.0 - expectile)
    return jnp.mean(weight * diff**2)


def td3_bc_actor_loss(
    q_pi: jax.Array, pi_action: jax.Array, data_action: jax.Array, alpha: float
) -> jax.Array:
    """TD3+BC: -lambda E[Q(s, pi(s))] + mean((pi(s) - a)^2), lambda = alpha / E|Q| (no gradient
    through the normaliser) (Fujimoto & Gu 2021).

    The behaviour-cloning term averages the squared error over the batch *and* the action
    dimensions, as the reference's ``F.mse_loss(pi, action)`` does; the paper's
    ||pi(s) - a||^2 (a sum over action dimensions) would weigh it |A| times as much against
    the Q term at the same alpha."""
    assert pi_action.shape == data_action.shape, (pi_action.shape, data_action.shape)
    lmbda = jax.lax.stop_gradient(alpha / jnp.mean(jnp.abs(q_pi)))
    return -lmbda * jnp.mean(q_pi) + jnp.mean((pi_action - data_action) ** 2)


def cql_penalty(
    q_rand: jax.Array,
    q_pi: jax.Array,
    q_pi_next: jax.Array,
    log_prob_pi: jax.Array,
    log_prob_pi_next: jax.Array,
    q_data: jax.Array,
    act_dim: int,
    temperature: float = 1.0,
) -> jax.Array:
    """CQL(H) with importance sampling (Kumar et al. 2020, appendix F):
    E_s[ T logsumexp_a(Q(s, a) / T) - Q(s, a_data) ], the logsumexp estimated from N uniform
    actions on [-1, 1]^d (density 2^-d), N policy actions at s and N policy actions at s',
    each divided by its sampling density.

    Shapes: q_* (N, E, B) for N samples, E critics, B states; log_prob_* (N, B); q_data (E, B).
    Summed over critics, averaged over states.
    """
    assert q_rand.shape == q_pi.shape == q_pi_next.shape, (
        q_rand.shape,
        q_pi.shape,
        q_pi_next.shape,
    )
    assert q_data.shape == q_rand.shape[1:], (q_data.shape, q_rand.shape)
    cat = jnp.concatenate(
        [
            q_rand + act_dim * jnp.log(2.0),
            q_pi_next - log_prob_pi_next[:, None, :],
            q_pi - log_prob_pi[:, None, :],
        ],
        axis=0,
    )
    lse = temperature * jax.nn.logsumexp(cat / temperature, axis=0)
    return jnp.mean(lse - q_data, axis=-1).sum()


def calql_lower_bound(q_pi: jax.Array, mc_returns: jax.Array) -> jax.Array:
    """Cal-QL (Nakamoto et al. 2023): policy-action Q values in the CQL penalty are bounded
    below by the behaviour policy's Monte-Carlo return, max(Q(s, a_pi), V_mc(s)). Rows with no
    known return carry ``NO_MC_RETURN`` (-1e9) and are left as they are."""
    return jnp.maximum(q_pi, mc_returns)


def gae(
    r_t: jax.Array,
    v_t: jax.Array,
    v_tp1: jax.Array,
    terminated_t: jax.Array,
    done_t: jax.Array,
    discount: float,
    gae_lambda: float,
) -> jax.Array:
    """Generalised advantage estimation (Schulman et al. 2016) over a time-ordered rollout.

    ``delta_t = r_t + discount * (1 - terminated_t) * v_tp1 - v_t`` bootstraps through
    truncations (``v_tp1`` is the value of the true next observation), and the recursion
    ``A_t = delta_t + discount * lambda * (1 - done_t) * A_{t+1}`` stops at every episode end
    (``done_t = terminated_t or truncated_t``). Shapes (T,).
    """
    assert r_t.shape == v_t.shape == v_tp1.shape == terminated_t.shape == done_t.shape
    delta = r_t + discount * (1.0 - terminated_t) * v_tp1 - v_t

    def step(carry: jax.Array, x: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        d, done = x
        a = d + discount * gae_lambda * (1.0 - done) * carry
        return a, a

    _, adv = jax.lax.scan(step, jnp.zeros((), r_t.dtype), (delta, done_t), reverse=True)
    return jax.lax.stop_gradient(adv)


def ppo_clipped_objective(
    log_prob: jax.Array, old_log_prob: jax.Array, advantage: jax.Array, clip_eps: float
) -> jax.Array:
    """PPO's clipped surrogate, returned as a loss: -E[min(r A, clip(r, 1 -/+ eps) A)]."""
    assert log_prob.shape == old_log_prob.shape == advantage.shape
    ratio = jnp.exp(log_prob - old_log_prob)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -jnp.mean(jnp.minimum(ratio * advantage, clipped * advantage))
