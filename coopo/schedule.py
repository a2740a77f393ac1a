"""Methods as schedules: a run is a list of phases, and the baselines are just other lists.

All four methods share the runner and the budgets, so comparisons are fair:

    coopo   : [offline(M), online(N)] x K
    o2o     : [offline(K*M), online(K*N)]      (classic offline-to-online fine-tuning)
    offline : [offline(K*M)]
    online  : [online(K*N)]                    (from scratch, optionally with the dataset mixed in)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PhaseKind = Literal["offline", "online"]


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    steps: int  # gradient steps (offline) or env steps per seed (online)
    cycle: int


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
