"""Checkpoint storage: streamed leaf by leaf, atomic, verified on restore, and what happens when
the disk fills, the directory is read-only, a file is corrupted or Ctrl-C arrives mid-write."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import serialization

from coopo import checkpoint as ckpt
from coopo.buffers import replay_init
from coopo.checkpoint import CheckpointCorrupt, CheckpointError, CheckpointMismatch, Counters


def make_state(seed: int = 0, rows: int = 2_000) -> dict:
    """A run-state-shaped pytree: parameters, an optimizer-like tuple, a replay buffer, keys."""
    k = jax.random.PRNGKey(seed)
    buf = replay_init(5, 2, rows, batch_shape=(3,))
    buf = buf.replace(
        data=buf.data.replace(observations=jax.random.normal(k, buf.data.observations.shape)),
        size=jnp.full((3,), rows // 2, jnp.int32),
    )
    return {
        "params": {"w": jax.random.normal(k, (3, 7, 4)), "b": jnp.arange(3.0)},
        "opt": (jnp.zeros((), jnp.int32), jnp.ones((3, 4), jnp.bfloat16)),
        "buffer": buf,
        "key": jax.vmap(jax.random.PRNGKey)(jnp.arange(3)),
    }


def assert_same(a, b) -> None:
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb, strict=True):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def save_two(run: Path) -> tuple[dict, dict]:
    first, second = make_state(0), make_state(1)
    ckpt.save(run, first, Counters(next_phase=1, env_steps=10), keep=3)
    ckpt.save(run, second, Counters(next_phase=2, env_steps=20), keep=3)
    return first, second


def template() -> dict:
    return jax.eval_shape(make_state)


# ----------------------------------------------------------------------------- format
def test_round_trip_is_exact_onto_a_shape_only_template(tmp_path: Path):
    state = make_state()
    path = ckpt.save(tmp_path, state, Counters(next_phase=3, grad_steps=7), keep=2)
    assert (
        path.name == "phase-003"
        and (tmp_path / "checkpoints" / "latest").read_text() == "phase-003"
    )
    back, counters = ckpt.restore(path, template())
    assert_same(state, back)
    assert counters == Counters(next_phase=3, grad_steps=7)
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.endswith(".tmp")]


def test_state_is_streamed_in_bounded_slices_never_serialised_whole(tmp_path: Path, monkeypatch):
    """Peak memory: no byte string of the whole state, and no host copy larger than a slice."""
    monkeypatch.setattr(ckpt, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(serialization, "to_bytes", lambda *a: pytest.fail("whole-state bytes"))
    largest = []
    real = ckpt._host_chunks

    def spy(x):
        for chunk in real(x):
            largest.append(chunk.nbytes)
            yield chunk

    monkeypatch.setattr(ckpt, "_host_chunks", spy)
    state = make_state()  # the buffer's observations leaf is 3 * 2000 * 5 * 4 = 120 kB
    path = ckpt.save(tmp_path, state, Counters(), keep=1)
    assert max(largest) <= 4096
    assert_same(state, ckpt.restore(path, template())[0])


def test_keeps_the_newest_checkpoints_in_phase_and_step_order(tmp_path: Path):
    """``phase-002`` starts phase 2 and ``phase-002-step-S`` is S steps into it: the order is
    by (phase, step), not by name or time of writing."""
    s = make_state()
    for phase, step in [(2, 200), (1, None), (2, 1_000), (2, None)]:
        name = ckpt.name_for(Counters(next_phase=phase), step)
        ckpt.save(tmp_path, s, Counters(next_phase=phase), keep=10, name=name)
    assert [p.name for p in ckpt.checkpoints(tmp_path)] == [
        "phase-001",
        "phase-002",
        "phase-002-step-000000200",
        "phase-002-step-000001000",
    ]
    ckpt.save(tmp_path, s, Counters(next_phase=3), keep=2)
    assert [p.name for p in ckpt.checkpoints(tmp_path)] == ["phase-002-step-000001000", "phase-003"]


def test_another_configs_checkpoint_is_refused_not_taken_for_corrupt(tmp_path: Path):
    path = ckpt.save(tmp_path, make_state(rows=2_000), Counters(), keep=1)
    other = jax.eval_shape(lambda: make_state(rows=1_000))
    with pytest.raises(CheckpointMismatch, match=r"does not match the config at .*observations"):
        ckpt.restore(path, other)
    with pytest.raises(CheckpointMismatch):
        ckpt.restore_latest(tmp_path, other, say=lambda m: None)
    assert path.is_dir()  # a mismatch is not moved aside


# ----------------------------------------------------------------------------- corruption
def flip_byte(file: Path, at: int) -> None:
    data = bytearray(file.read_bytes())
    data[at] ^= 0xFF
    file.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: flip_byte(p / "state.bin", 5_000), "checksum mismatch in .*"),
        (lambda p: os.truncate(p / "state.bin", 1_000), "truncated"),
        (lambda p: (p / "manifest.json").write_text('{"format": 2, "count'), "manifest.json"),
        (lambda p: (p / "state.bin").unlink(), "unreadable"),
    ],
    ids=["bit-flip", "truncated", "manifest", "missing"],
)
def test_a_corrupt_checkpoint_falls_back_to_the_previous_one_once(tmp_path: Path, damage, reason):
    first, second = save_two(tmp_path)
    newest = ckpt.latest(tmp_path)
    damage(newest)
    with pytest.raises(CheckpointCorrupt, match=reason):
        ckpt.restore(newest, template())
    said: list[str] = []
    state, counters, path = ckpt.restore_latest(tmp_path, template(), said.append)
    assert path.name == "phase-001" and counters.env_steps == 10
    assert_same(first, state)
    assert len(said) == 1 and "phase-002 is corrupt" in said[0]
    assert "falling back to phase-001" in said[0] and "moved to phase-002.corrupt" in said[0]
    # no crash loop: the next resume goes straight to the good one, silently
    said.clear()
    assert ckpt.restore_latest(tmp_path, template(), said.append)[2].name == "phase-001"
    assert said == []


def test_no_usable_checkpoint_is_one_clear_error(tmp_path: Path):
    save_two(tmp_path)
    for p in ckpt.checkpoints(tmp_path):
        flip_byte(p / "state.bin", 100)
    with pytest.raises(
        ckpt.NoUsableCheckpoint,
        match="no usable checkpoint .*`coopo resume .*` starts the run again",
    ):
        ckpt.restore_latest(tmp_path, template(), say=lambda m: None)
    assert ckpt.latest(tmp_path) is None


def write_old_format(run: Path, state, counters: Counters, name: str) -> Path:
    d = run / "checkpoints" / name
    d.mkdir(parents=True)
    (d / "state.msgpack").write_bytes(serialization.to_bytes(state))
    (d / "counters.json").write_text(json.dumps(counters.__dict__))
    (run / "checkpoints" / "latest").write_text(name)
    return d


def test_checkpoints_of_the_previous_format_restore_and_fall_back(tmp_path: Path):
    first, second = make_state(0), make_state(1)
    write_old_format(tmp_path, first, Counters(next_phase=1), "phase-001")
    newest = write_old_format(tmp_path, second, Counters(next_phase=2), "phase-002")
    state, counters, path = ckpt.restore_latest(tmp_path, template(), say=lambda m: None)
    assert path == newest and counters.next_phase == 2
    assert_same(second, state)
    raw = (newest / "state.msgpack").read_bytes()
    (newest / "state.msgpack").write_bytes(raw[: len(raw) // 2])  # a corrupted state.msgpack
    said: list[str] = []
    state, counters, _ = ckpt.restore_latest(tmp_path, template(), said.append)
    assert counters.next_phase == 1 and "state.msgpack" in said[0]
    assert_same(first, state)


# ----------------------------------------------------------------------------- full disk
class FullDisk:
    """``open`` for the checkpoint module whose files take ``room`` bytes, then ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, file, mode="r", *a, **kw):
        f = open(file, mode, *a, **kw)  # noqa: SIM115
        if "w" not in mode:
            return f
        outer = self
        real_write = f.write

        def write(data):
            n = len(memoryview(data).cast("B")) if not isinstance(data, str) else len(data)
            if n > outer.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            outer.room -= n
            return real_write(data)

        f.write = write
        return f


def assert_previous_intact(run: Path, first) -> None:
    assert [p.name for p in ckpt.checkpoints(run)] == ["phase-001"]
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    state, counters, _ = ckpt.restore_latest(run, template(), say=pytest.fail)
    assert_same(first, state)


def test_disk_full_during_a_write_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch):
    first = make_state(0)
    ckpt.save(tmp_path, first, Counters(next_phase=1), keep=2)
    monkeypatch.setattr(ckpt, "open", FullDisk(room=50_000), raising=False)
    with pytest.raises(
        CheckpointError,
        match=r"could not write checkpoint .*phase-002: No space left on device \(ENOSPC\); "
        r"the previous checkpoint .*phase-001 is intact",
    ):
        ckpt.save(tmp_path, make_state(1), Counters(next_phase=2), keep=2)
    monkeypatch.undo()
    assert_previous_intact(tmp_path, first)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs), where mounting is allowed."""
    mnt = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (the patched-write test covers a full disk)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_really_full_disk_keeps_the_previous_checkpoint(small_tmpfs: Path):
    first = make_state(0)  # ~300 kB on disk
    ckpt.save(small_tmpfs, first, Counters(next_phase=1), keep=2)
    with open(small_tmpfs / "filler", "wb") as f:  # leave ~150 kB free
        free = os.statvfs(small_tmpfs).f_bavail * os.statvfs(small_tmpfs).f_frsize
        f.write(b"\0" * max(0, free - 150_000))
    with pytest.raises(
        CheckpointError, match=r"No space left on device \(ENOSPC\).*phase-001 is intact"
    ):
        ckpt.save(small_tmpfs, make_state(1), Counters(next_phase=2), keep=2)
    assert_previous_intact(small_tmpfs, first)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, object]]:
    """A run directory with one checkpoint, then made read-only for real: a remounted
    read-only tmpfs when running as root (root ignores permission bits), else chmod."""
    first = make_state(0)
    if os.geteuid() != 0:
        run = tmp_path / "run"
        ckpt.save(run, first, Counters(next_phase=1), keep=2)
        for p in [run, *run.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)
        yield run, first
        for p in [run, *run.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
        return
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        pytest.skip("running as root without mount: cannot make a directory read-only")
    try:
        ckpt.save(mnt, first, Counters(next_phase=1), keep=2)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt, first
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_read_only_run_directory_is_a_clear_error_and_still_restores(read_only):
    run, first = read_only
    with pytest.raises(
        CheckpointError,
        match=r"could not write checkpoint .*phase-002: .*\((EROFS|EACCES)\).*phase-001 is intact",
    ):
        ckpt.save(run, make_state(1), Counters(next_phase=2), keep=2)
    state, _, path = ckpt.restore_latest(run, template(), say=pytest.fail)
    assert path.name == "phase-001"
    assert_same(first, state)


# ----------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_a_write_lets_the_checkpoint_finish_first(tmp_path: Path, monkeypatch):
    real = ckpt.write_state

    def interrupted_write(file, state):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the state is being written
        return real(file, state)

    monkeypatch.setattr(ckpt, "write_state", interrupted_write)
    # Python's own Ctrl-C handler (a test worker may have SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        state = make_state()
        with pytest.raises(KeyboardInterrupt):
            ckpt.save(tmp_path, state, Counters(next_phase=1), keep=2)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_process_that_ignores_ctrl_c_still_ignores_it_during_a_write(tmp_path: Path, monkeypatch):
    real = ckpt.write_state

    def interrupted_write(file, state):
        os.kill(os.getpid(), signal.SIGINT)
        return real(file, state)

    monkeypatch.setattr(ckpt, "write_state", interrupted_write)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        state = make_state()
        path = ckpt.save(tmp_path, state, Counters(next_phase=1), keep=2)  # no KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert_same(state, ckpt.restore_latest(tmp_path, template(), say=pytest.fail)[0])
    assert path.name == "phase-001"
    assert_same(state, ckpt.restore_latest(tmp_path, template(), say=pytest.fail)[0])


def test_a_state_that_gained_arrays_is_refused_naming_config_or_version(tmp_path: Path):
    # e.g. an algorithm's state gained a counter between two versions of coopo
    path = ckpt.save(tmp_path, make_state(rows=100), Counters(), keep=1)
    grown = jax.eval_shape(lambda: (make_state(rows=100), jnp.zeros(())))
    with pytest.raises(CheckpointMismatch, match="another config or another version of coopo"):
        ckpt.restore(path, grown)
    assert path.is_dir()
