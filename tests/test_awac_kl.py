"""AWAC-KL's options beyond the contract suite (tests/test_algorithms.py)."""

from __future__ import annotations

import dataclasses

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


def test_mc_lower_bound_lifts_the_target_to_the_return_to_go():
    """The TD target of a terminated row with reward 1 is 1; bounded below by a return-to-go
    of 10 it is 10."""
    on = dataclasses.replace(FAST, mc_lower_bound=True)
    assert q_after(on, 10.0) == pytest.approx(10.0, abs=0.5)
    assert q_after(FAST, 10.0) == pytest.approx(1.0, abs=0.3)  # off: the return is ignored


def test_mc_lower_bound_leaves_rows_without_a_return_and_returns_below_the_target_alone():
    on = dataclasses.replace(FAST, mc_lower_bound=True)
    assert q_after(on, NO_MC_RETURN) == pytest.approx(1.0, abs=0.3)  # online rows
    assert q_after(on, -5.0) == pytest.approx(1.0, abs=0.3)  # a bound below the target
