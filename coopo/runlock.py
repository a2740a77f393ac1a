"""One writer per run directory: an OS file lock held for the run's life.

``RUN_DIR/lock`` is locked with ``fcntl.flock`` by whichever process trains the run (``coopo
train``, ``coopo resume``, a ``coopo bench`` worker). The kernel releases the lock when that
process exits, however it exits (``kill -9`` included), so a stale lock file never blocks a
later resume. A second writer is refused with one line naming the holder's pid and host, read
from the lock file. The lock is re-entrant within a process (a bench worker locks the run
directory, then trains it through :func:`coopo.train`, which locks it again).

``flock`` locks are local to a machine unless the filesystem forwards them (NFS v4 does; some
network filesystems do not): on a shared filesystem without lock support two machines can still
both write one run directory.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOCK_FILE = "lock"


class RunLocked(RuntimeError):
    """Another process is writing this run directory."""


_held: dict[Path, tuple[int, int]] = {}  # resolved run dir -> (fd, depth)


class RunLock:
    """The lock on one run directory; :meth:`release` (or the process's exit) frees it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.released = False

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike[str]) -> RunLock:
        lock = cls(Path(run_dir))
        key = lock.run_dir
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
            return lock
        key.mkdir(parents=True, exist_ok=True)
        path = key / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(
                f"{run_dir} is in use by {holder(key)}; wait for it or stop it"
            ) from None
        except OSError:
            os.close(fd)
            raise
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        _held[key] = (fd, 1)
        return lock

    def release(self) -> None:
        if self.released or self.run_dir not in _held:
            return
        self.released = True
        fd, depth = _held[self.run_dir]
        if depth > 1:
            _held[self.run_dir] = (fd, depth - 1)
            return
        del _held[self.run_dir]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_free(run_dir: str | os.PathLike[str]) -> None:
    """Raise :class:`RunLocked`, naming the holder, if another process writes ``run_dir``.

    Writes nothing (the lock file is not created or rewritten): ``coopo resume`` and ``coopo
    train`` ask this first, before they look at what the directory holds, so a live run is
    named as such whatever its checkpoints; they take the lock itself later."""
    key = Path(run_dir).resolve()
    path = key / LOCK_FILE
    if key in _held or not path.is_file():
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # unreadable: RunLock.acquire will say why
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError:
        raise RunLocked(f"{run_dir} is in use by {holder(key)}; wait for it or stop it") from None
    except OSError:
        pass  # a filesystem without flock: RunLock.acquire reports it
    finally:
        os.close(fd)


def holder(run_dir: Path) -> str:
    """'pid P on host H (since ...)' from the lock file, as far as it can be read."""
    try:
        rec = json.loads((Path(run_dir) / LOCK_FILE).read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rec["since"]))
        return f"pid {rec['pid']} on host {rec['host']} (since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its pid and host are not readable yet)"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) during a run, with where the run can be continued from."""


class CtrlC:
    """Ctrl-C that no code between the signal and the runner can lose.

    Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens
    to be, and a bare ``except:`` there swallows it (JAX's tracing has several, e.g. in
    ``lax.broadcast_shapes``), so a Ctrl-C pressed while a phase compiles could vanish and the
    run go on to the end. While :meth:`installed`, a SIGINT still raises at once, and is also
    remembered: :meth:`check`, called by the runner between two jitted calls and at every
    phase boundary, raises it again. The handler is only put in place over Python's default
    one, in the main thread: an ignored SIGINT stays ignored, and an embedding program's own
    handler is left alone (:meth:`check` then never raises).

    A SIGINT that lands in a garbage-collector callback or a ``__del__`` (JAX registers one,
    ``_xla_gc_callback``) raises where Python cannot propagate it and would print it as an
    "Exception ignored" traceback; while installed, such an unraisable KeyboardInterrupt is
    dropped instead, since it is remembered and :meth:`check` raises it again.
    """

    def __init__(self) -> None:
        self.requested = False

    def _handler(self, signum: int, frame: object) -> None:
        self.requested = True
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[CtrlC]:
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handler)
        previous_hook = sys.unraisablehook

        def hook(unraisable: Any) -> None:
            if not (self.requested and isinstance(unraisable.exc_value, KeyboardInterrupt)):
                previous_hook(unraisable)

        sys.unraisablehook = hook
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
            sys.unraisablehook = previous_hook

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a Ctrl-C arrived (even one swallowed on its way)."""
        if self.requested:
            raise KeyboardInterrupt


def interrupted(run_dir: str | os.PathLike[str]) -> RunInterrupted:
    """The message for a run stopped by Ctrl-C: its last good checkpoint and how to continue."""
    from coopo import checkpoint

    last = checkpoint.latest(Path(run_dir))
    if last is None:
        return RunInterrupted(
            f"interrupted before the first checkpoint of {run_dir}; `coopo resume {run_dir}` "
            "starts it again from the beginning"
        )
    return RunInterrupted(
        f"interrupted; the last checkpoint {last} is intact; continue with: coopo resume {run_dir}"
    )
