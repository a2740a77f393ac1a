"""The cycle runner: COOPO's algorithm box, checkpoints at every phase boundary, and resume.

    for phase in schedule(method):                 # coopo: [offline, online] x K
        if phase is offline:
            offline.absorb(online.handoff())       # pi_prev becomes the KL reference
            M advantage-weighted updates on D (or D ∪ B)
        else:
            online.absorb(offline.handoff())       # start from the anchored actor/critics
            N env steps, utd updates per step on mix(D, B)
        evaluate on separate envs; checkpoint

Everything a run needs to continue exactly (parameters, optimizer states, target networks,
replay buffers, RNG keys, counters) is checkpointed at each phase boundary; env resets are
seeded from (seed, phase, episode), so a resumed run reproduces an unbroken one.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization, struct
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from coopo import checkpoint as ckpt
from coopo import phases
from coopo.buffers import ReplayBuffer, replay_init
from coopo.config import TrainConfig, config_from_dict, config_to_dict, validate_config
from coopo.data import Dataset, DatasetError, build_dataset, load, read_minari, write_minari
from coopo.data.builder import BUILDER_VERSION
from coopo.data.dataset import discounted_returns_to_go, validate_against_env
from coopo.envs import ActionScaler, make_env
from coopo.evaluation import Evaluator, normalized_score, reference_scores, task_name
from coopo.logger import MetricsLogger
from coopo.normalization import Normalizer
from coopo.offline import OFFLINE_ALGORITHMS
from coopo.online import ONLINE_OPTIMIZERS
from coopo.paths import cache_dir
from coopo.schedule import Phase, schedule
from coopo.types import EnvSpec, Transition

LOG_INTERVAL = 1_000  # online env steps between training-metric records


PROBE_ROWS = 1_000
"""Dataset rows of the drift probe (evenly spaced over the dataset)."""


class TrainingDiverged(RuntimeError):
    """A loss or metric became NaN/inf; the last checkpoint is left intact."""


class RunState(struct.PyTreeNode):
    """Everything that changes during a run, stacked over seeds (leading axis S)."""

    offline: Any
    online: Any
    buffer: ReplayBuffer
    key: jax.Array


@dataclass
class RunResult:
    run_dir: Path
    finished: bool
    final_scores: dict[int, float] = field(default_factory=dict)  # seed -> normalised score
    final_returns: dict[int, float] = field(default_factory=dict)


def resolve_dataset(cfg: TrainConfig, console: Console | None = None) -> Dataset | None:
    """Load the configured dataset, building (and caching) it for 'build:...' specs."""
    spec = cfg.dataset
    if spec.lower() in ("", "none"):
        return None
    if not spec.startswith("build:"):
        return load(spec)
    behaviour = spec[len("build:") :]
    if behaviour != "random" and not Path(behaviour).is_file():
        raise DatasetError(
            behaviour, None, "behaviour policy file not found (use build:random or build:PATH.npz)"
        )
    if behaviour == "random":
        tag = "random"
    else:
        import hashlib

        tag = (
            "policy-"
            + hashlib.sha256(Path(behaviour).read_bytes()).hexdigest()[:10]
            + f"-noise{cfg.build_noise:g}"
        )
    kw = cfg.parsed_env_kwargs()
    kw_tag = hashlib_short(json.dumps(kw, sort_keys=True)) if kw else "default"
    # The builder version is part of the key: a cache made by another builder is never reused.
    dataset_id = f"coopo-cache/{task_name(cfg.env_id)}/{tag}-{kw_tag}-n{cfg.build_size}-builder{BUILDER_VERSION}-v0"
    root = cache_dir() / "datasets"
    if (root / dataset_id / "data" / "metadata.json").is_file():
        return read_minari(root / dataset_id)
    if console:
        console.print(
            f"[bold]building dataset[/] {dataset_id} ({cfg.build_size} transitions, once) ..."
        )
    ds = build_dataset(
        cfg.env_id,
        behaviour,
        cfg.build_size,
        cfg.build_noise if behaviour != "random" else 0.0,
        0,
        kw,
    )
    write_minari(ds, dataset_id, root)
    return read_minari(root / dataset_id)


def hashlib_short(s: str) -> str:
    import hashlib

    return hashlib.sha256(s.encode()).hexdigest()[:10]


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, console: Console | None = None) -> None:
        validate_config(cfg)
        self.cfg, self.run_dir = cfg, run_dir
        self.console = console or Console()
        self.seeds = list(cfg.seeds)
        kw = cfg.parsed_env_kwargs()
        probe = make_env(cfg.env_id, kw)
        self.scaler = ActionScaler.of_env(probe)
        obs_shape = tuple(probe.observation_space.shape or ())
        probe.close()
        self.spec = EnvSpec(obs_dim=int(obs_shape[0]), act_dim=int(self.scaler.low.shape[0]))

        ds = resolve_dataset(cfg, self.console)
        if ds is not None:
            if ds.metadata.env_id and task_name(ds.metadata.env_id) != task_name(cfg.env_id):
                raise DatasetError(
                    ds.metadata.source or cfg.dataset,
                    "metadata.env_id",
                    f"dataset was collected in {ds.metadata.env_id}, but the run's env is {cfg.env_id}",
                )
            validate_against_env(ds, obs_shape, self.scaler.low, self.scaler.high, cfg.env_id)
        # Provenance for dataset.json; the host arrays themselves are not kept (memory).
        self.dataset_info: dict[str, Any] | None = (
            {"size": ds.size, "hash": ds.content_hash(), **asdict(ds.metadata)} if ds else None
        )
        self.ref_min, self.ref_max = reference_scores(
            cfg.env_id,
            ds.metadata.ref_min_score if ds else None,
            ds.metadata.ref_max_score if ds else None,
        )
        if ds is not None and self.dataset_info is not None:
            # The data's own level (mean episode return, normalised like every evaluation):
            # the reference line a report puts next to the scores.
            rets = ds.episode_returns()
            if len(rets):
                self.dataset_info["episode_return_mean"] = float(rets.mean())
                if self.ref_min is not None:
                    self.dataset_info["normalized_return"] = float(
                        normalized_score(rets.mean(), self.ref_min, self.ref_max)
                    )
        if ds is not None and cfg.normalize_observations:
            self.normalizer = Normalizer.fit(ds.observations)
        else:
            self.normalizer = Normalizer.identity(self.spec.obs_dim)
        self._norm_mean = np.asarray(self.normalizer.mean)
        self._norm_std = np.asarray(self.normalizer.std)
        self.dataset, self.dataset_size = self._device_dataset(ds)
        # Drift probe: fixed dataset rows on which every evaluation measures how far the
        # policy's actions are from the data's (eval/data_action_mse).
        self.probe: tuple[jax.Array, jax.Array] | None = None
        if ds is not None:
            idx = np.linspace(0, self.dataset_size - 1, min(PROBE_ROWS, self.dataset_size)).astype(
                int
            )
            obs = self.dataset.observations[idx]
            self.probe = (
                jnp.broadcast_to(obs, (len(self.seeds), *obs.shape)),
                self.dataset.actions[idx],
            )

        self.offline_algo = OFFLINE_ALGORITHMS[cfg.offline]
        self.online_algo = ONLINE_OPTIMIZERS.get(cfg.online) or OFFLINE_ALGORITHMS[cfg.online]
        self.plan = schedule(cfg.method, cfg.cycles, cfg.offline_steps, cfg.online_steps)
        data_fraction = cfg.online_dataset_fraction if ds is not None else 0.0
        if cfg.method == "online" and not cfg.scratch_uses_dataset:
            data_fraction = 0.0
        self.offline_chunk = phases.make_update_chunk(
            self.offline_algo,
            phases.offline_sampler(cfg.batch_size, self.dataset_size, cfg.offline_data),
        )
        self.online_chunk = phases.make_update_chunk(
            self.online_algo,
            phases.online_sampler(cfg.batch_size, self.dataset_size, data_fraction),
        )
        self.act = {
            "offline": phases.make_act(self.offline_algo, deterministic=True),
            "online": phases.make_act(self.online_algo, deterministic=True),
        }
        self.explore = phases.make_act(self.online_algo, deterministic=False)
        self.q_probe = {
            "offline": phases.make_q_probe(self.offline_algo, cfg.network, self.spec),
            "online": phases.make_q_probe(self.online_algo, cfg.network, self.spec),
        }
        on_policy = getattr(self.online_algo, "ON_POLICY", False)
        self.rollout_update = phases.make_rollout_update(self.online_algo) if on_policy else None
        if cfg.offline == cfg.online:
            # One algorithm in both phases ("IQL fine-tuning"): its whole state carries over,
            # optimizer moments and all; there is no handoff to convert.
            self.to_online = self.to_offline = lambda src, dst: src
        else:
            self.to_online = phases.make_handoff(self.offline_algo, self.online_algo)
            self.to_offline = phases.make_handoff(self.online_algo, self.offline_algo)
        self.evaluator = Evaluator(cfg.env_id, kw, self.seeds, cfg.eval_episodes)
        self.envs = [make_env(cfg.env_id, kw) for _ in self.seeds]
        self.last_scores: np.ndarray | None = None
        self.last_returns: np.ndarray | None = None
        # Attached by run(); phases can also be driven without them (benchmarks, tests).
        self.logger: MetricsLogger | None = None
        self.progress: Progress | None = None

    # ----------------------------------------------------------------- setup
    def _device_dataset(self, ds: Dataset | None) -> tuple[Transition, int]:
        if ds is None:  # a one-row placeholder keeps every jitted signature the same
            z = np.zeros((1, self.spec.obs_dim), np.float32)
            return phases.to_device(z, np.zeros((1, self.spec.act_dim)), [0.0], z, [1.0], [0.0]), 1
        return (
            phases.to_device(
                self.normalize(ds.observations),
                self.scaler.from_env(ds.actions),
                ds.rewards * self.cfg.reward_scale,
                self.normalize(ds.next_observations),
                ds.terminated,
                ds.truncated,
                discounted_returns_to_go(
                    ds, self.cfg.algo_config(self.cfg.offline).discount, self.cfg.reward_scale
                ),
            ),
            ds.size,
        )

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return ((obs - self._norm_mean) / self._norm_std).astype(np.float32)

    def init_state(self) -> RunState:
        cfg = self.cfg
        keys = jnp.stack([jax.random.PRNGKey(s) for s in self.seeds])
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        offline = jax.vmap(
            lambda k: self.offline_algo.init(
                k, self.spec, cfg.network, cfg.algo_config(cfg.offline)
            )
        )(split[:, 0])
        online = jax.vmap(
            lambda k: self.online_algo.init(k, self.spec, cfg.network, cfg.algo_config(cfg.online))
        )(split[:, 1])
        capacity = min(cfg.replay_capacity, max(cfg.cycles * cfg.online_steps, cfg.update_every))
        buffer = replay_init(
            self.spec.obs_dim, self.spec.act_dim, capacity, batch_shape=(len(self.seeds),)
        )
        return RunState(offline=offline, online=online, buffer=buffer, key=split[:, 2])

    # ----------------------------------------------------------------- run
    def run(self, state: RunState, counters: ckpt.Counters, max_phases: int = 0) -> RunResult:
        cfg = self.cfg
        logger = self.logger = MetricsLogger(
            self.run_dir,
            self.seeds,
            keep_lines=counters.metrics_lines if counters.next_phase else None,
            purge_step=counters.progress_steps + 1 if counters.next_phase else None,
        )
        total = sum(p.steps for p in self.plan)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not cfg.progress,
        )
        ran = 0
        try:
            with progress:
                self.bar = progress.add_task("", total=total, completed=counters.progress_steps)
                self.progress = progress
                for index, phase in enumerate(self.plan):
                    if index < counters.next_phase:
                        continue
                    if max_phases and ran >= max_phases:
                        self.console.print(
                            f"stopped after {ran} phases; continue with: coopo resume {self.run_dir}"
                        )
                        return RunResult(self.run_dir, finished=False)
                    if phase.kind == "offline":
                        if counters.holder == "online":
                            state = state.replace(
                                offline=self.to_offline(state.online, state.offline)
                            )
                        state = self.offline_phase(state, phase, counters)
                    else:
                        if counters.holder == "offline":
                            state = state.replace(
                                online=self.to_online(state.offline, state.online)
                            )
                        state = self.online_phase(state, phase, counters, index)
                    counters.holder = phase.kind
                    self.evaluate(state, counters, phase, boundary=True)
                    counters.next_phase = index + 1
                    logger.flush()
                    counters.metrics_lines = logger.lines
                    ckpt.save(self.run_dir, state, counters, cfg.keep_checkpoints)
                    ran += 1
            if self.last_scores is None:  # resumed after the last phase: evaluate once more
                self.evaluate(state, counters, self.plan[-1], boundary=False)
            self.save_policy(state, counters)
            return self.result()
        finally:
            logger.close()

    def result(self) -> RunResult:
        assert self.last_scores is not None and self.last_returns is not None
        return RunResult(
            self.run_dir,
            True,
            {s: float(v) for s, v in zip(self.seeds, self.last_scores, strict=True)},
            {s: float(v) for s, v in zip(self.seeds, self.last_returns, strict=True)},
        )

    def _describe(self, phase: Phase, counters: ckpt.Counters) -> None:
        if self.progress is None:
            return
        if self.last_returns is None or self.last_scores is None:
            score = "-"
        elif self.ref_min is None:
            score = f"return {np.mean(self.last_returns):.1f}"
        else:
            score = f"{np.mean(self.last_scores):.1f}"
        self.progress.update(
            self.bar,
            completed=counters.progress_steps,
            description=f"{phase.kind:7s} cycle {phase.cycle + 1}/{self.cfg.cycles}  env {counters.env_steps}  score {score}",
        )

    def _counters(self, phase: Phase, counters: ckpt.Counters) -> dict[str, Any]:
        return {
            "cycle": phase.cycle,
            "phase": phase.kind,
            "env_steps": counters.env_steps,
            "grad_steps": counters.grad_steps,
        }

    def _log(
        self, prefix: str, metrics: dict[str, Any], phase: Phase, counters: ckpt.Counters
    ) -> None:
        arrays = {k: np.asarray(v) for k, v in metrics.items()}
        for name, value in arrays.items():
            if not np.all(np.isfinite(value)):
                bad = [s for s, v in zip(self.seeds, value, strict=True) if not np.isfinite(v)]
                last = ckpt.latest(self.run_dir)
                raise TrainingDiverged(
                    f"{prefix}/{name} became non-finite (seeds {bad}) in the {phase.kind} phase of cycle "
                    f"{phase.cycle + 1} at env_steps={counters.env_steps}, grad_steps={counters.grad_steps}; "
                    f"last good checkpoint: {last or 'none yet'}"
                )
        if self.logger is None:
            return
        for i, seed in enumerate(self.seeds):
            self.logger.log(
                seed,
                counters.progress_steps,
                self._counters(phase, counters),
                {f"{prefix}/{k}": float(v[i]) for k, v in arrays.items()},
            )

    # ----------------------------------------------------------------- phases
    def offline_phase(self, state: RunState, phase: Phase, counters: ckpt.Counters) -> RunState:
        cfg = self.cfg
        done = 0
        while done < phase.steps:
            k = min(cfg.scan_length, phase.steps - done)
            if cfg.offline_eval_interval:
                k = min(k, cfg.offline_eval_interval - done % cfg.offline_eval_interval)
            offline, key, metrics = self.offline_chunk(
                state.offline, state.buffer, self.dataset, state.key, num_updates=k
            )
            state = state.replace(offline=offline, key=key)
            done += k
            counters.grad_steps += k
            counters.progress_steps += k
            self._log("offline", metrics, phase, counters)
            if (
                cfg.offline_eval_interval
                and done % cfg.offline_eval_interval == 0
                and done < phase.steps
            ):
                counters.holder = "offline"
                self.evaluate(state, counters, phase, boundary=False)
            self._describe(phase, counters)
        return state

    def online_phase(
        self, state: RunState, phase: Phase, counters: ckpt.Counters, index: int
    ) -> RunState:
        cfg = self.cfg
        S, n_max = len(self.seeds), cfg.update_every
        on_policy = self.rollout_update is not None
        if on_policy:  # collect one full rollout per update call
            n_max = cfg.algo_config(cfg.online).rollout_length
        random_until = 0 if on_policy or cfg.method != "online" else cfg.random_steps
        episode = np.zeros(S, int)

        def reset(i: int) -> np.ndarray:
            seed = int(
                np.random.SeedSequence([self.seeds[i], index, int(episode[i])]).generate_state(1)[0]
            )
            return self.envs[i].reset(seed=seed)[0]

        obs = np.stack([reset(i) for i in range(S)]).astype(np.float32)
        ep_return, ep_length = np.zeros(S), np.zeros(S, int)
        finished: list[list[tuple[float, int]]] = [[] for _ in range(S)]
        random_rng = np.random.default_rng([*self.seeds, index])
        sums: dict[str, np.ndarray] = {}
        chunks = 0
        done = 0
        while done < phase.steps:
            n = min(n_max, phase.steps - done)
            buf = {
                "o": np.empty((S, n, self.spec.obs_dim), np.float32),
                "a": np.empty((S, n, self.spec.act_dim), np.float32),
                "r": np.empty((S, n), np.float32),
                "no": np.empty((S, n, self.spec.obs_dim), np.float32),
                "te": np.zeros((S, n), np.float32),
                "tr": np.zeros((S, n), np.float32),
            }
            for t in range(n):
                obs_n = self.normalize(obs)
                if counters.env_steps + t < random_until:
                    actions = random_rng.uniform(-1.0, 1.0, (S, self.spec.act_dim)).astype(
                        np.float32
                    )
                else:
                    a, key = self.explore(state.online, jnp.asarray(obs_n), state.key)
                    state = state.replace(key=key)
                    actions = np.asarray(a)
                env_actions = self.scaler.to_env(actions)
                for i in range(S):
                    next_obs, reward, term, trunc, _ = self.envs[i].step(env_actions[i])
                    buf["o"][i, t], buf["a"][i, t] = obs_n[i], actions[i]
                    buf["r"][i, t] = float(reward) * cfg.reward_scale
                    buf["no"][i, t] = self.normalize(next_obs)
                    buf["te"][i, t], buf["tr"][i, t] = term, trunc
                    ep_return[i] += reward
                    ep_length[i] += 1
                    if term or trunc:
                        finished[i].append((ep_return[i], ep_length[i]))
                        ep_return[i], ep_length[i] = 0.0, 0
                        episode[i] += 1
                        obs[i] = reset(i)
                    else:
                        obs[i] = next_obs
            if done + n >= phase.steps:
                # The phase ends mid-episode: the next phase resets the envs, so the stored
                # episode ends here. Mark it truncated (bookkeeping; TD still bootstraps).
                buf["tr"][:, n - 1] = np.maximum(buf["tr"][:, n - 1], buf["te"][:, n - 1] == 0)
            chunk = phases.to_device(buf["o"], buf["a"], buf["r"], buf["no"], buf["te"], buf["tr"])
            state = state.replace(buffer=phases.add_chunk(state.buffer, chunk))
            done += n
            counters.env_steps += n
            counters.progress_steps += n
            if self.rollout_update is not None:
                online, key, metrics = self.rollout_update(state.online, chunk, state.key)
                state = state.replace(online=online, key=key)
                ppo_cfg = cfg.algo_config(cfg.online)
                counters.grad_steps += ppo_cfg.epochs * ppo_cfg.num_minibatches
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + np.asarray(v)
                chunks += 1
            elif counters.env_steps >= random_until:
                online, key, metrics = self.online_chunk(
                    state.online,
                    state.buffer,
                    self.dataset,
                    state.key,
                    num_updates=n * cfg.utd_ratio,
                )
                state = state.replace(online=online, key=key)
                counters.grad_steps += n * cfg.utd_ratio
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + np.asarray(v)
                chunks += 1
            if counters.env_steps % LOG_INTERVAL < n or done >= phase.steps:
                record = {k: v / max(chunks, 1) for k, v in sums.items()}
                if all(finished):
                    record["episode_return"] = np.array(
                        [np.mean([r for r, _ in f]) for f in finished]
                    )
                    record["episode_length"] = np.array(
                        [np.mean([n_ for _, n_ in f]) for f in finished]
                    )
                if record:
                    self._log("online", record, phase, counters)
                sums, chunks, finished = {}, 0, [[] for _ in range(S)]
            crossed = (
                cfg.eval_interval and done // cfg.eval_interval > (done - n) // cfg.eval_interval
            )
            if crossed and done < phase.steps:
                counters.holder = "online"
                self.evaluate(state, counters, phase, boundary=False)
            self._describe(phase, counters)
        return state

    # ----------------------------------------------------------------- evaluation
    def holder_state(self, state: RunState, holder: str) -> tuple[str, Any]:
        kind = holder or ("offline" if self.plan[0].kind == "offline" else "online")
        return kind, (state.offline if kind == "offline" else state.online)

    def evaluate(
        self, state: RunState, counters: ckpt.Counters, phase: Phase, boundary: bool
    ) -> None:
        kind, algo_state = self.holder_state(state, counters.holder)
        act = self.act[kind]
        keys = state.key  # deterministic actions: keys are not consumed

        def policy(obs: np.ndarray) -> np.ndarray:
            a, _ = act(algo_state, jnp.asarray(self.normalize(obs)), keys)
            return np.asarray(a)

        returns, lengths = self.evaluator.run(policy, counters.eval_round)
        counters.eval_round += 1
        scores = normalized_score(returns, self.ref_min, self.ref_max)
        self.last_returns, self.last_scores = returns.mean(1), scores.mean(1)
        metrics = {
            "return": returns.mean(1),
            "return_std": returns.std(1),
            "length": lengths.mean(1),
            "phase_end": np.full(len(self.seeds), float(boundary)),
        }
        if self.ref_min is not None:  # no reference scores for this task: returns only
            metrics["normalized_score"] = scores.mean(1)
        if self.probe is not None:
            probe_actions, _ = act(algo_state, self.probe[0], keys)
            sq = jnp.sum((probe_actions - self.probe[1]) ** 2, axis=-1)
            metrics["data_action_mse"] = np.asarray(sq.mean(axis=-1))
            # Handoff probe: the critic's value of the data's and of the policy's actions.
            q = self.q_probe[kind](algo_state, self.probe[0], self.probe[1], probe_actions)
            if q is not None:
                metrics["q_data"], metrics["q_policy"] = np.asarray(q[0]), np.asarray(q[1])
        for i, seed in enumerate(self.seeds):
            if self.logger is not None:
                self.logger.log(
                    seed,
                    counters.progress_steps,
                    self._counters(phase, counters),
                    {f"eval/{k}": float(v[i]) for k, v in metrics.items()},
                )
        if boundary:
            s = scores.mean(1) if self.ref_min is not None else returns.mean(1)
            label = "normalized" if self.ref_min is not None else "return"
            spread = f" ± {np.std(s):.1f} ({len(s)} seeds)" if len(s) > 1 else ""
            self.console.print(
                f"cycle {phase.cycle + 1}/{self.cfg.cycles} {phase.kind:<7s} env {counters.env_steps:>7d} "
                f"grad {counters.grad_steps:>7d}  {label} {np.mean(s):7.1f}{spread}",
                soft_wrap=True,
            )

    # ----------------------------------------------------------------- artifacts
    def save_policy(self, state: RunState, counters: ckpt.Counters) -> None:
        kind, algo_state = self.holder_state(state, counters.holder)
        algo = self.offline_algo if kind == "offline" else self.online_algo
        actors = jax.vmap(algo.handoff)(algo_state).actor
        out = self.run_dir / "policy"
        out.mkdir(exist_ok=True)
        for i, seed in enumerate(self.seeds):
            params = jax.tree_util.tree_map(lambda x, i=i: np.asarray(x[i]), actors)
            (out / f"seed_{seed}.msgpack").write_bytes(serialization.to_bytes(params))
        meta = {
            "actor": "tanh_gaussian",
            "env_id": self.cfg.env_id,
            "env_kwargs": self.cfg.parsed_env_kwargs(),
            "obs_dim": self.spec.obs_dim,
            "act_dim": self.spec.act_dim,
            "hidden_dims": list(self.cfg.network.hidden_dims),
            "seeds": self.seeds,
            "obs_mean": self._norm_mean.tolist(),
            "obs_std": self._norm_std.tolist(),
            "action_low": self.scaler.low.tolist(),
            "action_high": self.scaler.high.tolist(),
            "ref_min_score": self.ref_min,
            "ref_max_score": self.ref_max,
            "trained_by": kind,
        }
        (out / "policy.json").write_text(json.dumps(meta, indent=1))
        summary = {
            "final_normalized_score": dict(
                zip(map(str, self.seeds), map(float, self.last_scores), strict=True)
            )
            if self.last_scores is not None
            else {},
            "final_return": dict(
                zip(map(str, self.seeds), map(float, self.last_returns), strict=True)
            )
            if self.last_returns is not None
            else {},
            "env_steps": counters.env_steps,
            "grad_steps": counters.grad_steps,
        }
        (self.run_dir / "results.json").write_text(json.dumps(summary, indent=1))

    def close(self) -> None:
        self.evaluator.close()
        for env in self.envs:
            env.close()


def _default_run_dir(cfg: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{cfg.method}-{task_name(cfg.env_id)}"


def train(cfg: TrainConfig, console: Console | None = None) -> RunResult:
    """Run ``cfg`` in a new run directory (``cfg.run_dir`` or ``runs/<time>-<method>-<env>``)."""
    validate_config(cfg)
    run_dir = Path(cfg.run_dir) if cfg.run_dir else _default_run_dir(cfg)
    if ckpt.latest(run_dir) is not None or (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; use `coopo resume {run_dir}` or another --run-dir"
        )
    trainer = Trainer(cfg, run_dir, console)
    run_dir.mkdir(parents=True, exist_ok=True)
    resolved = {**config_to_dict(cfg), "run_dir": str(run_dir)}
    (run_dir / "config.json").write_text(json.dumps(resolved, indent=1))
    (run_dir / "dataset.json").write_text(json.dumps(trainer.dataset_info, indent=1, default=str))
    try:
        return trainer.run(trainer.init_state(), ckpt.Counters(), cfg.max_phases)
    finally:
        trainer.close()


def resume(run_dir: str | Path, max_phases: int = 0, console: Console | None = None) -> RunResult:
    """Continue a run from its latest phase-boundary checkpoint."""
    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: not a coopo run directory")
    cfg = config_from_dict(json.loads(cfg_path.read_text()))
    path = ckpt.latest(run_dir)
    if path is None:
        raise FileNotFoundError(
            f"{run_dir} has no checkpoint yet; start it again with `coopo train`"
        )
    trainer = Trainer(cfg, run_dir, console)
    try:
        state, counters = ckpt.restore(path, trainer.init_state())
        return trainer.run(state, counters, max_phases)
    finally:
        trainer.close()
