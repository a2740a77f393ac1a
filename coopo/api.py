"""The library's two entry points: :func:`train` a new run, :func:`resume` one.

Both drive a :class:`~coopo.runner.Trainer` (the algorithm box) and hold the run directory's
lock while they run; what the run directory holds is :mod:`coopo.run_dir`'s.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
from rich.console import Console
from rich.markup import escape

from coopo import checkpoint as ckpt
from coopo import provenance, resume_check
from coopo.config import TrainConfig, validate_config
from coopo.evaluation import task_name
from coopo.run_dir import RunResult, read_results, read_run_config, record_start, set_aside
from coopo.runlock import RunLock, check_free, interrupted
from coopo.runner import Trainer

__all__ = ["RunResult", "resume", "train"]


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
    record_start(run_dir, cfg, trainer.setup.dataset_info)
    resume_check.record(run_dir)
    provenance.record_run(run_dir)
    try:
        return trainer.run(trainer.init_state(), ckpt.Counters(), cfg.max_phases)
    except KeyboardInterrupt as e:
        raise interrupted(run_dir) from e
    finally:
        trainer.close()
        lock.release()


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
