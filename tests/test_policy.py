"""The numpy-facing Policy: sampling keys, determinism."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from coopo.networks import TanhGaussianActor
from coopo.policy import Policy


def make_policy(sample_seed: int = 0) -> Policy:
    obs_dim, act_dim = 3, 2
    actor = TanhGaussianActor((16, 16), act_dim)
    params = actor.init(jax.random.PRNGKey(1), jnp.zeros((1, obs_dim)))
    meta = {
        "env_id": "Pendulum-v1",
        "obs_dim": obs_dim,
        "act_dim": act_dim,
        "hidden_dims": [16, 16],
        "obs_mean": [0.0] * obs_dim,
        "obs_std": [1.0] * obs_dim,
        "action_low": [-2.0] * act_dim,
        "action_high": [2.0] * act_dim,
        "seeds": [0],
    }
    return Policy(meta, params, sample_seed)


OBS = np.array([0.1, -0.2, 0.3], np.float32)


def test_stochastic_calls_without_a_key_differ():
    policy = make_policy()
    a, b = policy(OBS, deterministic=False), policy(OBS, deterministic=False)
    assert not np.allclose(a, b)
    # ... and neither is the deterministic action (noise was actually added)
    assert not np.allclose(a, policy(OBS))


def test_the_sampling_stream_is_reproducible_from_its_seed():
    first = [make_policy(7)(OBS, deterministic=False) for _ in range(1)]
    p, q = make_policy(7), make_policy(7)
    np.testing.assert_array_equal(
        [p(OBS, deterministic=False) for _ in range(3)],
        [q(OBS, deterministic=False) for _ in range(3)],
    )
    assert not np.allclose(first[0], make_policy(8)(OBS, deterministic=False))


def test_a_passed_key_is_reproducible_and_does_not_advance_the_stream():
    policy = make_policy()
    key = jax.random.PRNGKey(42)
    a = policy(OBS, deterministic=False, key=key)
    np.testing.assert_array_equal(a, policy(OBS, deterministic=False, key=key))
    # the keyed calls left the internal stream where a fresh policy's starts
    np.testing.assert_array_equal(
        policy(OBS, deterministic=False), make_policy()(OBS, deterministic=False)
    )


def test_deterministic_calls_are_the_squashed_mean_and_batch():
    policy = make_policy()
    batch = np.stack([OBS, -OBS])
    out = policy(batch)
    assert out.shape == (2, 2) and np.all(np.abs(out) <= 2.0)
    np.testing.assert_array_equal(out[0], policy(OBS))
