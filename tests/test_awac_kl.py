"""AWAC-KL beyond the contract suite (tests/test_algorithms.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from coopo.algos import awac_kl
from coopo.types import NO_MC_RETURN
from tests.test_algorithms import NET, SPEC, batch


def q_after(cfg: awac_kl.Config, mc_return: float, steps: int = 300) -> float:
    """Q of one terminated row with reward 1 after ``steps`` updates on it alone."""
    state = awac_kl.init(jax.random.PRNGKey(0), SPEC, NET, cfg)
    b = batch(1, seed=5)
    b = b.replace(
        rewards=jnp.ones(1),
        terminated=jnp.ones(1),
        truncated=jnp.zeros(1),
        mc_returns=jnp.full(1, mc_return),
    )
    update = jax.jit(awac_kl.update)
    for i in range(steps):
        state, _ = update(state, b, jax.random.PRNGKey(i))
    return float(state.critic.apply_fn(state.critic.params, b.observations, b.actions).mean())


FAST = awac_kl.Config(critic_lr=0.02, tau=0.2)


def test_the_td_target_ignores_the_datasets_return_to_go():
    """AWAC's critic bootstraps only: a terminated row with reward 1 has target 1, whatever
    the row's Monte-Carlo return (Cal-QL is the algorithm that uses it)."""
    assert q_after(FAST, 10.0) == pytest.approx(1.0, abs=0.3)
    assert q_after(FAST, NO_MC_RETURN) == pytest.approx(1.0, abs=0.3)
