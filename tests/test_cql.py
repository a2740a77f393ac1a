"""CQL / Cal-QL's critic warm-up after a handoff (docs/results/handoffs.md): the actor and the
temperature stay frozen for exactly W updates after a handoff, and never before one."""

from __future__ import annotations

import jax
import pytest

from coopo.algos import awac_kl, cal_ql, cql

from .online.test_sac import differ
from .test_algorithms import NET, SPEC, batch


def fresh(algo=cal_ql, **changes):
    return algo.init(jax.random.PRNGKey(0), SPEC, NET, algo.Config(num_samples=2, **changes))


def incoming():
    """An anchoring phase's actor and critics (another algorithm, another initialisation)."""
    other = awac_kl.init(jax.random.PRNGKey(7), SPEC, NET, awac_kl.Config())
    return awac_kl.handoff(other)


def run(algo, state, n, seed=1):
    upd = jax.jit(algo.update)
    for i in range(n):
        state, _ = upd(state, batch(seed=seed + i), jax.random.PRNGKey(seed + i))
    return state


@pytest.mark.parametrize("algo", [cql, cal_ql])
def test_critic_warmup_freezes_actor_and_temperature_for_w_updates_after_a_handoff(algo):
    state = algo.absorb(fresh(algo, critic_warmup_steps=3), incoming())
    assert int(state.steps_since_handoff) == 0
    warm = run(algo, state, 3)
    assert not differ(state.actor, warm.actor)  # parameters and Adam moments
    assert not differ(state.temperature, warm.temperature)
    assert differ(state.critic.params, warm.critic.params)
    after = run(algo, warm, 1, seed=50)
    assert differ(warm.actor.params, after.actor.params)
    assert differ(warm.temperature.params, after.temperature.params)
    # The next handoff restarts the clock.
    again = algo.absorb(after, incoming())
    assert int(again.steps_since_handoff) == 0
    assert not differ(again.actor.params, run(algo, again, 2, seed=80).actor.params)


def test_no_warmup_before_any_handoff():
    # Cal-QL on its own (calql-ft: the same state in both phases, never absorbed) trains its
    # actor from the first update whatever the warm-up setting.
    state = fresh(critic_warmup_steps=100)
    assert differ(state.actor.params, run(cal_ql, state, 1).actor.params)


def test_without_warmup_the_actor_moves_on_the_first_update_after_a_handoff():
    state = cal_ql.absorb(fresh(), incoming())
    assert differ(state.actor.params, run(cal_ql, state, 1).actor.params)
