"""Methods as schedules: a run is a list of phases, and the baselines are just other lists.

All four methods share the runner and the budgets, so comparisons are fair:

    coopo   : [offline(M), online(N)] x K
    o2o     : [offline(K*M), online(K*N)]      (classic offline-to-online fine-tuning)
    offline : [offline(K*M)]
    online  : [online(K*N)]                    (from scratch, optionally with the dataset mixed in)

With a :class:`DriftSwitch`, a ``coopo`` online phase may end before its N steps, when a
mid-phase evaluation shows drift; the runner then gives its unused steps to the next online
phase, so the totals, and the comparison with the other methods, are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

PhaseKind = Literal["offline", "online"]


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    steps: int  # gradient steps (offline) or env steps per seed (online)
    cycle: int


def num_cycles(method: str, cycles: int) -> int:
    """Cycles a run of ``method`` goes through: the baselines (o2o, offline, online) spend the
    ``cycles`` cycles' budgets in one."""
    return cycles if method == "coopo" else 1


def schedule(method: str, cycles: int, offline_steps: int, online_steps: int) -> list[Phase]:
    K, M, N = cycles, offline_steps, online_steps
    if method == "coopo":
        return [p for c in range(K) for p in (Phase("offline", M, c), Phase("online", N, c))]
    if method == "o2o":
        return [Phase("offline", K * M, 0), Phase("online", K * N, 0)]
    if method == "offline":
        return [Phase("offline", K * M, 0)]
    if method == "online":
        return [Phase("online", K * N, 0)]
    raise ValueError(f"unknown method {method!r} (coopo, o2o, offline, online)")


@dataclass(frozen=True)
class Budget:
    """What a run of a method spends in all, from its schedule: the one place budget figures
    come from (the runner's progress total, the bench's cost estimates, the report's
    interaction axes)."""

    offline_updates: int
    """Offline gradient steps over all offline phases."""
    online_env_steps: int
    """Online env steps per seed over all online phases."""
    phases: int
    online_phases: int
    online_phase_steps: int | None
    """Env steps per seed of one online phase (None: the method has none)."""

    @property
    def progress_steps(self) -> int:
        """Offline updates plus online env steps: the length of a run's progress bar."""
        return self.offline_updates + self.online_env_steps

    @classmethod
    def of(cls, method: str, cycles: int, offline_steps: int, online_steps: int) -> Budget:
        plan = schedule(method, cycles, offline_steps, online_steps)
        online = [p.steps for p in plan if p.kind == "online"]
        return cls(
            offline_updates=sum(p.steps for p in plan if p.kind == "offline"),
            online_env_steps=sum(online),
            phases=len(plan),
            online_phases=len(online),
            online_phase_steps=online[0] if online else None,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Budget:
        """The budget of a run config as a mapping (a ``config.json`` or a suite's run; the
        method defaults to coopo's, as in :class:`~coopo.config.TrainConfig`)."""
        steps = (config["cycles"], config["offline_steps"], config["online_steps"])
        return cls.of(config.get("method", "coopo"), *steps)


@dataclass(frozen=True)
class Clock:
    """Where a run stands; a phase returns a new one, never changes the one it was given."""

    env_steps: int = 0
    """Online env steps per seed so far."""
    grad_steps: int = 0
    """Gradient updates so far (offline and online)."""
    progress_steps: int = 0
    """Offline updates plus online env steps so far (:attr:`Budget.progress_steps`)."""

    def advanced(self, env: int = 0, grad: int = 0, progress: int = 0) -> Clock:
        return replace(
            self,
            env_steps=self.env_steps + env,
            grad_steps=self.grad_steps + grad,
            progress_steps=self.progress_steps + progress,
        )


@dataclass(frozen=True)
class DriftSwitch:
    """When a ``coopo`` online phase hands back to anchoring before its step count (0 turns a
    rule off; ``--drift-switch-mse``, ``--drift-switch-drop``).

    Checked at every mid-phase evaluation of an online phase but the last, over the mean of
    the seeds (they train together, so they switch together):

    - ``mse``: the policy's mean squared distance from the data's actions on the probe states
      (``eval/data_action_mse``) is above ``mse``: the actor has left the data;
    - ``drop``: the mean normalised score is more than ``drop`` points below the score at
      the end of the preceding offline phase: the online phase is losing what anchoring
      reached.
    """

    mse: float = 0.0
    drop: float = 0.0

    @property
    def on(self) -> bool:
        return self.mse > 0 or self.drop > 0

    def why(
        self, action_mse: float | None, score: float | None, anchored: float | None
    ) -> str | None:
        """Why the phase should end at this evaluation, or None to go on. ``action_mse`` and
        ``score`` are the evaluation's means over seeds, ``anchored`` the mean score at the end
        of the preceding offline phase; a rule without its value does not fire."""
        if self.mse > 0 and action_mse is not None and action_mse > self.mse:
            return f"data_action_mse {action_mse:.3g} > {self.mse:g}"
        if self.drop > 0 and score is not None and anchored is not None:
            if anchored - score > self.drop:
                return (
                    f"score {score:.1f}, {anchored - score:.1f} below the end of anchoring "
                    f"({anchored:.1f}) > {self.drop:g}"
                )
        return None
