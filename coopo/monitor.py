"""What a run shows and records while it trains: metrics per seed (``metrics.jsonl``,
TensorBoard and, with --wandb, Weights & Biases, through :class:`~coopo.logger.MetricsLogger`,
against env steps), the divergence check, the live
progress display and the line printed at every phase boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from coopo import checkpoint as ckpt
from coopo.evaluation import Evaluation
from coopo.logger import MetricsLogger, WandbOptions
from coopo.schedule import Clock, Phase


class TrainingDiverged(RuntimeError):
    """A loss or metric became NaN/inf; the last checkpoint is left intact."""


class RunMonitor:
    def __init__(
        self,
        run_dir: Path,
        seeds: list[int],
        cycles: int,
        has_ref: bool,
        console: Console,
        wandb: WandbOptions | None = None,
        data_level: float | None = None,
    ) -> None:
        self.run_dir, self.seeds, self.cycles = run_dir, seeds, cycles
        self.has_ref, self.console, self.wandb = has_ref, console, wandb
        # The dataset's own level (its mean episode return, on the evaluations' scale),
        # printed next to every phase-boundary score; None without a dataset.
        self.data_level = data_level
        # Attached by open(); phases can also be driven without them (benchmarks, tests).
        self.logger: MetricsLogger | None = None
        self.progress: Progress | None = None

    def open(self, counters: ckpt.Counters, total_steps: int, show: bool) -> Progress:
        """Start the metrics files (dropping records a resume rewinds past) and the display."""
        resuming = counters.next_phase > 0 or counters.phase_step > 0
        self.logger = MetricsLogger(
            self.run_dir,
            self.seeds,
            keep_lines=counters.metrics_lines if resuming else None,
            purge_step=counters.env_steps if resuming else None,
            wandb=self.wandb,
        )
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        self.progress = Progress(
            *columns, TimeElapsedColumn(), console=self.console, disable=not show
        )
        self.bar = self.progress.add_task("", total=total_steps, completed=counters.progress_steps)
        return self.progress

    def close(self) -> None:
        if self.logger is not None:
            self.logger.close()

    def train_metrics(
        self, prefix: str, metrics: dict[str, Any], phase: Phase, clock: Clock
    ) -> None:
        """Record training metrics; stop the run if any became non-finite."""
        arrays = {k: np.asarray(v) for k, v in metrics.items()}
        for name, value in arrays.items():
            if not np.all(np.isfinite(value)):
                bad = [s for s, v in zip(self.seeds, value, strict=True) if not np.isfinite(v)]
                last = ckpt.latest(self.run_dir)
                raise TrainingDiverged(
                    f"{prefix}/{name} became non-finite (seeds {bad}) in the {phase.kind} phase of cycle "
                    f"{phase.cycle + 1} at env_steps={clock.env_steps}, grad_steps={clock.grad_steps}; "
                    f"last good checkpoint: {last or 'none yet'}"
                )
        self.write(prefix, arrays, phase, clock)

    def write(self, prefix: str, arrays: dict[str, Any], phase: Phase, clock: Clock) -> None:
        """One record per seed of (S,) arrays, with where the run is."""
        if self.logger is None:
            return
        where = {
            "cycle": phase.cycle,
            "phase": phase.kind,
            "env_steps": clock.env_steps,
            "grad_steps": clock.grad_steps,
        }
        for i, seed in enumerate(self.seeds):
            metrics = {f"{prefix}/{k}": float(v[i]) for k, v in arrays.items()}
            self.logger.log(seed, clock.env_steps, where, metrics)

    def describe(self, phase: Phase, clock: Clock, last: Evaluation | None) -> None:
        if self.progress is None:
            return
        if last is None:
            score = "-"
        elif not self.has_ref:
            score = f"return {np.mean(last.returns):.1f}"
        else:
            score = f"{np.mean(last.scores):.1f}"
        self.progress.update(
            self.bar,
            completed=clock.progress_steps,
            description=f"{phase.kind:7s} cycle {phase.cycle + 1}/{self.cycles}  env {clock.env_steps}  score {score}",
        )

    def phase_end(self, phase: Phase, clock: Clock, ev: Evaluation) -> None:
        s = ev.scores if self.has_ref else ev.returns
        spread = f" ± {np.std(s):.1f} ({len(s)} seeds)" if len(s) > 1 else ""
        data = "" if self.data_level is None else f"  (data {self.data_level:.1f})"
        self.console.print(
            f"cycle {phase.cycle + 1}/{self.cycles} {phase.kind:<7s} env {clock.env_steps:>7d} "
            f"grad {clock.grad_steps:>7d}  {'normalized' if self.has_ref else 'return'} "
            f"{np.mean(s):7.1f}{spread}{data}",
            soft_wrap=True,
        )
