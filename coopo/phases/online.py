"""The online phase: N env steps per seed on the host, the optimizer's updates in between.

Collection and episode bookkeeping are the same for every optimizer; how it learns from what
was collected is one of two strategies:

- :class:`OffPolicyUpdates`: collect ``update_every`` steps into the replay buffer, then
  ``utd_ratio`` updates per step on a mix of dataset and replay data (SAC, TD3, RLPD, any
  offline algorithm run online);
- :class:`OnPolicyUpdates`: collect one rollout of ``rollout_steps(config)`` steps, then one
  ``update_rollout`` on it (a :class:`~coopo.algos.base.RolloutLearner`, e.g. PPO).

Env resets are seeded from (seed, phase index, episode), so a resumed run collects exactly
what an unbroken one would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import jax.numpy as jnp
import numpy as np

from coopo.algos.base import Learner, RolloutLearner
from coopo.buffers import mark_last_truncated
from coopo.envs import ActionScaler, Vector, reset_where
from coopo.normalization import Normalizer
from coopo.phases import PhaseHooks, PhaseOutcome, RunState
from coopo.phases.jit import (
    Sampler,
    add_chunk,
    make_act,
    make_rollout_update,
    make_update_chunk,
    to_device,
)
from coopo.resume_point import pack, replay_episodes, rng_from, rng_state, unpack
from coopo.schedule import Clock
from coopo.types import Metrics, Transition

LOG_INTERVAL = 1_000  # online env steps between training-metric records

__all__ = ["OffPolicyUpdates", "OnPolicyUpdates", "OnlinePhase", "RolloutLearner", "Updates"]


class Updates(Protocol):
    """How the online optimizer learns from the rows just collected."""

    steps_per_update: int
    """Env steps per seed collected between two ``update`` calls."""
    random_until: int
    """Uniform random actions, and no updates, for the first env steps of the run."""

    def update(
        self, state: RunState, rows: Transition, env_steps: int
    ) -> tuple[RunState, Metrics | None, int]:
        """(state, metrics or None when no update ran, gradient steps made)."""
        ...


class OffPolicyUpdates:
    """``utd_ratio`` updates per collected step, on batches mixed from dataset and replay."""

    def __init__(
        self,
        algo: Learner,
        sample: Sampler,
        dataset: Transition,
        update_every: int,
        utd_ratio: int,
        random_until: int,
    ) -> None:
        self.chunk = make_update_chunk(algo, sample)
        self.dataset, self.utd_ratio = dataset, utd_ratio
        self.steps_per_update, self.random_until = update_every, random_until

    def update(
        self, state: RunState, rows: Transition, env_steps: int
    ) -> tuple[RunState, Metrics | None, int]:
        if env_steps < self.random_until:
            return state, None, 0
        k = rows.rewards.shape[1] * self.utd_ratio
        online, key, metrics = self.chunk(
            state.online, state.buffer, self.dataset, state.key, num_updates=k
        )
        return state.replace(online=online, key=key), metrics, k


class OnPolicyUpdates:
    """One ``update_rollout`` per rollout of fresh on-policy steps (no random warm-up)."""

    random_until = 0

    def __init__(self, algo: RolloutLearner, config: Any) -> None:
        self.rollout_update = make_rollout_update(algo)
        self.steps_per_update = algo.rollout_steps(config)
        self.grad_steps = algo.updates_per_rollout(config)

    def update(
        self, state: RunState, rows: Transition, env_steps: int
    ) -> tuple[RunState, Metrics | None, int]:
        online, key, metrics = self.rollout_update(state.online, rows, state.key)
        return state.replace(online=online, key=key), metrics, self.grad_steps


def host_state(
    episodes: Episodes, random_rng: np.random.Generator, sums: dict[str, Any], calls: int
) -> dict[str, Any]:
    """What an online phase keeps on the host between two jitted calls, as JSON."""
    return {
        "episodes": episodes.snapshot(),
        "random_rng": rng_state(random_rng),
        "sums": {k: pack(v) for k, v in sums.items()},
        "calls": calls,
    }


class Episodes:
    """Per-seed episode bookkeeping: reset seeds, running returns, finished episodes."""

    def __init__(self, seeds: list[int], phase_index: int) -> None:
        self.seeds, self.phase_index = seeds, phase_index
        S = len(seeds)
        self.count = np.zeros(S, int)
        self.ret, self.length = np.zeros(S), np.zeros(S, int)
        self.finished: list[list[tuple[float, int]]] = [[] for _ in range(S)]
        # The current episode's actions (policy space): what a resume replays to rebuild the
        # envs' state (coopo.resume_point).
        self.actions: list[list[np.ndarray]] = [[] for _ in range(S)]

    def reset_seed(self, i: int) -> int:
        entropy = [self.seeds[i], self.phase_index, int(self.count[i])]
        return int(np.random.SeedSequence(entropy).generate_state(1)[0])

    def step(self, i: int, reward: float, ended: bool, action: np.ndarray) -> None:
        self.ret[i] += reward
        self.length[i] += 1
        self.actions[i].append(action.copy())
        if ended:
            self.finished[i].append((self.ret[i], self.length[i]))
            self.ret[i], self.length[i] = 0.0, 0
            self.count[i] += 1
            self.actions[i] = []

    def snapshot(self) -> dict[str, Any]:
        """Everything above as JSON (exact: float32/float64 values survive the round trip)."""
        return {
            "count": pack(self.count),
            "ret": pack(self.ret),
            "length": pack(self.length),
            "finished": [[(float(r), int(n)) for r, n in f] for f in self.finished],
            "actions": [[a.tolist() for a in acts] for acts in self.actions],
        }

    def restore(self, snap: dict[str, Any], act_dtype: Any) -> None:
        self.count, self.ret, self.length = (
            unpack(snap["count"]),
            unpack(snap["ret"]),
            unpack(snap["length"]),
        )
        self.finished = [[(float(r), int(n)) for r, n in f] for f in snap["finished"]]
        self.actions = [[np.asarray(a, act_dtype) for a in acts] for acts in snap["actions"]]

    def record(self) -> dict[str, np.ndarray]:
        """Mean return and length of the episodes finished since the last record (every seed
        must have finished one), then start a new record."""
        out = {}
        if all(self.finished):
            out["episode_return"] = np.array([np.mean([r for r, _ in f]) for f in self.finished])
            out["episode_length"] = np.array([np.mean([n for _, n in f]) for f in self.finished])
        self.finished = [[] for _ in self.seeds]
        return out


@dataclass
class OnlinePhase:
    """Host-side env loop over a vector env of one env per seed; ``explore`` acts on normalised
    observations."""

    envs: Vector
    """One sub-env per seed, autoreset disabled (:func:`coopo.envs.make_vector_env`)."""
    seeds: list[int]
    scaler: ActionScaler
    normalizer: Normalizer
    reward_scale: float
    updates: Updates
    explore: Callable[..., Any]
    eval_interval: int = 0
    """Evaluate every this many env steps of the phase (0: at its end only, by the runner)."""

    @classmethod
    def of(cls, algo: Learner, **kw: Any) -> OnlinePhase:
        return cls(explore=make_act(algo, deterministic=False), **kw)

    def run(
        self,
        state: RunState,
        steps: int,
        index: int,
        clock: Clock,
        hooks: PhaseHooks,
        start: int = 0,
        host: dict[str, Any] | None = None,
    ) -> PhaseOutcome:
        """``steps`` env steps per seed; ``index`` (the phase's place in the schedule) seeds
        the resets and the random actions. Resumed inside the phase, ``start`` steps were done
        and ``host`` is the host state saved with them (:func:`host_state`)."""
        episodes = Episodes(self.seeds, index)
        random_rng = np.random.default_rng([*self.seeds, index])
        sums: dict[str, Any] = {}
        calls, done = 0, start
        if host:
            episodes.restore(host["episodes"], np.float32)
            random_rng = rng_from(host["random_rng"])
            sums = {k: unpack(v) for k, v in host["sums"].items()}
            calls = int(host["calls"])
            obs = replay_episodes(  # reset with each episode's seed and replay its actions
                self.envs,
                [episodes.reset_seed(i) for i in range(len(self.seeds))],
                episodes.actions,
                self.scaler.to_env,
                [float(r) for r in episodes.ret],
            )
        else:
            seeds = [episodes.reset_seed(i) for i in range(len(self.seeds))]
            obs = reset_where(self.envs, np.ones(len(self.seeds), bool), seeds)
        while done < steps:
            n = min(self.updates.steps_per_update, steps - done)
            state, obs, rows = self.collect(state, obs, n, clock.env_steps, episodes, random_rng)
            if done + n >= steps:
                # The phase ends mid-episode: the next phase resets the envs, so the stored
                # episode ends here. Mark it truncated (bookkeeping; TD still bootstraps).
                rows["tr"][:, n - 1] = np.maximum(rows["tr"][:, n - 1], rows["te"][:, n - 1] == 0)
            chunk = to_device(rows["o"], rows["a"], rows["r"], rows["no"], rows["te"], rows["tr"])
            state = state.replace(buffer=add_chunk(state.buffer, chunk))
            done += n
            clock = clock.advanced(env=n, progress=n)
            state, metrics, grad_steps = self.updates.update(state, chunk, clock.env_steps)
            clock = clock.advanced(grad=grad_steps)
            if metrics is not None:
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + np.asarray(v)
                calls += 1
            if clock.env_steps % LOG_INTERVAL < n or done >= steps:
                sums, calls = self._log(sums, calls, episodes, clock, hooks)
            crossed = self.eval_interval and (
                done // self.eval_interval > (done - n) // self.eval_interval
            )
            if crossed and done < steps:
                hooks.evaluate(state, clock)
                if hooks.stop(clock):  # drift: back to anchoring now, the episodes cut short here
                    state = state.replace(buffer=mark_last_truncated(state.buffer))
                    sums, calls = self._log(sums, calls, episodes, clock, hooks)
                    hooks.progress(clock)
                    break
            hooks.progress(clock)
            if done < steps:
                snapshot = partial(host_state, episodes, random_rng, sums, calls)
                hooks.checkpoint(state, clock, done - n, done, snapshot)
        return PhaseOutcome(state, clock, done)  # done == steps unless hooks.stop ended it

    @staticmethod
    def _log(
        sums: dict[str, Any],
        calls: int,
        episodes: Episodes,
        clock: Clock,
        hooks: PhaseHooks,
    ) -> tuple[dict[str, Any], int]:
        """Log the mean update metrics and the finished episodes since the last record; the
        sums start again."""
        record = {k: v / max(calls, 1) for k, v in sums.items()} | episodes.record()
        if record:
            hooks.log("online", record, clock)
        return {}, 0

    def collect(
        self,
        state: RunState,
        obs: np.ndarray,
        n: int,
        env_steps: int,
        episodes: Episodes,
        random_rng: np.random.Generator,
    ) -> tuple[RunState, np.ndarray, dict[str, np.ndarray]]:
        """``n`` steps of every seed's env: (state with its key advanced, next observations,
        the rows as host arrays of shape (S, n, ...))."""
        S, obs_dim, act_dim = obs.shape[0], obs.shape[1], self.scaler.low.shape[0]
        rows = {
            "o": np.empty((S, n, obs_dim), np.float32),
            "a": np.empty((S, n, act_dim), np.float32),
            "r": np.empty((S, n), np.float32),
            "no": np.empty((S, n, obs_dim), np.float32),
            "te": np.zeros((S, n), np.float32),
            "tr": np.zeros((S, n), np.float32),
        }
        for t in range(n):
            obs_n = self.normalizer.numpy(obs)
            if env_steps + t < self.updates.random_until:
                actions = random_rng.uniform(-1.0, 1.0, (S, act_dim)).astype(np.float32)
            else:
                a, key = self.explore(state.online, jnp.asarray(obs_n), state.key)
                state = state.replace(key=key)
                actions = np.asarray(a)
            next_obs, reward, term, trunc, _ = self.envs.step(self.scaler.to_env(actions))
            ended = term | trunc
            rows["o"][:, t], rows["a"][:, t] = obs_n, actions
            rows["r"][:, t] = reward * self.reward_scale  # float64 product, as the env gives it
            # normalised from the same float32 values as the next row's observation, so a
            # row's next observation equals the next row's observation bit for bit
            obs = next_obs.astype(np.float32)
            rows["no"][:, t] = self.normalizer.numpy(obs)
            rows["te"][:, t], rows["tr"][:, t] = term, trunc
            for i in range(S):
                episodes.step(i, float(reward[i]), bool(ended[i]), actions[i])
            if ended.any():  # each ended env starts its next episode from its own seed
                seeds = [episodes.reset_seed(i) if e else 0 for i, e in enumerate(ended)]
                obs = reset_where(self.envs, ended, seeds)
        return state, obs, rows
