"""Networks shared by every algorithm: MLPs, a tanh-Gaussian actor and a critic ensemble.

The critic ensemble is one batched network (``nn.vmap`` over parameters), so twin critics or a
10-critic RLPD ensemble cost one fused matmul per layer instead of one per critic.
Agents act in the normalised action box [-1, 1]^d; rescaling to the env's bounds happens at
the env boundary (:mod:`coopo.envs`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


@dataclass(frozen=True)
class NetworkConfig:
    """Network architecture shared by the actor and the critics."""

    hidden_dims: tuple[int, ...] = (256, 256)
    """Hidden layer widths of every MLP."""
    critic_layer_norm: bool = False
    """LayerNorm after each hidden layer of the critics (RLPD-style)."""
    num_critics: int = 2
    """Critics in the ensemble (2 = twin Q)."""


class MLP(nn.Module):
    hidden_dims: Sequence[int]
    out_dim: int
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden_dims:
            x = nn.Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = nn.relu(x)
        return nn.Dense(self.out_dim, kernel_init=nn.initializers.orthogonal(1e-2))(x)


class TanhGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s))). Returns the pre-squash mean and log-std."""

    hidden_dims: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = MLP(self.hidden_dims, 2 * self.act_dim)(obs)
        mean, log_std = jnp.split(out, 2, axis=-1)
        # Soft clamp keeps gradients alive at the bounds (as in rlpd / jaxrl).
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(log_std) + 1.0)
        return mean, log_std


class CriticEnsemble(nn.Module):
    """Q_j(s, a) for j < num_critics; output shape (num_critics, *batch)."""

    hidden_dims: Sequence[int]
    num_critics: int = 2
    layer_norm: bool = False

    @nn.compact
    def __call__(self, obs: jax.Array, act: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            MLP,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        q = ensemble(self.hidden_dims, 1, self.layer_norm)(jnp.concatenate([obs, act], -1))
        return q[..., 0]


@functools.cache
def make_value(cfg: NetworkConfig) -> MLP:
    """A state-value network V(s) (IQL)."""
    return MLP(cfg.hidden_dims, 1)


# Cached so that every state built from one config shares the same module objects: their
# bound ``apply`` methods are static pytree fields and must compare equal for stacking.
@functools.cache
def make_actor(cfg: NetworkConfig, act_dim: int) -> TanhGaussianActor:
    return TanhGaussianActor(cfg.hidden_dims, act_dim)


@functools.cache
def make_critic(cfg: NetworkConfig) -> CriticEnsemble:
    return CriticEnsemble(cfg.hidden_dims, cfg.num_critics, cfg.critic_layer_norm)


@functools.cache
def adam(learning_rate: float) -> optax.GradientTransformation:
    """One shared Adam per learning rate, so states built separately share a treedef
    (optimizers are static pytree fields) and can be stacked over seeds."""
    return optax.adam(learning_rate)
