"""A run's final policy: saved into the run directory, loaded back as a plain numpy callable,
exported as a plain-MLP behaviour-policy file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from coopo import jsonfile
from coopo.envs import ActionScaler
from coopo.networks import TanhGaussianActor
from coopo.normalization import Normalizer
from coopo.types import EnvSpec


def save_policy(
    run_dir: str | Path,
    actors: Any,
    seeds: list[int],
    *,
    env_id: str,
    env_kwargs: dict[str, Any],
    spec: EnvSpec,
    hidden_dims: tuple[int, ...],
    normalizer: Normalizer,
    scaler: ActionScaler,
    ref_scores: tuple[float | None, float | None],
    trained_by: str,
) -> Path:
    """Write ``RUN_DIR/policy/``: one ``seed_S.msgpack`` per seed (``actors`` are stacked over
    seeds) and ``policy.json``, everything :func:`load_policy` needs."""
    out = Path(run_dir) / "policy"
    out.mkdir(exist_ok=True)
    for i, seed in enumerate(seeds):
        params = jax.tree_util.tree_map(lambda x, i=i: np.asarray(x[i]), actors)
        (out / f"seed_{seed}.msgpack").write_bytes(serialization.to_bytes(params))
    meta = {
        "actor": "tanh_gaussian",
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "obs_dim": spec.obs_dim,
        "act_dim": spec.act_dim,
        "hidden_dims": list(hidden_dims),
        "seeds": seeds,
        "obs_mean": np.asarray(normalizer.mean).tolist(),
        "obs_std": np.asarray(normalizer.std).tolist(),
        "action_low": scaler.low.tolist(),
        "action_high": scaler.high.tolist(),
        "ref_min_score": ref_scores[0],
        "ref_max_score": ref_scores[1],
        "trained_by": trained_by,
    }
    (out / "policy.json").write_text(jsonfile.dumps(meta, indent=1))
    return out


class Policy:
    """``policy(obs) -> action``: raw env observations in, env-unit actions out.

    Applies the saved observation normaliser and action rescaling; deterministic (tanh of the
    mean) unless called with ``deterministic=False``. A stochastic call with a ``key`` samples
    with that key (reproducible); without one it draws a fresh key from the policy's own stream
    (``seed``), so successive calls sample different actions and a policy loaded with the same
    ``seed`` repeats the same sequence.
    """

    def __init__(self, meta: dict[str, Any], params: Any, seed: int = 0) -> None:
        self.meta = meta
        self.env_id: str = meta["env_id"]
        self.env_kwargs: dict[str, Any] = meta.get("env_kwargs", {})
        self.obs_dim, self.act_dim = int(meta["obs_dim"]), int(meta["act_dim"])
        self._mean = np.asarray(meta["obs_mean"], np.float32)
        self._std = np.asarray(meta["obs_std"], np.float32)
        self._low = np.asarray(meta["action_low"], np.float32)
        self._high = np.asarray(meta["action_high"], np.float32)
        actor = TanhGaussianActor(tuple(meta["hidden_dims"]), self.act_dim)
        self.params = params
        self._key = jax.random.PRNGKey(seed)

        @jax.jit
        def _act(params: Any, obs: jax.Array, key: jax.Array, stochastic: bool) -> jax.Array:
            mean, log_std = actor.apply(params, obs)  # type: ignore[misc]
            noise = jax.random.normal(key, mean.shape) * jnp.exp(log_std)  # type: ignore[arg-type]
            return jnp.tanh(mean + jnp.where(stochastic, noise, 0.0))

        self._act = _act

    def __call__(
        self, obs: np.ndarray, deterministic: bool = True, key: jax.Array | None = None
    ) -> np.ndarray:
        a = self.unit_action(obs, deterministic, key)
        return self._low + (a + 1.0) * 0.5 * (self._high - self._low)

    def unit_action(
        self, obs: np.ndarray, deterministic: bool = True, key: jax.Array | None = None
    ) -> np.ndarray:
        """The action in [-1, 1]^act_dim, before rescaling to the env's box."""
        obs = np.asarray(obs, np.float32)
        single = obs.ndim == 1
        if obs.shape[-1] != self.obs_dim:
            raise ValueError(
                f"policy expects observations of size {self.obs_dim}, got shape {obs.shape}"
            )
        x = ((obs[None] if single else obs) - self._mean) / self._std
        if key is not None:
            k = key
        elif deterministic:
            k = self._key  # not used by a deterministic call: the stream is not advanced
        else:
            self._key, k = jax.random.split(self._key)
        a = np.asarray(self._act(self.params, jnp.asarray(x), k, not deterministic))
        return a[0] if single else a


def load_policy(run_dir: str | Path, seed: int | None = None, sample_seed: int = 0) -> Policy:
    """The final policy of a run (of ``seed``, default the run's first seed); ``sample_seed``
    starts the key stream of stochastic calls made without a key."""
    d = Path(run_dir) / "policy"
    meta_path = d / "policy.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{run_dir} has no final policy (policy/policy.json); has the run finished?"
        )
    meta = json.loads(meta_path.read_text())
    seed = meta["seeds"][0] if seed is None else seed
    if seed not in meta["seeds"]:
        raise ValueError(f"seed {seed} not in this run's seeds {meta['seeds']}")
    actor = TanhGaussianActor(tuple(meta["hidden_dims"]), int(meta["act_dim"]))
    template = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, int(meta["obs_dim"]))))
    params = serialization.from_bytes(template, (d / f"seed_{seed}.msgpack").read_bytes())
    return Policy(meta, params, sample_seed)


def export_mlp_npz(run_dir: str | Path, path: str | Path, seed: int | None = None) -> Path:
    """Write a run's final policy as a plain-MLP policy file (the behaviour-policy format of
    :mod:`coopo.data.policies`): the deterministic policy tanh(mean(s)) with the observation
    normaliser folded into the first layer, so the file takes raw env observations."""
    policy = load_policy(run_dir, seed)
    layers = policy.params["params"]["MLP_0"]
    names = sorted(layers, key=lambda k: int(k.split("_")[1]))
    arrays: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        kernel = np.asarray(layers[name]["kernel"], np.float32)
        bias = np.asarray(layers[name]["bias"], np.float32)
        if i == 0:  # (x - m) / s @ W + b  ==  x @ (W / s) + (b - (m / s) @ W)
            bias = (bias - (policy._mean / policy._std) @ kernel).astype(np.float32)
            kernel = (kernel / policy._std[:, None]).astype(np.float32)
        if i == len(names) - 1:  # keep the mean head, drop the log-std head
            kernel, bias = kernel[:, : policy.act_dim], bias[: policy.act_dim]
        arrays[f"layer{i}/kernel"], arrays[f"layer{i}/bias"] = kernel, bias
    meta = {
        "env_id": policy.env_id,
        "env_kwargs": policy.env_kwargs,
        "obs_dim": policy.obs_dim,
        "act_dim": policy.act_dim,
        "hidden_activation": "relu",
        "output": "tanh",
        "source": f"coopo run {Path(run_dir).resolve()} (seed {seed if seed is not None else policy.meta['seeds'][0]})",
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, meta=np.asarray(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    return out
