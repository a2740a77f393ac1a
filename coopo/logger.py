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

import errno
import json
import math
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tensorboardX import SummaryWriter

from coopo import jsonfile
from coopo.jsonfile import METRICS, read_metrics  # noqa: F401  (coopo.logger.read_metrics, as before)


class LoggingError(RuntimeError):
    """Metrics could not be written (a full disk, a lost mount); the message says what is intact."""


def _why(e: OSError) -> str:
    code = errno.errorcode.get(e.errno, "") if e.errno else ""
    return f"{e.strerror or e} ({code})" if code else str(e)


class _Guard:
    """Wraps a tensorboardX event file so that an OSError in its writer thread or its atexit
    handler is kept, not raised there (where it would print a traceback and lose the reason):
    the sink raises it in the main thread at its next flush, and nothing is written after it."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.error: OSError | None = None
        for name in ("write_event", "flush", "close"):
            setattr(target, name, self._guarded(getattr(target, name)))

    def _guarded(self, fn: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            if self.error is not None:
                return None
            try:
                return fn(*args, **kw)
            except OSError as e:
                self.error = e
                return None

        return call


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
        # tensorboardX's event file (written by a thread, closed again at exit): guarded, if
        # this version has it where 2.6 has it; otherwise errors surface as tensorboardX raises
        events = [
            getattr(getattr(w.file_writer, "event_writer", None), "_ev_writer", None)
            for w in self.writers.values()
        ]
        self.guards = [_Guard(e) for e in events if e is not None and hasattr(e, "write_event")]

    def write(self, seed: int, step: int, scalars: dict[str, float]) -> None:
        w = self.writers[seed]
        for k, v in scalars.items():
            w.add_scalar(k, v, step)

    def _raise(self) -> None:
        for g in self.guards:
            if g.error is not None:
                raise g.error

    def flush(self) -> None:
        for w in self.writers.values():
            w.flush()
        self._raise()

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self._raise()


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
        self.path = run_dir / METRICS
        replay: list[dict[str, Any]] = []
        if keep_lines is not None and self.path.exists():
            # Resuming: drop records written after the checkpoint we restart from.
            lines = self.path.read_text().splitlines(keepends=True)[:keep_lines]
            self.path.write_text("".join(lines))
            if purge_step is not None:
                replay = [r for r in map(json.loads, lines) if r.get("env_steps", 0) >= purge_step]
        self.lines = sum(1 for _ in open(self.path)) if self.path.exists() else 0
        # Unbuffered: each record is one write, so a full disk is met by the record that
        # does not fit (and said at once), not by a buffer flushed later or at exit.
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.failed: LoggingError | None = None
        self.run_dir = run_dir
        self.sinks: list[Sink] = [TensorBoardSink(run_dir, seeds, purge_step)]
        if wandb is not None:
            self.sinks.append(WandbSink(run_dir, seeds, wandb))
        for record in replay:  # TensorBoard purged them with the lost ones: write them back
            self.sinks[0].write(record["seed"], record["env_steps"], _scalars(record))

    def _failure(self, what: Path, e: OSError) -> LoggingError:
        """The one-line error for a write that failed, naming what is intact; the logger
        writes nothing more."""
        from coopo import checkpoint as ckpt

        last = ckpt.latest(self.run_dir)
        kept = (
            f"the last checkpoint {last} is intact (with metrics.jsonl up to it); free some "
            f"space, then continue with `coopo resume {self.run_dir}`"
            if last
            else f"there is no checkpoint yet; free some space, then `coopo resume "
            f"{self.run_dir}` starts the run again from the beginning"
        )
        self.failed = LoggingError(f"could not write {what}: {_why(e)}; {kept}")
        return self.failed

    def log(
        self, seed: int, step: int, counters: dict[str, Any], metrics: dict[str, float]
    ) -> None:
        """One record: ``step`` is the env step count (the sinks' x axis)."""
        if self.failed is not None:
            raise self.failed
        record = {"seed": seed, **counters, **{k: _clean(v) for k, v in metrics.items()}}
        data = (jsonfile.dumps(record) + "\n").encode()
        try:
            assert self._fd is not None
            _append(self._fd, data)
        except OSError as e:
            raise self._failure(self.path, e) from None
        self.lines += 1
        scalars = _scalars(record)
        for sink in self.sinks:
            sink.write(seed, step, scalars)

    def flush(self) -> None:
        if self.failed is not None:
            raise self.failed
        for sink in self.sinks:
            try:
                sink.flush()
            except OSError as e:
                raise self._failure(self.run_dir / "tb", e) from None

    def close(self) -> None:
        """Close every sink; after a failure (already raised) quietly."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        for sink in self.sinks:
            try:
                sink.close()
            except OSError as e:
                if self.failed is None:
                    raise self._failure(self.run_dir / "tb", e) from None


def _append(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (os.write may write less than asked)."""
    while data:
        data = data[os.write(fd, data) :]


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
