"""The offline phase: M updates of the offline algorithm on the dataset (or dataset ∪ replay),
``scan_length`` updates per jitted call, with optional evaluations every
``eval_interval`` updates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coopo.checkpoint import Counters
from coopo.phases import PhaseHooks, RunState
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
        self, state: RunState, steps: int, counters: Counters, hooks: PhaseHooks, start: int = 0
    ) -> RunState:
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
            counters.grad_steps += k
            counters.progress_steps += k
            hooks.log("offline", metrics, counters)
            if self.eval_interval and done % self.eval_interval == 0 and done < steps:
                counters.holder = "offline"
                hooks.evaluate(state, counters)
            hooks.progress(counters)
            if done < steps:  # nothing on the host: the state and counters are everything
                hooks.checkpoint(state, counters, done - k, done, dict)
        return state
