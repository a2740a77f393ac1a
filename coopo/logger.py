"""Metrics: one JSON line per record (the source of truth for reports) and TensorBoard.

Names are namespaced by phase (``offline/critic_loss``, ``online/episode_return``,
``eval/normalized_score``); every record carries ``seed``, ``cycle``, ``env_steps`` and
``grad_steps``. TensorBoard gets one writer per seed, stepped by offline updates + online env
steps (monotonic over the whole run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tensorboardX import SummaryWriter


class MetricsLogger:
    def __init__(
        self, run_dir: Path, seeds: list[int], keep_lines: int | None, purge_step: int | None
    ) -> None:
        self.path = run_dir / "metrics.jsonl"
        if keep_lines is not None and self.path.exists():
            # Resuming: drop records written after the checkpoint we restart from.
            lines = self.path.read_text().splitlines(keepends=True)[:keep_lines]
            self.path.write_text("".join(lines))
        self.lines = sum(1 for _ in open(self.path)) if self.path.exists() else 0
        self._file = open(self.path, "a")
        self.writers = {
            s: SummaryWriter(
                str(run_dir / "tb" / f"seed_{s}"), purge_step=purge_step, flush_secs=30
            )
            for s in seeds
        }

    def log(
        self, seed: int, step: int, counters: dict[str, Any], metrics: dict[str, float]
    ) -> None:
        record = {"seed": seed, **counters, **{k: _clean(v) for k, v in metrics.items()}}
        self._file.write(json.dumps(record) + "\n")
        self.lines += 1
        w = self.writers[seed]
        for k, v in metrics.items():
            w.add_scalar(k, float(v), step)
        for k in ("env_steps", "cycle"):
            if k in counters:
                w.add_scalar(f"progress/{k}", counters[k], step)

    def flush(self) -> None:
        self._file.flush()
        for w in self.writers.values():
            w.flush()

    def close(self) -> None:
        self._file.close()
        for w in self.writers.values():
            w.close()


def _clean(v: Any) -> Any:
    v = float(v)
    return None if math.isnan(v) else v


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    with open(Path(run_dir) / "metrics.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]
