"""Checkpoints inside a phase: when to take them, and the host-side state that lets an online
phase continue mid-episode exactly.

A phase is checkpointed between two jitted calls (K offline updates, or one collection of
``update_every`` env steps and its updates): the device state (parameters, optimizer states,
replay buffers, RNG keys) is all in the run state; what lives on the host is saved with the
counters as JSON:

- offline: nothing but the number of updates done in the phase;
- online: per seed the episode count, running return and length, the episodes finished since
  the last metrics record, and the actions taken so far in the current episode; the metrics
  accumulated since the last record; the state of the random-action generator.

The environments themselves are not pickled. A resumed phase resets each env with the seed of
its current episode (resets are seeded from (seed, phase, episode)) and replays that
episode's actions (:func:`replay_episodes`, all envs in lockstep): MuJoCo is deterministic, so this rebuilds the simulator bit for bit (the
replayed return is checked against the saved one) without depending on what a wrapper or
MuJoCo's warm-start buffers keep internally, at the cost of at most one episode of env steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coopo.envs import reset_where

TIME_DEFAULT_MINUTES = 10.0


@dataclass
class CheckpointClock:
    """When to checkpoint inside a phase: every ``every`` steps, or (``every == 0``) at the first
    chunk boundary after ``minutes`` of wall time since the last checkpoint."""

    every: int = 0
    minutes: float = TIME_DEFAULT_MINUTES
    last: float = field(default_factory=lambda: time.monotonic())

    def due(self, before: int, after: int) -> bool:
        """Whether a checkpoint falls in (before, after] (steps done in the phase)."""
        if self.every:
            return after // self.every > before // self.every
        return self.minutes > 0 and time.monotonic() - self.last >= 60.0 * self.minutes

    def reset(self) -> None:
        self.last = time.monotonic()


def pack(a: Any) -> dict[str, Any]:
    """An array as strict JSON, exactly (float32 and float64 values round-trip through repr;
    NaN and infinities, which JSON has no numbers for, are written as the strings "nan",
    "inf" and "-inf", which numpy reads back)."""
    a = np.asarray(a)
    values = a.reshape(-1).tolist()
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        values = [v if math.isfinite(v) else repr(v) for v in values]
    return {"dtype": a.dtype.name, "shape": list(a.shape), "values": values}


def unpack(d: dict[str, Any]) -> np.ndarray:
    return np.asarray(d["values"], dtype=d["dtype"]).reshape(d["shape"])


def rng_state(g: np.random.Generator) -> dict[str, Any]:
    return dict(g.bit_generator.state)


def rng_from(state: dict[str, Any]) -> np.random.Generator:
    bit_generator = getattr(np.random, state["bit_generator"])()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


class ReplayMismatch(RuntimeError):
    """Replaying an episode's actions did not reproduce it: the env is not deterministic."""


def replay_episodes(
    venv: Any,
    reset_seeds: list[int],
    actions: list[list[np.ndarray]],
    to_env: Any,
    expected_returns: list[float],
) -> np.ndarray:
    """Rebuild every sub-env of ``venv`` (a vector env, autoreset disabled) at its place in its
    current episode: sub-env i is reset with ``reset_seeds[i]`` and takes ``actions[i]``
    (policy space; ``to_env`` maps them to the env's units, as when they were first taken).
    Returns the current observations (float32).

    The envs step in lockstep, so the replays are aligned to end together: sub-env i is reset
    with its seed, held still (:class:`coopo.envs.SubEnv`'s pause) and joins at step
    ``L - len(actions[i])``, L the longest replay."""
    n = len(reset_seeds)
    longest = max((len(a) for a in actions), default=0)
    start = np.array([longest - len(a) for a in actions])
    obs = reset_where(venv, np.ones(n, bool), reset_seeds)
    rets = [0.0] * n
    idle = to_env(np.zeros((1, venv.single_action_space.shape[0]), np.float32))[0]
    for t in range(longest):
        if t == 0 or (start == t).any():
            venv.set_attr("paused", (start > t).tolist())
        step = np.stack(
            [to_env(actions[i][t - start[i]][None])[0] if t >= start[i] else idle for i in range(n)]
        )
        obs, reward, term, trunc, _ = venv.step(step)
        for j in np.flatnonzero(start <= t):
            rets[j] += float(reward[j])
            if term[j] or trunc[j]:
                raise ReplayMismatch(f"the replayed episode of env {j} ended early")
    venv.set_attr("paused", [False] * n)
    for i in range(n):
        if rets[i] != expected_returns[i]:
            raise ReplayMismatch(
                f"env {i}: replayed return {rets[i]!r} != recorded {expected_returns[i]!r}"
            )
    return np.array(obs, np.float32)
