"""Checkpoints: everything needed to continue a run exactly, written so that nothing is lost.

A checkpoint is a directory ``checkpoints/phase-NNN`` holding

- ``state.bin``: the raw bytes of every leaf of the run state (parameters, optimizer states,
  target networks, the replay buffers, RNG keys), one after another in pytree order;
- ``manifest.json``: the format version, the counters, and per leaf its pytree path, shape,
  dtype, byte offset, size and CRC-32; and a CRC-32 of the manifest itself (``manifest_crc32``,
  over its other fields in canonical JSON), so a damaged manifest is caught like damaged data.

Why this layout (measured by ``benchmarks/checkpoint_cost.py``):

- **Peak memory.** The state is streamed to the file leaf by leaf, a large leaf (a seed's 1M-row
  replay buffer) in slices of at most :data:`CHUNK_BYTES`, so a checkpoint never holds more than
  one slice in host memory besides the state itself. The previous format serialised the whole
  state into one msgpack byte string first, which doubled the process's memory at every
  checkpoint (gigabytes at D4RL scale with 10 seeds). Restoring reads leaf by leaf too, onto a
  shape-only template (``jax.eval_shape``), so a resume never holds two states either.
- **Atomic.** Everything is written into ``<name>.tmp`` and fsynced, then the directory is
  renamed into place and the parent fsynced: a reader finds complete checkpoints or none.
  ``latest`` names the newest one (kept for tools; readers list the directories).
- **Verified.** Every leaf's CRC-32 is checked on restore (CRC-32 runs at ~1.7 GB/s here, SHA-256
  at ~0.7 GB/s; the threat is a torn or bit-rotted file, not an adversary), and so is the
  manifest's; the manifest's structure is checked too (every field present with its type, the
  leaves back to back, sizes that fit their shapes), which is all an older manifest without its
  own checksum gets. A checkpoint that fails verification or does not parse, for any reason,
  is moved aside to ``<name>.corrupt`` with a message and the previous one is used, so a bad
  checkpoint never turns into a crash loop. A checkpoint that verifies but holds another
  config's state (:class:`CheckpointMismatch`) is an error instead: falling back past it would
  silently throw work away.
- **Not orbax.** orbax-checkpoint (installed with flax) also writes leaf by leaf, but verifies
  no checksum on restore, and its asynchronous writer and tensorstore layout (a directory per
  leaf) are more machinery than one sequential file needs.

Directories written by the previous format (``state.msgpack`` + ``counters.json``, no
checksum) still restore.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import jax
import numpy as np

from coopo.paths import replace_dir
from coopo.schedule import Clock

FORMAT = 3
"""Manifest format written: 3 adds ``manifest_crc32``; 2 (without it) still restores."""
READ_FORMATS = (2, 3)
CHUNK_BYTES = 64 << 20
"""Largest slice of a leaf copied to host memory at once while writing."""

_NAME = re.compile(r"^phase-(\d+)(?:-step-(\d+))?$")


@dataclass(frozen=True)
class Counters:
    """Host-side progress, saved with every checkpoint; the runner makes a new one at each
    step it records (phases see only the :class:`~coopo.schedule.Clock`)."""

    next_phase: int = 0
    env_steps: int = 0  # online env steps per seed
    grad_steps: int = 0  # all gradient updates (offline + online)
    progress_steps: int = 0  # offline updates + online env steps: the progress bar
    eval_round: int = 0
    holder: str = ""  # which phase kind holds the newest policy: '', 'offline', 'online'
    metrics_lines: int = 0  # lines of metrics.jsonl written when this checkpoint was taken
    phase_step: int = 0  # updates / env steps done in phase ``next_phase`` (0: at its start)
    phase_host: dict[str, Any] = field(default_factory=dict)  # an online phase's host state
    online_carry: int = 0  # env steps an online phase ended early with, owed to the next one
    anchored_score: float | None = None  # mean score at the end of the last offline phase

    @property
    def clock(self) -> Clock:
        return Clock(self.env_steps, self.grad_steps, self.progress_steps)

    def at(self, clock: Clock, **changes: Any) -> Counters:
        """These counters moved to ``clock``, with other ``changes``."""
        return replace(self, **vars(clock), **changes)


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or restored; the message says which and why."""


class CheckpointCorrupt(CheckpointError):
    """A checkpoint whose files are truncated, unreadable or fail their checksum."""


class CheckpointMismatch(CheckpointError):
    """A readable checkpoint whose state does not fit the run's config."""


class NoUsableCheckpoint(CheckpointError):
    """Every checkpoint of a run failed verification (each was moved aside)."""


# ----------------------------------------------------------------------------- listing
def _key(path: Path) -> tuple[int, int]:
    m = _NAME.match(path.name)
    assert m is not None
    return int(m.group(1)), int(m.group(2) or -1)


def checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint directories of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if _NAME.match(p.name) and p.is_dir()]
    return sorted(
        (p for p in found if (p / "manifest.json").is_file() or (p / "state.msgpack").is_file()),
        key=_key,
    )


def latest(run_dir: Path) -> Path | None:
    """The newest complete checkpoint directory (not yet verified), or None."""
    found = checkpoints(run_dir)
    return found[-1] if found else None


# ----------------------------------------------------------------------------- writing
def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _host_chunks(x: Any) -> Iterator[np.ndarray]:
    """``x`` as C-ordered host arrays of at most CHUNK_BYTES each (one copy of one slice)."""
    shape = tuple(np.shape(x))
    itemsize = np.dtype(x.dtype).itemsize
    nbytes = int(np.prod(shape, dtype=np.int64)) * itemsize
    if nbytes <= CHUNK_BYTES or not shape:
        yield np.ascontiguousarray(np.asarray(x))
        return
    row = nbytes // shape[0]
    if row > CHUNK_BYTES and len(shape) > 1:
        for i in range(shape[0]):
            yield from _host_chunks(x[i])
        return
    step = max(1, CHUNK_BYTES // max(row, 1))
    for start in range(0, shape[0], step):
        yield np.ascontiguousarray(np.asarray(x[start : start + step]))


def _bytes_of(a: np.ndarray) -> memoryview:
    """The bytes of a C-contiguous array, without a copy (any dtype, bfloat16 included)."""
    return a.reshape(-1).view(np.uint8).data


def _leaf_path(path: tuple[Any, ...]) -> str:
    """``offline/critic/params/Dense_0/kernel``: readable in messages (no brackets)."""
    parts = []
    for k in path:
        for attr in ("key", "name", "idx"):
            if hasattr(k, attr):
                parts.append(str(getattr(k, attr)))
                break
        else:
            parts.append(str(k))
    return "/".join(parts)


def write_state(file: Path, state: Any) -> list[dict[str, Any]]:
    """Stream every leaf of ``state`` into ``file``; returns the manifest entries."""
    entries: list[dict[str, Any]] = []
    offset = 0
    with open(file, "wb") as f:
        for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
            crc, size = 0, 0
            for chunk in _host_chunks(leaf):
                view = _bytes_of(chunk)
                crc = zlib.crc32(view, crc)
                f.write(view)
                size += view.nbytes
            entries.append(
                {
                    "path": _leaf_path(path),
                    "shape": list(np.shape(leaf)),
                    "dtype": np.dtype(leaf.dtype).name,  # bfloat16 too (its .str is <V2)
                    "offset": offset,
                    "nbytes": size,
                    "crc32": crc,
                }
            )
            offset += size
        f.flush()
        os.fsync(f.fileno())
    return entries


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Let a checkpoint being written finish before Ctrl-C takes effect (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:  # deliver it now, as the handler in place would have
            if previous is signal.default_int_handler:
                raise KeyboardInterrupt
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGINT)
            # SIG_IGN: the process ignores Ctrl-C, and so does this


def name_for(counters: Counters, step: int | None = None) -> str:
    """``phase-NNN`` at a phase boundary, ``phase-NNN-step-SSSSSSSSS`` inside phase NNN."""
    base = f"phase-{counters.next_phase:03d}"
    return base if step is None else f"{base}-step-{step:09d}"


def save(run_dir: Path, state: Any, counters: Counters, keep: int, name: str | None = None) -> Path:
    """Write a checkpoint atomically; keep the newest ``keep``. A failed write (disk full,
    read-only directory) removes its partial files and raises :class:`CheckpointError` naming
    the intact previous checkpoint."""
    root = Path(run_dir) / "checkpoints"
    name = name or name_for(counters)
    tmp, final = root / (name + ".tmp"), root / name
    previous = latest(run_dir)
    with _sigint_deferred():
        try:
            root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            leaves = write_state(tmp / "state.bin", state)
            manifest: dict[str, Any] = {
                "format": FORMAT,
                "counters": asdict(counters),
                "leaves": leaves,
            }
            manifest["manifest_crc32"] = manifest_crc32(manifest)
            with open(tmp / "manifest.json", "w") as f:
                f.write(json.dumps(manifest, allow_nan=False))
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(tmp)
            replace_dir(tmp, final)  # the same checkpoint again (a resumed run): swapped safely
            _fsync_dir(root)
            _write_atomic(root / "latest", name.encode())
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            why = os.strerror(e.errno) if e.errno else str(e)
            code = f" ({errno.errorcode.get(e.errno, e.errno)})" if e.errno else ""
            kept = (
                f"the previous checkpoint {previous} is intact"
                if previous
                else "no earlier checkpoint exists"
            )
            raise CheckpointError(f"could not write checkpoint {final}: {why}{code}; {kept}") from e
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


# ----------------------------------------------------------------------------- reading
def manifest_crc32(manifest: dict[str, Any]) -> int:
    """CRC-32 of a manifest's fields other than ``manifest_crc32``, in canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != "manifest_crc32"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return zlib.crc32(text.encode())


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_leaves(entries: Any) -> None:
    """Each leaf entry complete and typed, the leaves back to back in state.bin, each size
    what its shape and dtype need."""
    if not isinstance(entries, list):
        raise ValueError("'leaves' is not a list")
    offset = 0
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ValueError(f"leaf {i} is not an object")
        for key, ok in (
            ("path", lambda v: isinstance(v, str)),
            ("shape", lambda v: isinstance(v, list) and all(_is_int(d) and d >= 0 for d in v)),
            ("dtype", lambda v: isinstance(v, str)),
            ("offset", lambda v: _is_int(v) and v >= 0),
            ("nbytes", lambda v: _is_int(v) and v >= 0),
            ("crc32", lambda v: _is_int(v) and 0 <= v < 2**32),
        ):
            if key not in e:
                raise ValueError(f"leaf {i} has no {key!r}")
            if not ok(e[key]):
                raise ValueError(f"leaf {i}: {key!r} is {e[key]!r}")
        try:
            itemsize = np.dtype(e["dtype"]).itemsize
        except TypeError as err:
            raise ValueError(f"leaf {i}: unknown dtype {e['dtype']!r}") from err
        if e["nbytes"] != int(np.prod(e["shape"], dtype=np.int64)) * itemsize:
            raise ValueError(f"leaf {i}: {e['nbytes']} bytes do not fit shape {e['shape']}")
        if e["offset"] != offset:
            raise ValueError(f"leaf {i}: offset {e['offset']}, expected {offset}")
        offset += e["nbytes"]


def _check_counters(counters: Any) -> Counters:
    if not isinstance(counters, dict):
        raise ValueError("'counters' is not an object")
    c = Counters(**counters)
    for f in fields(Counters):
        v = getattr(c, f.name)
        want = {"phase_host": dict, "holder": str}.get(f.name, int)
        if f.name == "anchored_score":
            ok = v is None or (isinstance(v, int | float) and not isinstance(v, bool))
        else:
            ok = isinstance(v, want) and not (want is int and (isinstance(v, bool) or v < 0))
        if not ok:
            raise ValueError(f"counter {f.name!r} is {v!r}")
    return c


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest, verified (its own CRC-32 from format 3 on) and checked field by field."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
        if manifest.get("format") not in READ_FORMATS:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        if manifest["format"] >= 3:
            crc = manifest.get("manifest_crc32")
            if crc != manifest_crc32(manifest):
                raise ValueError(f"checksum mismatch (manifest_crc32 {crc!r})")
        _check_counters(manifest.get("counters"))
        _check_leaves(manifest.get("leaves"))
        return dict(manifest)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointCorrupt(f"manifest.json is unreadable ({e})") from e


def restore(path: Path, template: Any) -> tuple[Any, Counters]:
    """Restore onto ``template``: a state of the same config, or its shapes (``jax.eval_shape``).

    Raises :class:`CheckpointCorrupt` (truncated, checksum mismatch) or
    :class:`CheckpointMismatch` (another config's state)."""
    path = Path(path)
    if not (path / "manifest.json").exists() and (path / "state.msgpack").is_file():
        return _restore_msgpack(path, template)
    manifest = _read_manifest(path)
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    entries = manifest["leaves"]
    if len(entries) != len(flat):
        raise CheckpointMismatch(
            f"checkpoint {path} holds {len(entries)} arrays, the run's state has {len(flat)}: "
            "it was written with another config or another version of coopo (the run's "
            "provenance.json records which)"
        )
    leaves = []
    data = path / "state.bin"
    try:
        with open(data, "rb") as f:
            for (kp, want), entry in zip(flat, entries, strict=True):
                name, shape = _leaf_path(kp), tuple(np.shape(want))
                dtype = np.dtype(want.dtype)
                if (
                    entry["path"] != name
                    or tuple(entry["shape"]) != shape
                    or entry["dtype"] != dtype.name
                ):
                    raise CheckpointMismatch(
                        f"checkpoint {path} does not match the config at {name}: saved "
                        f"{entry['path']} {tuple(entry['shape'])} {entry['dtype']}, "
                        f"expected {shape} {dtype.name}"
                    )
                f.seek(entry["offset"])
                arr = np.empty(shape, dtype)
                view = _bytes_of(arr)
                got = f.readinto(view) if arr.nbytes else 0
                if got != entry["nbytes"] or got != arr.nbytes:
                    raise CheckpointCorrupt(
                        f"state.bin is truncated at {name} ({got} of {entry['nbytes']} bytes)"
                    )
                if zlib.crc32(view) != entry["crc32"]:
                    raise CheckpointCorrupt(f"checksum mismatch in {name}")
                leaves.append(jax.device_put(arr))
                del arr, view
    except OSError as e:
        raise CheckpointCorrupt(f"state.bin is unreadable ({e})") from e
    return jax.tree_util.tree_unflatten(treedef, leaves), Counters(**manifest["counters"])


def _restore_msgpack(path: Path, template: Any) -> tuple[Any, Counters]:
    """A checkpoint of the previous format (one msgpack string, no checksum)."""
    from flax import serialization

    try:
        raw = (path / "state.msgpack").read_bytes()
        counters = Counters(**json.loads((path / "counters.json").read_text()))
        state = serialization.from_bytes(template, raw)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointCorrupt(f"state.msgpack/counters.json is unreadable ({e})") from e
    # from_bytes accepts arrays of any shape; a wrong one is another config's checkpoint.
    for (kp, want), got in zip(
        jax.tree_util.tree_flatten_with_path(template)[0],
        jax.tree_util.tree_leaves(state),
        strict=True,
    ):
        if np.shape(want) != np.shape(got):
            raise CheckpointMismatch(
                f"checkpoint {path} does not match the config at {_leaf_path(kp)}"
            )
    return state, counters


def restore_latest(
    run_dir: Path, template: Any, say: Callable[[str], None] = print
) -> tuple[Any, Counters, Path]:
    """Restore the newest checkpoint that verifies. One that does not is moved aside to
    ``<name>.corrupt`` (so the next attempt does not meet it again) and the previous one is
    tried, with a message for each."""
    found = checkpoints(run_dir)
    if not found:
        raise CheckpointError(f"{run_dir} has no checkpoint")
    while found:
        path = found.pop()
        try:
            state, counters = restore(path, template)
            return state, counters, path
        except CheckpointCorrupt as e:
            aside = path.with_name(path.name + ".corrupt")
            shutil.rmtree(aside, ignore_errors=True)
            try:
                os.replace(path, aside)
                moved = f"moved to {aside.name}"
            except OSError:
                moved = "left in place (could not move it)"
            nxt = f"falling back to {found[-1].name}" if found else "no earlier checkpoint left"
            say(f"checkpoint {path} is corrupt: {e}; {moved}; {nxt}")
    raise NoUsableCheckpoint(
        f"{run_dir} has no usable checkpoint (all failed verification and were moved aside); "
        f"`coopo resume {run_dir}` starts the run again from the beginning"
    )
