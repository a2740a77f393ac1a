"""Phase-boundary checkpoints: everything needed to continue a run exactly.

A checkpoint is a directory ``checkpoints/phase-NNN`` holding ``state.msgpack`` (parameters,
optimizer states, target networks, the replay buffers, RNG keys; flax serialisation) and
``counters.json``. It is written under a temporary name and renamed into place, and
``checkpoints/latest`` is replaced atomically afterwards, so a crash never leaves a partial
checkpoint where a reader would find it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flax import serialization


@dataclass
class Counters:
    """Host-side progress, saved with every checkpoint."""

    next_phase: int = 0
    env_steps: int = 0  # online env steps per seed
    grad_steps: int = 0  # all gradient updates (offline + online)
    progress_steps: int = 0  # offline updates + online env steps: the TensorBoard x-axis
    eval_round: int = 0
    holder: str = ""  # which phase kind holds the newest policy: '', 'offline', 'online'
    metrics_lines: int = 0  # lines of metrics.jsonl written when this checkpoint was taken


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(run_dir: Path, state: Any, counters: Counters, keep: int) -> Path:
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"phase-{counters.next_phase:03d}"
    tmp, final = root / (name + ".tmp"), root / name
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _write_atomic(tmp / "state.msgpack", serialization.to_bytes(state))
    _write_atomic(tmp / "counters.json", json.dumps(asdict(counters)).encode())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _write_atomic(root / "latest", name.encode())
    existing = sorted(p for p in root.glob("phase-*") if p.is_dir() and not p.name.endswith(".tmp"))
    for old in existing[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest(run_dir: Path) -> Path | None:
    pointer = run_dir / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    path = run_dir / "checkpoints" / pointer.read_text().strip()
    return path if (path / "state.msgpack").is_file() else None


def restore(path: Path, template: Any) -> tuple[Any, Counters]:
    """Restore onto ``template`` (a freshly initialised state of the same config)."""
    try:
        state = serialization.from_bytes(template, (path / "state.msgpack").read_bytes())
        counters = Counters(**json.loads((path / "counters.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(
            f"checkpoint {path} is unreadable or does not match the config: {e}"
        ) from e
    return state, counters
