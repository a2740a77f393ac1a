"""The offline phase: M updates of the offline algorithm on the dataset (or dataset ∪ replay),
``scan_length`` updates per jitted call, with optional evaluations every
``eval_interval`` updates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coopo.phases import PhaseHooks, PhaseOutcome, RunState
from coopo.schedule import Clock
from coopo.types import Transition


@dataclass(frozen=True)
class OfflinePhase:
    chunk: Callable[..., Any]
    """jit(vmap(K updates)) of the offline algorithm (:func:`coopo.phases.make_update_chunk`)."""
    dataset: Transition
    scan_length: int
    eval_interval: int = 0
    """Evaluate every this many updates (0: at the phase's end only, by the runner)."""

    def run(
        self, state: RunState, steps: int, clock: Clock, hooks: PhaseHooks, start: int = 0
    ) -> PhaseOutcome:
        """``steps`` updates; ``start`` of them were done before an in-phase checkpoint."""
        done = start
        while done < steps:
            k = min(self.scan_length, steps - done)
            if self.eval_interval:  # a chunk never crosses an evaluation
                k = min(k, self.eval_interval - done % self.eval_interval)
            offline, key, metrics = self.chunk(
                state.offline, state.buffer, self.dataset, state.key, num_updates=k
            )
            state = state.replace(offline=offline, key=key)
            done += k
            clock = clock.advanced(grad=k, progress=k)
            hooks.log("offline", metrics, clock)
            if self.eval_interval and done % self.eval_interval == 0 and done < steps:
                hooks.evaluate(state, clock)
            hooks.progress(clock)
            if done < steps:  # nothing on the host: the state and the clock are everything
                hooks.checkpoint(state, clock, done - k, done, dict)
        return PhaseOutcome(state, clock, done)
