"""The cycle runner: COOPO's algorithm box, checkpoints at phase boundaries and inside phases,
and resume.

    for phase in schedule(method):                 # coopo: [offline, online] x K
        if phase is offline:
            offline.absorb(online.handoff())       # pi_prev becomes the KL reference
            M advantage-weighted updates on D (or D ∪ B)      (coopo.phases.offline)
        else:
            online.absorb(offline.handoff())       # start from the anchored actor/critics
            N env steps, utd updates per step on mix(D, B)    (coopo.phases.online)
        evaluate on separate envs; checkpoint

:meth:`Trainer.run` is that loop. Everything a run needs to continue exactly (parameters,
optimizer states, target networks, replay buffers, RNG keys, counters) is checkpointed at
each phase boundary, and inside a phase between two jitted calls when one is due
(``--checkpoint-every`` steps, or every ``--checkpoint-minutes``), with the phase's host state
(:mod:`coopo.resume_point`); env resets are seeded from (seed, phase, episode), so a resumed
run reproduces an unbroken one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.markup import escape

from coopo import checkpoint as ckpt
from coopo import jsonfile, phases, provenance, resume_check
from coopo.buffers import replay_init
from coopo.config import (
    ConfigError,
    TrainConfig,
    algorithm,
    config_from_dict,
    config_to_dict,
    validate_config,
)
from coopo.evaluation import Evaluation, task_name
from coopo.logger import WandbOptions
from coopo.monitor import RunMonitor, TrainingDiverged
from coopo.phases import PhaseHooks, RunState
from coopo.phases.offline import OfflinePhase
from coopo.phases.online import OnlinePhase
from coopo.policy import save_policy
from coopo.resume_point import CheckpointClock
from coopo.run_setup import RunSetup, online_updates
from coopo.runlock import CtrlC, RunLock, check_free, interrupted
from coopo.schedule import DriftSwitch, Phase, num_cycles, schedule

__all__ = ["RunResult", "RunState", "Trainer", "TrainingDiverged", "resume", "train"]


@dataclass
class RunResult:
    run_dir: Path
    finished: bool
    final_scores: dict[int, float] = field(default_factory=dict)  # seed -> normalised score
    final_returns: dict[int, float] = field(default_factory=dict)
    data_level: float | None = None  # the dataset's mean episode return, on the scores' scale


class Trainer:
    """One run's phases, evaluation and artifacts, wired from its config (:class:`RunSetup`)."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, console: Console | None = None) -> None:
        self.cfg, self.run_dir = cfg, run_dir
        self.console = console or Console()
        self.setup = setup = RunSetup(cfg, self.console.print)
        self.seeds = setup.seeds
        self.offline_algo, self.online_algo = algorithm(cfg.offline), algorithm(cfg.online)
        self.plan = schedule(cfg.method, cfg.cycles, cfg.offline_steps, cfg.online_steps)
        self.n_cycles = num_cycles(cfg.method, cfg.cycles)
        self.offline = OfflinePhase(
            phases.make_update_chunk(
                self.offline_algo,
                phases.offline_sampler(
                    cfg.batch_size,
                    setup.dataset_size,
                    cfg.offline_data,
                    cfg.offline_online_fraction,
                ),
            ),
            setup.dataset,
            cfg.scan_length,
            cfg.offline_eval_interval,
        )
        self.online = OnlinePhase.of(
            self.online_algo,
            envs=setup.make_envs(),
            seeds=self.seeds,
            scaler=setup.scaler,
            normalizer=setup.normalizer,
            reward_scale=cfg.reward_scale,
            updates=online_updates(cfg, setup, self.online_algo),
            eval_interval=cfg.eval_interval,
        )
        self.act = {
            "offline": phases.make_act(self.offline_algo, deterministic=True),
            "online": phases.make_act(self.online_algo, deterministic=True),
        }
        # Handoff probe (docs/results/handoffs.md): the critic's value of the data's and the policy's actions.
        self.q_probe = {
            "offline": phases.make_q_probe(self.offline_algo, cfg.network, setup.spec),
            "online": phases.make_q_probe(self.online_algo, cfg.network, setup.spec),
        }
        if cfg.offline == cfg.online:
            # One algorithm in both phases ("IQL fine-tuning"): its whole state carries over,
            # optimizer moments and all; there is no handoff to convert.
            self.to_online = self.to_offline = lambda src, dst: src
        else:
            self.to_online = phases.make_handoff(self.offline_algo, self.online_algo)
            self.to_offline = phases.make_handoff(self.online_algo, self.offline_algo)
        self.evaluator = setup.make_evaluator()
        self.last: Evaluation | None = None  # the newest evaluation
        self.has_ref = has_ref = setup.ref_scores[0] is not None
        self.monitor = RunMonitor(
            run_dir,
            self.seeds,
            self.n_cycles,
            has_ref,
            self.console,
            wandb_options(cfg),
            data_level=setup.data_level(),
        )
        self.clock = CheckpointClock(cfg.checkpoint_every, cfg.checkpoint_minutes)
        self.ctrl_c = CtrlC()
        self.drift = DriftSwitch(cfg.drift_switch_mse, cfg.drift_switch_drop)
        if cfg.drift_switch_drop > 0 and not has_ref:
            raise ConfigError(
                f"--drift-switch-drop: needs D4RL reference scores, which {cfg.env_id} has none "
                "of (use --drift-switch-mse)"
            )
        online = [i for i, p in enumerate(self.plan) if p.kind == "online"]
        self.last_online = online[-1] if online else -1
        self.switched: str | None = None  # why the online phase running now ended early

    def init_state(self) -> RunState:
        cfg, spec = self.cfg, self.setup.spec
        keys = jax.numpy.stack([jax.random.PRNGKey(s) for s in self.seeds])
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)

        def init(algo: Any, name: str, k: jax.Array) -> Any:
            return jax.vmap(lambda k: algo.init(k, spec, cfg.network, cfg.algo_config(name)))(k)

        capacity = min(cfg.replay_capacity, max(cfg.cycles * cfg.online_steps, cfg.update_every))
        return RunState(
            offline=init(self.offline_algo, cfg.offline, split[:, 0]),
            online=init(self.online_algo, cfg.online, split[:, 1]),
            buffer=replay_init(spec.obs_dim, spec.act_dim, capacity, (len(self.seeds),)),
            key=split[:, 2],
        )

    # ----------------------------------------------------------------- the algorithm box
    def run(self, state: RunState, counters: ckpt.Counters, max_phases: int = 0) -> RunResult:
        total = sum(p.steps for p in self.plan)
        ran = 0
        try:
            with self.ctrl_c.installed(), self.monitor.open(counters, total, self.cfg.progress):
                for index, phase in enumerate(self.plan):
                    if index < counters.next_phase:
                        continue
                    self.ctrl_c.check()
                    if max_phases and ran >= max_phases:
                        self.console.print(
                            f"stopped after {ran} phases; continue with: coopo resume {self.run_dir}"
                        )
                        return RunResult(self.run_dir, finished=False)
                    # Resumed inside this phase: its handoff was made before the checkpoint.
                    inside = counters.phase_step > 0
                    if phase.kind == "offline":
                        if counters.holder == "online" and not inside:
                            state = state.replace(
                                offline=self.to_offline(state.online, state.offline)
                            )
                        state = self.offline_phase(state, phase, counters)
                    else:
                        if counters.holder == "offline" and not inside:
                            state = state.replace(
                                online=self.to_online(state.offline, state.online)
                            )
                        state = self.online_phase(state, phase, counters, index)
                    counters.holder = phase.kind
                    ev = self.evaluate(state, counters, phase, boundary=True)
                    if phase.kind == "offline" and self.has_ref:
                        counters.anchored_score = float(np.mean(ev.scores))
                    self._checkpoint(state, counters, index)
                    ran += 1
                self.ctrl_c.check()
            if self.last is None:  # resumed after the last phase: evaluate once more
                self.evaluate(state, counters, self.plan[-1], boundary=False)
            assert self.last is not None
            self.export_policy(state, counters)
            write_results(self.run_dir, self.seeds, self.last, counters)
            return self.result()
        finally:
            self.monitor.close()

    def offline_phase(self, state: RunState, phase: Phase, counters: ckpt.Counters) -> RunState:
        start = counters.phase_step  # > 0: resumed from a checkpoint inside this phase
        return self.offline.run(state, phase.steps, counters, self._hooks(phase), start)

    def online_phase(
        self, state: RunState, phase: Phase, counters: ckpt.Counters, index: int
    ) -> RunState:
        """``phase.steps`` env steps plus those an earlier online phase ended early with; the
        drift switch may end it early in turn, and what it leaves goes to the next one."""
        start, host = counters.phase_step, counters.phase_host or None
        budget = phase.steps + counters.online_carry
        self.switched = None
        hooks = self._hooks(phase, index)
        state = self.online.run(state, budget, index, counters, hooks, start, host)
        # the phase is over: what it left goes to the next one, which starts at its step 0
        done, counters.phase_step = counters.phase_step, 0
        counters.online_carry = budget - done
        if self.switched:
            self.console.print(
                f"cycle {phase.cycle + 1}/{self.n_cycles} online  env {counters.env_steps:>7d}: "
                f"back to anchoring early ({self.switched}); the next online phase gets "
                f"{counters.online_carry} more env steps",
                soft_wrap=True,
            )
        return state

    def drifted(self, index: int, counters: ckpt.Counters) -> bool:
        """After a mid-phase evaluation of online phase ``index``: end it now? (never the last
        online phase, which has no later one to give its steps to)."""
        if not self.drift.on or index == self.last_online or self.last is None:
            return False
        ev = self.last
        mse = ev.metrics.get("data_action_mse")
        self.switched = self.drift.why(
            None if mse is None else float(np.mean(mse)),
            float(np.mean(ev.scores)) if self.has_ref else None,
            counters.anchored_score,
        )
        return self.switched is not None

    def _checkpoint(self, state: RunState, counters: ckpt.Counters, index: int) -> None:
        logger = self.monitor.logger
        assert logger is not None
        counters.next_phase = index + 1
        counters.phase_step, counters.phase_host = 0, {}
        logger.flush()
        counters.metrics_lines = logger.lines
        ckpt.save(self.run_dir, state, counters, self.cfg.keep_checkpoints)
        self.clock.reset()

    def _checkpoint_inside(
        self,
        state: RunState,
        counters: ckpt.Counters,
        before: int,
        after: int,
        host: Callable[[], dict[str, Any]],
    ) -> None:
        """A checkpoint between two jitted calls of phase ``counters.next_phase``, when due;
        a Ctrl-C that arrived during the call stops the run here if it has not already."""
        self.ctrl_c.check()
        logger = self.monitor.logger
        if logger is None or not self.clock.due(before, after):
            # no logger: the phases are driven outside `run` (behaviour-policy training for a
            # medium-replay build), which has no run to resume and re-runs deterministically
            return
        counters.phase_step, counters.phase_host = after, host()
        logger.flush()
        counters.metrics_lines = logger.lines
        name = ckpt.name_for(counters, after)
        ckpt.save(self.run_dir, state, counters, self.cfg.keep_checkpoints, name)
        counters.phase_host = {}
        self.clock.reset()

    def result(self) -> RunResult:
        assert self.last is not None
        return RunResult(
            self.run_dir,
            True,
            {s: float(v) for s, v in zip(self.seeds, self.last.scores, strict=True)},
            {s: float(v) for s, v in zip(self.seeds, self.last.returns, strict=True)},
            self.monitor.data_level,
        )

    def _hooks(self, phase: Phase, index: int = -1) -> PhaseHooks:
        return PhaseHooks(
            log=lambda prefix, metrics, c: self.monitor.train_metrics(prefix, metrics, phase, c),
            evaluate=lambda state, c: self.evaluate(state, c, phase, False),
            progress=lambda c: self.monitor.describe(phase, c, self.last),
            checkpoint=self._checkpoint_inside,
            stop=lambda c: self.drifted(index, c),
        )

    # ----------------------------------------------------------------- evaluation, artifacts
    def holder_state(self, state: RunState, holder: str) -> tuple[str, Any]:
        """(kind, state) of the phase that holds the newest policy."""
        kind = holder or ("offline" if self.plan[0].kind == "offline" else "online")
        return kind, (state.offline if kind == "offline" else state.online)

    def evaluate(
        self, state: RunState, counters: ckpt.Counters, phase: Phase, boundary: bool
    ) -> Evaluation:
        kind, algo_state = self.holder_state(state, counters.holder)
        # deterministic actions: the keys are not consumed
        ev = self.evaluator.evaluate(
            self.act[kind], algo_state, state.key, counters.eval_round, boundary, self.q_probe[kind]
        )
        counters.eval_round += 1
        self.last = ev
        self.monitor.write("eval", ev.metrics, phase, counters)
        if boundary:
            self.monitor.phase_end(phase, counters, ev)
        return ev

    def export_policy(self, state: RunState, counters: ckpt.Counters) -> Path:
        """Save the newest policy into RUN_DIR/policy (:func:`coopo.policy.save_policy`)."""
        kind, algo_state = self.holder_state(state, counters.holder)
        algo = self.offline_algo if kind == "offline" else self.online_algo
        setup = self.setup
        return save_policy(
            self.run_dir,
            jax.vmap(algo.handoff)(algo_state).actor,
            self.seeds,
            env_id=self.cfg.env_id,
            env_kwargs=self.cfg.parsed_env_kwargs(),
            spec=setup.spec,
            hidden_dims=self.cfg.network.hidden_dims,
            normalizer=setup.normalizer,
            scaler=setup.scaler,
            ref_scores=setup.ref_scores,
            trained_by=kind,
        )

    def close(self) -> None:
        self.evaluator.close()
        self.online.envs.close()


def write_results(
    run_dir: Path, seeds: list[int], last: Evaluation, counters: ckpt.Counters
) -> None:
    """RUN_DIR/results.json: the final evaluation per seed and the budgets spent."""
    summary = {
        "final_normalized_score": dict(zip(map(str, seeds), map(float, last.scores), strict=True)),
        "final_return": dict(zip(map(str, seeds), map(float, last.returns), strict=True)),
        "env_steps": counters.env_steps,
        "grad_steps": counters.grad_steps,
    }
    # strict JSON: a score without reference scores (NaN) is written as null
    (run_dir / "results.json").write_text(jsonfile.dumps(summary, indent=1))


def wandb_options(cfg: TrainConfig) -> WandbOptions | None:
    """Where --wandb sends the run (None without --wandb)."""
    if not cfg.wandb:
        return None
    return WandbOptions(
        cfg.wandb_project, cfg.wandb_entity, cfg.wandb_group, cfg.wandb_tags, config_to_dict(cfg)
    )


def train(cfg: TrainConfig, console: Console | None = None) -> RunResult:
    """Run ``cfg`` in a new run directory (``cfg.run_dir`` or ``runs/<time>-<method>-<env>``)."""
    validate_config(cfg)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path(cfg.run_dir or f"runs/{stamp}-{cfg.method}-{task_name(cfg.env_id)}")
    check_free(run_dir)  # a live writer is named first, whatever the directory holds
    if ckpt.latest(run_dir) is not None or (run_dir / "metrics.jsonl").exists():
        raise FileExistsError(
            f"{run_dir} already holds a run; use `coopo resume {run_dir}` or another --run-dir"
        )
    trainer = Trainer(cfg, run_dir, console)
    lock = RunLock.acquire(run_dir)  # one writer per run directory, held for the run's life
    resolved = {**config_to_dict(cfg), "run_dir": str(run_dir)}
    dataset_path = Path(cfg.dataset).expanduser()
    if dataset_path.exists():  # a file or directory, not an id: resume finds it from anywhere
        resolved[DATASET_RESOLVED] = str(dataset_path.resolve())
    (run_dir / "config.json").write_text(jsonfile.dumps(resolved, indent=1))
    info = trainer.setup.dataset_info
    (run_dir / "dataset.json").write_text(jsonfile.dumps(info, indent=1, default=str))
    resume_check.record(run_dir)
    provenance.record_run(run_dir)
    try:
        return trainer.run(trainer.init_state(), ckpt.Counters(), cfg.max_phases)
    except KeyboardInterrupt as e:
        raise interrupted(run_dir) from e
    finally:
        trainer.close()
        lock.release()


DATASET_RESOLVED = "dataset_resolved"
"""config.json's record of the dataset's absolute path, next to ``dataset`` as typed."""
RUN_OUTPUTS = (
    "metrics.jsonl",
    "tb",
    "checkpoints",
    "policy",
    "results.json",
    "wandb.json",
    "wandb",
)
"""What a run writes as it trains: a restart from the beginning moves these aside. The rest
(config.json, dataset.json, versions.json, provenance.json, resume-log.jsonl, the lock, and
files of others such as a bench's bench.json and log.txt) stays in place."""


def read_run_config(run_dir: Path, say: Callable[[str], None]) -> TrainConfig:
    """``RUN_DIR/config.json`` as a validated config; an error names every problem: the file,
    the field, the value and what is allowed. The dataset is the path as typed if it exists
    (a relative one from the working directory), else the absolute path recorded at the start
    (``dataset_resolved``), so a run resumes from any working directory."""
    cfg_path = run_dir / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no config.json: not a coopo run directory")
    try:
        raw = json.loads(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{cfg_path} is not readable JSON ({e})") from e
    resolved = raw.pop(DATASET_RESOLVED, None) if isinstance(raw, dict) else None
    cfg = config_from_dict(raw, str(cfg_path))
    try:
        validate_config(cfg)
    except ConfigError as e:
        raise ConfigError(f"{cfg_path}: {e}") from e
    if isinstance(resolved, str) and resolved != cfg.dataset:
        typed = Path(cfg.dataset).expanduser()
        if typed.exists():  # as typed (or as edited since) comes first
            if typed.resolve() != Path(resolved):
                say(
                    f"dataset: {cfg.dataset} as typed, from {Path.cwd()} ({typed.resolve()}; "
                    f"the run recorded {resolved})"
                )
        elif Path(resolved).exists():
            say(
                f"dataset: {resolved}, its recorded absolute path ({cfg.dataset} as typed is "
                f"not found from {Path.cwd()})"
            )
            cfg = dataclasses.replace(cfg, dataset=resolved)
    return cfg


def read_results(run_dir: Path) -> RunResult:
    """A finished run's results.json as a :class:`RunResult` (null scores as NaN)."""
    path = run_dir / "results.json"

    def values(res: dict[str, Any], key: str) -> dict[int, float]:
        return {int(s): math.nan if v is None else float(v) for s, v in res[key].items()}

    try:
        res = json.loads(path.read_text())
        return RunResult(
            run_dir, True, values(res, "final_normalized_score"), values(res, "final_return")
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(
            f"{path} is not readable ({e!r}): the run has finished, but its results are damaged "
            "(metrics.jsonl and policy/ hold its final evaluation and policy)"
        ) from e


def set_aside(run_dir: Path) -> Path:
    """Move what a run wrote (:data:`RUN_OUTPUTS`) into ``RUN_DIR/restart-<time>``."""
    aside = run_dir / f"restart-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 0
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{aside.name.split('.')[0]}.{n}")
    aside.mkdir()
    for name in RUN_OUTPUTS:
        if (run_dir / name).exists():
            os.replace(run_dir / name, aside / name)
    return aside


def resume(
    run_dir: str | Path, max_phases: int = 0, console: Console | None = None, force: bool = False
) -> RunResult:
    """Continue a run from its latest checkpoint that verifies; ``force`` accepts a changed
    dataset or package versions (recorded in the run directory).

    A live writer is named first. A finished run is left as it is. A run with no usable
    checkpoint (it stopped before its first one, or every one failed verification) starts
    again from the beginning, with the same checks, its earlier output moved aside."""
    run_dir = Path(run_dir)
    console = console or Console()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} does not exist")
    check_free(run_dir)
    cfg = read_run_config(run_dir, lambda m: console.print(escape(m), soft_wrap=True))
    if (run_dir / "results.json").is_file():
        result = read_results(run_dir)
        console.print(
            escape(f"{run_dir} has finished; its results are in {run_dir / 'results.json'}"),
            soft_wrap=True,
        )
        return result
    trainer = Trainer(cfg, run_dir, console)
    try:
        lock = RunLock.acquire(run_dir)
    except BaseException:
        trainer.close()
        raise
    try:
        resume_check.check_resume(run_dir, trainer.setup.dataset_info, force, trainer.console.print)
        changed = provenance.record_run(run_dir)
        if changed:  # the run goes on, but its results may not equal an unbroken run's
            trainer.console.print(
                "[yellow]warning[/]: resuming with other software or on another host than this run"
                " started with (provenance.json): " + escape("; ".join(changed)),
                soft_wrap=True,
            )
        template = jax.eval_shape(trainer.init_state)  # shapes only: no second state in memory
        try:
            if ckpt.latest(run_dir) is None:
                raise ckpt.NoUsableCheckpoint(f"{run_dir} has no checkpoint")
            state, counters, _ = ckpt.restore_latest(
                run_dir, template, lambda m: trainer.console.print(escape(m), soft_wrap=True)
            )
        except ckpt.NoUsableCheckpoint:
            aside = set_aside(run_dir)
            trainer.console.print(
                escape(
                    f"{run_dir} has no usable checkpoint: starting it again from the beginning "
                    f"(what it held is kept in {aside})"
                ),
                soft_wrap=True,
            )
            state, counters = trainer.init_state(), ckpt.Counters()
        return trainer.run(state, counters, max_phases)
    except KeyboardInterrupt as e:
        raise interrupted(run_dir) from e
    finally:
        trainer.close()
        lock.release()
