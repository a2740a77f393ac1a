"""d3rlpy's side of ``benchmarks/throughput.py``: the same architecture and batch, timed in
d3rlpy. Imports no coopo: d3rlpy pins gymnasium 1.0 and coopo needs >= 1.1, so it runs in its
own environment (``benchmarks/requirements-d3rlpy.txt``) and prints one JSON line.

    .venv-bench/bin/python benchmarks/d3rlpy_rows.py UPDATES ONLINE_STEPS
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

BATCH = 256
CALQL_SAMPLES = 2
"""Sampled actions per source in CalQL's conservative term: coopo's default online optimizer
uses 2 (benchmarks/throughput.py, DEFAULT_CALQL_SAMPLES; the reference and d3rlpy's default
use 10)."""


def timed_fit(algo: Any, ds: Any, updates: int, warm: int = 200) -> float:
    """d3rlpy updates/s of ``algo.fit`` on ``ds`` (after ``warm`` untimed updates)."""
    import d3rlpy

    def fit(n: int) -> None:
        algo.fit(
            ds,
            n_steps=n,
            n_steps_per_epoch=n,
            show_progress=False,
            save_interval=10**9,
            logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
        )

    fit(warm)
    t = time.perf_counter()
    fit(updates)
    return updates / (time.perf_counter() - t)


def d3rlpy_rows(updates: int, online_steps: int) -> dict[str, float]:
    try:
        import d3rlpy
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(0)
    n = 100_000
    ds = d3rlpy.dataset.MDPDataset(
        observations=rng.normal(size=(n, 11)).astype(np.float32),
        actions=rng.uniform(-1, 1, (n, 3)).astype(np.float32),
        rewards=rng.normal(size=n).astype(np.float32),
        terminals=(rng.random(n) < 0.01).astype(np.float32),
    )
    enc = d3rlpy.models.VectorEncoderFactory(hidden_units=[256, 256])
    out: dict[str, float] = {}
    awac = d3rlpy.algos.AWACConfig(
        batch_size=BATCH,
        actor_encoder_factory=enc,
        critic_encoder_factory=enc,
        n_critics=2,
        actor_learning_rate=3e-4,
        critic_learning_rate=3e-4,
        lam=1.0,
    ).create(device="cpu")
    awac.build_with_dataset(ds)
    out["offline_awac"] = timed_fit(awac, ds, updates)
    iql = d3rlpy.algos.IQLConfig(
        batch_size=BATCH,
        actor_encoder_factory=enc,
        critic_encoder_factory=enc,
        value_encoder_factory=enc,
        n_critics=2,
        actor_learning_rate=3e-4,
        critic_learning_rate=3e-4,
        expectile=0.7,
        weight_temp=3.0,
    ).create(device="cpu")
    iql.build_with_dataset(ds)
    out["offline_iql"] = timed_fit(iql, ds, updates)
    import gymnasium as gym

    sac = d3rlpy.algos.SACConfig(
        batch_size=BATCH,
        actor_encoder_factory=enc,
        critic_encoder_factory=enc,
        n_critics=2,
        actor_learning_rate=3e-4,
        critic_learning_rate=3e-4,
        temp_learning_rate=3e-4,
    ).create(device="cpu")
    out["online_sac"] = timed_fit_online(sac, gym.make("Hopper-v5"), online_steps)
    # Cal-QL run online as coopo's default online optimizer is (its conservative term kept
    # online, CALQL_SAMPLES sampled actions per source, a fixed weight 5: d3rlpy scales the
    # term by conservative_weight times a Lagrange alpha, held at 1 by a learning rate of 0).
    calql = d3rlpy.algos.CalQLConfig(
        batch_size=BATCH,
        actor_encoder_factory=enc,
        critic_encoder_factory=enc,
        n_critics=2,
        actor_learning_rate=1e-4,
        critic_learning_rate=3e-4,
        temp_learning_rate=1e-4,
        conservative_weight=5.0,
        initial_alpha=1.0,
        alpha_learning_rate=0.0,
        n_action_samples=CALQL_SAMPLES,
    ).create(device="cpu")
    out["online_calql"] = timed_fit_online(calql, gym.make("Hopper-v5"), online_steps)
    return out


def timed_fit_online(algo: Any, env: Any, online_steps: int) -> float:
    """d3rlpy env steps/s of ``algo.fit_online`` at UTD 1 (updates from the batch size on)."""
    import d3rlpy

    buffer = d3rlpy.dataset.create_fifo_replay_buffer(limit=100_000, env=env)
    t = time.perf_counter()
    algo.fit_online(
        env,
        buffer,
        n_steps=online_steps,
        n_steps_per_epoch=online_steps,
        update_interval=1,
        update_start_step=BATCH,
        show_progress=False,
        save_interval=10**9,
        logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
    )
    return online_steps / (time.perf_counter() - t)


def main() -> None:
    updates, online_steps = int(sys.argv[1]), int(sys.argv[2])
    import d3rlpy
    import gymnasium
    import torch

    out: dict[str, Any] = d3rlpy_rows(updates, online_steps)
    out["versions"] = {
        "d3rlpy": d3rlpy.__version__,
        "torch": torch.__version__,
        "gymnasium": gymnasium.__version__,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
