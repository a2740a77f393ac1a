"""Behaviour policies trained by coopo itself, D4RL-style: SAC from scratch, stopped early.

:func:`train_behaviour` runs coopo's SAC online (no dataset), evaluates every ``eval_every``
env steps, and stops at the first evaluation whose mean return reaches ``target_return``
(D4RL's "medium": SAC early-stopped at roughly a third of expert). Returns can jump past the
target between two evaluations, so evaluations are frequent (every 2,000 steps by default).
It returns that policy as a
plain-MLP policy file (what the dataset builder rolls out), every transition its replay buffer
collected up to that point (D4RL's "medium-replay"), and a record of how it was trained.
Everything is seeded, so the same arguments reproduce the same policy and replay data on the
same machine and library versions.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from coopo import provenance
from coopo.data.dataset import Dataset, DatasetMetadata, make_dataset
from coopo.progress import make_progress
from coopo.version import __version__


def train_behaviour(
    env_id: str,
    target_return: float,
    out_dir: str | Path,
    env_kwargs: dict[str, Any] | None = None,
    max_steps: int = 500_000,
    eval_every: int = 2_000,
    eval_episodes: int = 5,
    seed: int = 0,
) -> tuple[Path, Dataset, dict[str, Any]]:
    """Train SAC until its evaluation return reaches ``target_return`` (or ``max_steps``).

    Writes ``<out_dir>/run`` (a coopo run directory), ``<out_dir>/policy.npz`` and
    ``<out_dir>/record.json``; returns (policy file, replay dataset, record).
    """
    # Just over 60 lines: a third of it is the record of how the policy was trained.
    from coopo.policy import export_mlp_npz
    from coopo.run_dir import write_results
    from coopo.runner import Trainer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _sac_config(env_id, env_kwargs or {}, max_steps, eval_episodes, seed, out / "run")
    trainer = Trainer(cfg, out / "run")
    (out / "run").mkdir(exist_ok=True)
    try:
        state, curve, snapshots, last = _train_until(trainer, target_return, max_steps, eval_every)
        # D4RL's early stopping: the policy of the first evaluation that reaches the target.
        # (Choosing the snapshot closest to the target instead picked hopper policies that
        # stand still for 1000 steps and collect the alive bonus.) The replay data is what
        # was collected until then.
        best = len(curve) - 1
        actor, n = snapshots[best]
        state = state.replace(
            online=state.online.replace(actor=state.online.actor.replace(params=actor))
        )
        trainer.export_policy(state)
        # results.json: the chosen policy's return (the scores are the last evaluation's)
        chosen = dataclasses.replace(last, returns=np.array([curve[best][1]]))
        write_results(out / "run", [seed], chosen, trainer.counters)
        source = f"replay buffer of {out / 'run'}"
        replay = _replay_dataset(
            state.buffer.data, n, trainer.setup.scaler, env_id, env_kwargs or {}, source, seed
        )
    finally:
        trainer.close()
    policy_file = export_mlp_npz(out / "run", out / "policy.npz")
    record = {
        "env_id": env_id,
        "env_kwargs": env_kwargs or {},
        "algorithm": "coopo SAC (256-256, UTD 1, 5k random steps, init temperature 1.0)",
        "target_return": target_return,
        "seed": seed,
        "eval_every": eval_every,
        "eval_episodes": eval_episodes,
        "max_steps": max_steps,
        "env_steps": curve[best][0],
        "final_eval_return": curve[best][1],
        "stopped_at_env_steps": curve[-1][0],
        "reached_target": bool(curve[-1][1] >= target_return),
        "curve": curve,
        "coopo_version": __version__,
        "config": dataclasses.asdict(cfg),
    }
    (out / "record.json").write_text(json.dumps(record, indent=1))
    return policy_file, replay, record


def _sac_config(
    env_id: str,
    env_kwargs: dict[str, Any],
    max_steps: int,
    eval_episodes: int,
    seed: int,
    run_dir: Path,
) -> Any:
    """SAC from scratch, no dataset, one seed: the behaviour-policy run."""
    from coopo.algos import sac
    from coopo.config import TrainConfig

    return TrainConfig(
        env_id=env_id,
        env_kwargs={k: json.dumps(v) for k, v in env_kwargs.items()},
        dataset="none",
        method="online",
        online="sac",
        cycles=1,
        online_steps=max_steps,
        random_steps=5_000,
        eval_episodes=eval_episodes,
        eval_interval=0,
        seeds=(seed,),
        progress=False,
        replay_capacity=max_steps,
        sac=sac.Config(init_temperature=1.0),
        run_dir=str(run_dir),
    )


def _train_until(
    trainer: Any, target_return: float, max_steps: int, eval_every: int
) -> tuple[Any, list[tuple[int, float]], list[tuple[Any, int]], Any]:
    """Online phases of ``eval_every`` steps, each followed by an evaluation, until one reaches
    the target: (state, curve of (env steps, return), (actor params, replay rows) at
    each evaluation, the last evaluation)."""
    from coopo.schedule import Phase

    env_id = trainer.cfg.env_id
    curve: list[tuple[int, float]] = []
    snapshots: list[tuple[Any, int]] = []
    state = trainer.init_state()
    index = 0
    with make_progress() as bar:  # on a terminal only
        task = bar.add_task(f"training {env_id} behaviour policy (SAC)", total=max_steps)
        while trainer.counters.env_steps < max_steps:
            steps = min(eval_every, max_steps - trainer.counters.env_steps)
            phase = Phase("online", steps, 0)
            state = trainer.online_phase(state, phase, index)
            last = trainer.evaluate(state, phase, boundary=False)
            curve.append((trainer.counters.env_steps, float(last.returns[0])))
            snapshots.append((state.online.actor.params, int(state.buffer.size[0])))
            bar.update(
                task,
                completed=trainer.counters.env_steps,
                description=f"training {env_id} behaviour policy (SAC): return "
                f"{curve[-1][1]:.0f} / target {target_return:.0f}",
            )
            trainer.console.print(
                f"{env_id}: env steps {trainer.counters.env_steps:>7d}  return {curve[-1][1]:8.1f}"
            )
            index += 1
            if curve[-1][1] >= target_return:
                break
    return state, curve, snapshots, last


def _replay_dataset(
    data: Any,
    n: int,
    scaler: Any,
    env_id: str,
    env_kwargs: dict[str, Any],
    source: str,
    seed: int,
) -> Dataset:
    """The first ``n`` replay rows as a medium-replay dataset (rows are in collection order:
    the buffer never wrapped)."""

    def take(x: Any) -> np.ndarray:
        return np.asarray(x[0, :n])

    meta = DatasetMetadata(
        env_id=env_id,
        env_kwargs=dict(env_kwargs),
        source=source,
        action_low=tuple(map(float, scaler.low)),
        action_high=tuple(map(float, scaler.high)),
        extra={
            "recipe": "medium-replay",
            "seed": seed,
            "coopo_version": __version__,
            "provenance": provenance.collect(),
        },
    )
    return make_dataset(
        meta.source,
        meta,
        observations=take(data.observations),
        actions=scaler.to_env(take(data.actions)),
        rewards=take(data.rewards),
        next_observations=take(data.next_observations),
        terminated=take(data.terminated) > 0.5,
        truncated=take(data.truncated) > 0.5,
    )
