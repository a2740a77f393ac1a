"""The two phases of a cycle and their jitted pieces.

- :mod:`coopo.phases.offline`: M updates of the offline algorithm, K per jitted call;
- :mod:`coopo.phases.online`: env collection and episode bookkeeping, with the optimizer's
  updates as one of two strategies (off-policy replay updates, on-policy rollout updates);
- :mod:`coopo.phases.jit`: jit(vmap over seeds(lax.scan over K updates)), act, handoff.

A phase receives the run's state (:class:`RunState`) and where the run stands
(:class:`~coopo.schedule.Clock`), and returns what it did (:class:`PhaseOutcome`: the new
state and clock, and the steps it took); nothing it was given is changed. What it reports on
the way goes through :class:`PhaseHooks`, which the runner provides (logging, mid-phase
evaluation, progress display, in-phase checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
from flax import struct

from coopo.buffers import ReplayBuffer
from coopo.phases.jit import (
    Sampler,
    add_chunk,
    make_act,
    make_handoff,
    make_q_probe,
    make_rollout_update,
    make_update_chunk,
    offline_sampler,
    online_sampler,
    run_updates,
    to_device,
)
from coopo.schedule import Clock


class RunState(struct.PyTreeNode):
    """Everything that changes during a run, stacked over seeds (leading axis S)."""

    offline: Any
    online: Any
    buffer: ReplayBuffer
    key: jax.Array


class PhaseOutcome(struct.PyTreeNode):
    """What a phase did: the run's new state and clock, and the steps it took (updates of an
    offline phase, env steps per seed of an online one: fewer than asked only when the
    runner's ``stop`` hook ended it early)."""

    state: RunState
    clock: Clock = struct.field(pytree_node=False)
    done: int = struct.field(pytree_node=False)


@dataclass(frozen=True)
class PhaseHooks:
    """What a phase reports to the runner, bound to the phase being run."""

    log: Callable[[str, dict[str, Any], Clock], None]
    """Training metrics (S,) per name, under a prefix ('offline', 'online')."""
    evaluate: Callable[[RunState, Clock], object]
    """A mid-phase evaluation of the policy the phase holds."""
    progress: Callable[[Clock], None]
    """The clock moved on (progress display)."""
    checkpoint: Callable[[RunState, Clock, int, int, Callable[[], dict[str, Any]]], None] = (
        lambda *a: None
    )
    """Between two jitted calls, (state, clock, steps done before the call, after it, the
    phase's host state as JSON on demand): the runner checkpoints when one is due."""
    stop: Callable[[Clock], bool] = lambda c: False
    """After a mid-phase evaluation of an online phase: True ends the phase there (the
    runner's drift switch, :class:`coopo.schedule.DriftSwitch`)."""


def no_hooks() -> PhaseHooks:
    """Hooks that do nothing: a phase driven on its own (benchmarks, tests)."""
    return PhaseHooks(lambda *a: None, lambda *a: None, lambda *a: None)


__all__ = [
    "PhaseHooks",
    "PhaseOutcome",
    "RunState",
    "Sampler",
    "add_chunk",
    "make_act",
    "make_handoff",
    "make_q_probe",
    "make_rollout_update",
    "make_update_chunk",
    "no_hooks",
    "offline_sampler",
    "online_sampler",
    "run_updates",
    "to_device",
]
