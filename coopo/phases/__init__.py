"""The two phases of a cycle and their jitted pieces.

- :mod:`coopo.phases.offline`: M updates of the offline algorithm, K per jitted call;
- :mod:`coopo.phases.online`: env collection and episode bookkeeping, with the optimizer's
  updates as one of two strategies (off-policy replay updates, on-policy rollout updates);
- :mod:`coopo.phases.jit`: jit(vmap over seeds(lax.scan over K updates)), act, handoff.

A phase receives the run's state (:class:`RunState`) and returns a new one; what it reports
goes through :class:`PhaseHooks`, which the runner provides (logging, mid-phase evaluation,
progress display).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
from flax import struct

from coopo.buffers import ReplayBuffer
from coopo.checkpoint import Counters
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


class RunState(struct.PyTreeNode):
    """Everything that changes during a run, stacked over seeds (leading axis S)."""

    offline: Any
    online: Any
    buffer: ReplayBuffer
    key: jax.Array


@dataclass(frozen=True)
class PhaseHooks:
    """What a phase reports to the runner, bound to the phase being run."""

    log: Callable[[str, dict[str, Any], Counters], None]
    """Training metrics (S,) per name, under a prefix ('offline', 'online')."""
    evaluate: Callable[[RunState, Counters], object]
    """A mid-phase evaluation of the policy the phase holds."""
    progress: Callable[[Counters], None]
    """Counters moved on (progress display)."""
    checkpoint: Callable[[RunState, Counters, int, int, Callable[[], dict[str, Any]]], None] = (
        lambda *a: None
    )
    """Between two jitted calls, (state, counters, steps done before the call, after it, the
    phase's host state as JSON on demand): the runner checkpoints when one is due."""
    stop: Callable[[Counters], bool] = lambda c: False
    """After a mid-phase evaluation of an online phase: True ends the phase there (the
    runner's drift switch, :class:`coopo.schedule.DriftSwitch`)."""


def no_hooks() -> PhaseHooks:
    """Hooks that do nothing: a phase driven on its own (benchmarks, tests)."""
    return PhaseHooks(lambda *a: None, lambda *a: None, lambda *a: None)


__all__ = [
    "PhaseHooks",
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
