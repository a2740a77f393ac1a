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

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console

from coopo import checkpoint as ckpt
from coopo.buffers import replay_init
from coopo.config import ConfigError, TrainConfig, algorithm, config_to_dict
from coopo.evaluation import Evaluation
from coopo.logger import WandbOptions
from coopo.monitor import RunMonitor, TrainingDiverged
from coopo.phases import PhaseHooks, RunState
from coopo.policy import save_policy
from coopo.resume_point import CheckpointClock
from coopo.run_dir import (
    RunResult,
    write_results,
)
from coopo.run_setup import RunSetup, wire
from coopo.runlock import CtrlC
from coopo.schedule import Budget, Clock, DriftSwitch, Phase, num_cycles, schedule

__all__ = ["RunResult", "RunState", "Trainer", "TrainingDiverged"]


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
        self.wiring = w = wire(cfg, setup, self.offline_algo, self.online_algo)
        self.offline, self.online, self.act, self.q_probe = w.offline, w.online, w.act, w.q_probe
        self.to_online, self.to_offline = w.to_online, w.to_offline
        self.evaluator = setup.make_evaluator()
        self.last: Evaluation | None = None  # the newest evaluation
        self.has_ref = has_ref = setup.ref_scores[0] is not None
        self.monitor = RunMonitor(
            run_dir,
            self.seeds,
            self.n_cycles,
            has_ref,
            self.console,
            _wandb(cfg),
            data_level=setup.data_level(),
        )
        self.checkpoint_clock = CheckpointClock(cfg.checkpoint_every, cfg.checkpoint_minutes)
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
        self.counters = ckpt.Counters()  # the run's record: replaced, never changed in place

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
        cfg, self.counters, ran = self.cfg, counters, 0
        budget = Budget.of(cfg.method, cfg.cycles, cfg.offline_steps, cfg.online_steps)
        try:
            with (
                self.ctrl_c.installed(),
                self.monitor.open(counters, budget.progress_steps, cfg.progress),
            ):
                for index, phase in enumerate(self.plan):
                    if index < self.counters.next_phase:
                        continue
                    self.ctrl_c.check()
                    if max_phases and ran >= max_phases:
                        self.console.print(
                            f"stopped after {ran} phases; continue with: coopo resume {self.run_dir}"
                        )
                        return RunResult(self.run_dir, finished=False)
                    if phase.kind == "offline":
                        state = self.offline_phase(state, phase)
                    else:
                        state = self.online_phase(state, phase, index)
                    ev = self.evaluate(state, phase, boundary=True)
                    if phase.kind == "offline" and self.has_ref:
                        self.counters = replace(
                            self.counters, anchored_score=float(np.mean(ev.scores))
                        )
                    self._checkpoint(state, index)
                    ran += 1
                self.ctrl_c.check()
            if self.last is None:  # resumed after the last phase: evaluate once more
                self.evaluate(state, self.plan[-1], boundary=False)
            assert self.last is not None
            self.export_policy(state)
            write_results(self.run_dir, self.seeds, self.last, self.counters)
            return self.result()
        finally:
            self.monitor.close()

    def offline_phase(self, state: RunState, phase: Phase) -> RunState:
        """Anchoring: take the online phase's networks (pi_prev), then ``phase.steps`` updates.
        Resumed inside the phase (``phase_step`` > 0), the handoff was made before."""
        c = self.counters
        if c.holder == "online" and c.phase_step == 0:
            state = state.replace(offline=self.to_offline(state.online, state.offline))
        out = self.offline.run(state, phase.steps, c.clock, self._hooks(phase), c.phase_step)
        self.counters = self.counters.at(out.clock, holder="offline", phase_step=0)
        return out.state

    def online_phase(self, state: RunState, phase: Phase, index: int) -> RunState:
        """Fine-tuning from the anchored networks: ``phase.steps`` env steps plus those an
        earlier online phase ended early with; the drift switch may end it early in turn, and
        what it leaves goes to the next one."""
        c = self.counters
        if c.holder == "offline" and c.phase_step == 0:
            state = state.replace(online=self.to_online(state.offline, state.online))
        budget, self.switched = phase.steps + c.online_carry, None
        hooks, host = self._hooks(phase, index), c.phase_host or None
        out = self.online.run(state, budget, index, c.clock, hooks, c.phase_step, host)
        left = budget - out.done
        self.counters = self.counters.at(
            out.clock, holder="online", phase_step=0, phase_host={}, online_carry=left
        )
        if self.switched:
            self.console.print(
                f"cycle {phase.cycle + 1}/{self.n_cycles} online  env {out.clock.env_steps:>7d}: "
                f"back to anchoring early ({self.switched}); the next online phase gets "
                f"{left} more env steps",
                soft_wrap=True,
            )
        return out.state

    def drifted(self, index: int) -> bool:
        """After a mid-phase evaluation of online phase ``index``: end it now? (never the last
        online phase, which has no later one to give its steps to)."""
        if not self.drift.on or index == self.last_online or self.last is None:
            return False
        mse = self.last.metrics.get("data_action_mse")
        self.switched = self.drift.why(
            None if mse is None else float(np.mean(mse)),
            float(np.mean(self.last.scores)) if self.has_ref else None,
            self.counters.anchored_score,
        )
        return self.switched is not None

    def _checkpoint(self, state: RunState, index: int) -> None:
        logger = self.monitor.logger
        assert logger is not None
        logger.flush()
        self.counters = replace(
            self.counters, next_phase=index + 1, phase_step=0, metrics_lines=logger.lines
        )
        ckpt.save(self.run_dir, state, self.counters, self.cfg.keep_checkpoints)
        self.checkpoint_clock.reset()

    def _checkpoint_inside(
        self,
        state: RunState,
        clock: Clock,
        before: int,
        after: int,
        host: Callable[[], dict[str, Any]],
    ) -> None:
        """A checkpoint between two jitted calls of phase ``counters.next_phase``, when due;
        a Ctrl-C that arrived during the call stops the run here if it has not already."""
        self.ctrl_c.check()
        logger = self.monitor.logger
        if logger is None or not self.checkpoint_clock.due(before, after):
            # no logger: the phases are driven outside `run` (behaviour-policy training for a
            # medium-replay build), which has no run to resume and re-runs deterministically
            return
        logger.flush()
        self.counters = self.counters.at(clock, metrics_lines=logger.lines)
        at = replace(self.counters, phase_step=after, phase_host=host())
        ckpt.save(self.run_dir, state, at, self.cfg.keep_checkpoints, ckpt.name_for(at, after))
        self.checkpoint_clock.reset()

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
        monitor = self.monitor
        return PhaseHooks(
            log=lambda prefix, metrics, clock: monitor.train_metrics(prefix, metrics, phase, clock),
            evaluate=lambda state, clock: self.evaluate(state, phase, False, clock),
            progress=lambda clock: monitor.describe(phase, clock, self.last),
            checkpoint=self._checkpoint_inside,
            stop=lambda clock: self.drifted(index),
        )

    # ----------------------------------------------------------------- evaluation, artifacts
    def holder_state(self, state: RunState) -> tuple[str, Any]:
        """(kind, state) of the phase that holds the newest policy."""
        kind = self.counters.holder or self.plan[0].kind
        return kind, (state.offline if kind == "offline" else state.online)

    def evaluate(
        self, state: RunState, phase: Phase, boundary: bool, clock: Clock | None = None
    ) -> Evaluation:
        """Evaluate the newest policy: at a phase's end (``boundary``), or inside a phase at
        ``clock``, where the phase's own algorithm holds it."""
        if clock is not None:
            self.counters = self.counters.at(clock, holder=phase.kind)
        c = self.counters
        kind, algo_state = self.holder_state(state)
        # deterministic actions: the keys are not consumed
        ev = self.evaluator.evaluate(
            self.act[kind], algo_state, state.key, c.eval_round, boundary, self.q_probe[kind]
        )
        self.counters, self.last = replace(c, eval_round=c.eval_round + 1), ev
        self.monitor.write("eval", ev.metrics, phase, c.clock)
        if boundary:
            self.monitor.phase_end(phase, c.clock, ev)
        return ev

    def export_policy(self, state: RunState) -> Path:
        """Save the newest policy into RUN_DIR/policy (:func:`coopo.policy.save_policy`)."""
        kind, algo_state = self.holder_state(state)
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


def _wandb(cfg: TrainConfig) -> WandbOptions | None:
    """Where --wandb sends the run (None without --wandb)."""
    if not cfg.wandb:
        return None
    options = (cfg.wandb_project, cfg.wandb_entity, cfg.wandb_group, cfg.wandb_tags)
    return WandbOptions(*options, config_to_dict(cfg))
