"""Metrics: one JSON line per record (the source of truth for reports) and scalar sinks.

Names are namespaced by phase (``offline/critic_loss``, ``online/episode_return``,
``eval/normalized_score``); every record carries ``seed``, ``cycle``, ``env_steps`` and
``grad_steps``.

One logger, two sinks that receive the same scalars against the same step axis, **online env
steps** (per seed), as other RL libraries plot them:

- TensorBoard (always): one event directory per seed, ``RUN_DIR/tb/seed_S``;
- Weights & Biases (``--wandb``, the ``wandb`` extra): one W&B run per seed, grouped, with
  ``env_steps`` as the step metric. ``WANDB_MODE=offline`` writes it locally without network
  (``wandb sync`` uploads it later).

An offline phase does not advance env steps, so its records sit at the env step count where
the phase runs (all of the first phase at 0), with ``progress/grad_steps`` logged beside them
to order them.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tensorboardX import SummaryWriter


@dataclass(frozen=True)
class WandbOptions:
    """Where a run's W&B runs go (one per seed)."""

    project: str = "coopo"
    entity: str | None = None
    group: str = ""
    """W&B group of the seeds' runs (default: the run directory's name)."""
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    """The run's resolved config, shown in W&B."""


class Sink(Protocol):
    """Where scalars go: ``write`` one seed's scalars at one step (env steps)."""

    def write(self, seed: int, step: int, scalars: dict[str, float]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class TensorBoardSink:
    def __init__(self, run_dir: Path, seeds: list[int], purge_step: int | None) -> None:
        self.writers = {
            s: SummaryWriter(
                str(run_dir / "tb" / f"seed_{s}"), purge_step=purge_step, flush_secs=30
            )
            for s in seeds
        }

    def write(self, seed: int, step: int, scalars: dict[str, float]) -> None:
        w = self.writers[seed]
        for k, v in scalars.items():
            w.add_scalar(k, v, step)

    def flush(self) -> None:
        for w in self.writers.values():
            w.flush()

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


class WandbSink:
    """One W&B run per seed; a resumed coopo run continues the same W&B runs (ids are kept in
    ``RUN_DIR/wandb.json``). W&B cannot drop what an interrupted process logged after its last
    checkpoint, so those rows stay there (metrics.jsonl and TensorBoard drop them)."""

    STEP = "env_steps"

    def __init__(self, run_dir: Path, seeds: list[int], options: WandbOptions) -> None:
        from coopo import extras

        extras.require("wandb", "--wandb")
        import wandb

        ids_file = run_dir / "wandb.json"
        ids: dict[str, str] = json.loads(ids_file.read_text()) if ids_file.is_file() else {}
        group = options.group or run_dir.resolve().name
        self.runs: dict[int, Any] = {}
        for s in seeds:
            run_id = ids.get(str(s)) or f"{_slug(group)}-seed{s}-{secrets.token_hex(4)}"
            ids[str(s)] = run_id
            run = wandb.init(
                project=options.project,
                entity=options.entity,
                group=group,
                tags=list(options.tags),
                name=f"{group}-seed{s}",
                id=run_id,
                resume="allow",
                dir=str(run_dir),
                config={**options.config, "seed": s},
                reinit="create_new",
                # Do not mirror the terminal: the progress display stays coopo's own.
                settings=wandb.Settings(console="off"),
            )
            run.define_metric(self.STEP)
            run.define_metric("*", step_metric=self.STEP)
            self.runs[s] = run
        ids_file.write_text(json.dumps(ids, indent=1))

    def write(self, seed: int, step: int, scalars: dict[str, float]) -> None:
        self.runs[seed].log({**scalars, self.STEP: step})

    def flush(self) -> None:
        pass  # W&B writes in the background

    def close(self) -> None:
        for run in self.runs.values():
            run.finish()


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", s)[:64]


class MetricsLogger:
    def __init__(
        self,
        run_dir: Path,
        seeds: list[int],
        keep_lines: int | None,
        purge_step: int | None,
        wandb: WandbOptions | None = None,
    ) -> None:
        """``keep_lines``/``purge_step``: resuming, keep the first ``keep_lines`` records (those
        written before the checkpoint) and drop every sink event at env steps >= ``purge_step``;
        the kept records at those env steps are written to the sinks again."""
        self.path = run_dir / "metrics.jsonl"
        replay: list[dict[str, Any]] = []
        if keep_lines is not None and self.path.exists():
            # Resuming: drop records written after the checkpoint we restart from.
            lines = self.path.read_text().splitlines(keepends=True)[:keep_lines]
            self.path.write_text("".join(lines))
            if purge_step is not None:
                replay = [r for r in map(json.loads, lines) if r.get("env_steps", 0) >= purge_step]
        self.lines = sum(1 for _ in open(self.path)) if self.path.exists() else 0
        self._file = open(self.path, "a")
        self.sinks: list[Sink] = [TensorBoardSink(run_dir, seeds, purge_step)]
        if wandb is not None:
            self.sinks.append(WandbSink(run_dir, seeds, wandb))
        for record in replay:  # TensorBoard purged them with the lost ones: write them back
            self.sinks[0].write(record["seed"], record["env_steps"], _scalars(record))

    def log(
        self, seed: int, step: int, counters: dict[str, Any], metrics: dict[str, float]
    ) -> None:
        """One record: ``step`` is the env step count (the sinks' x axis)."""
        record = {"seed": seed, **counters, **{k: _clean(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self.lines += 1
        scalars = _scalars(record)
        for sink in self.sinks:
            sink.write(seed, step, scalars)

    def flush(self) -> None:
        self._file.flush()
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        self._file.close()
        for sink in self.sinks:
            sink.close()


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """A record's metrics plus its progress counters, as the sinks receive them."""
    out = {
        k: float(v) if v is not None else math.nan
        for k, v in record.items()
        if "/" in k and isinstance(v, int | float | None)
    }
    for k in ("grad_steps", "cycle"):
        if k in record:
            out[f"progress/{k}"] = float(record[k])
    return out


def _clean(v: Any) -> Any:
    v = float(v)
    return None if math.isnan(v) else v


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    with open(Path(run_dir) / "metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]
