"""Checkpoints inside phases: a run that dies inside an offline phase, or inside an online phase
in the middle of an episode, resumes to the same results.json and metrics.jsonl, byte for byte,
as a run that never stopped."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopo import checkpoint as ckpt
from coopo import data
from coopo.api import resume, train
from coopo.config import PRESETS, ConfigError, validate_config
from coopo.resume_point import CheckpointClock

# 4 phases of 200 steps; 50 updates per jitted call and 50 env steps per collection, so a
# checkpoint every 50 steps falls between calls. An evaluation at online step 100 writes a
# metrics record inside the online phase, after the first checkpoint there: a crash at the next
# checkpoint leaves that record past the checkpoint, for the resume to drop and write again.
# Two seeds, whose episodes end at different steps: a resume replays their current episodes
# (of different lengths) in one vector env.
SMOKE = dataclasses.replace(
    PRESETS["smoke"],
    seeds=(0, 1),
    progress=False,
    scan_length=50,
    checkpoint_every=50,
    keep_checkpoints=3,
    eval_interval=100,
)


class Crash(BaseException):
    """Stands in for the process dying (nothing in the runner catches it)."""


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("inphase")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COOPO_CACHE_DIR", str(base / "cache"))
        mp.setenv("MINARI_DATASETS_PATH", str(base / "minari"))
        ds = data.build_dataset("InvertedPendulum-v5", "random", size=1_000, seed=0)
        dataset = data.write_npz(ds, base / "pendulum.npz")
        c = dataclasses.replace(SMOKE, dataset=str(dataset), run_dir=str(base / "unbroken"))
        train(c)
        yield {"run": base / "unbroken", "dataset": dataset, "base": base}


def same_outcome(a: Path, b: Path) -> None:
    for f in ("results.json", "metrics.jsonl"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def crash_after(monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    """Let checkpoint ``target`` be written, then die at the next checkpoint: the work done in
    between (updates, env steps, metric records) is lost, as in a crash."""
    real = ckpt.save
    armed = []

    def save(run_dir, state, counters, keep, name=None):
        if armed:
            raise Crash
        path = real(run_dir, state, counters, keep, name)
        mid_episode = any(
            counters.phase_host.get("episodes", {}).get("length", {}).get("values", [])
        )
        if path.name.startswith(target) and (not target.startswith("phase-001") or mid_episode):
            armed.append(path)
        return path

    monkeypatch.setattr(ckpt, "save", save)


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    "checkpoint, phase",
    [("phase-000-step-000000100", "offline"), ("phase-001-step-", "online")],
)
def test_a_run_killed_inside_a_phase_resumes_byte_identical(
    unbroken, tmp_path: Path, monkeypatch, checkpoint: str, phase: str
):
    run = tmp_path / "run"
    c = dataclasses.replace(SMOKE, dataset=str(unbroken["dataset"]), run_dir=str(run))
    crash_after(monkeypatch, checkpoint)
    with pytest.raises(Crash):
        train(c)
    monkeypatch.undo()
    latest = ckpt.latest(run)
    assert latest is not None and latest.name.startswith(checkpoint)
    counters = manifest(latest)["counters"]
    assert counters["phase_step"] > 0
    if phase == "online":  # the kill falls in the middle of an episode of some seed
        host = counters["phase_host"]
        assert any(n > 0 for n in host["episodes"]["length"]["values"])
    records = (run / "metrics.jsonl").read_text().splitlines()
    assert len(records) > counters["metrics_lines"]  # records past the checkpoint, to drop
    assert resume(run).finished
    same_outcome(unbroken["run"], run)


@pytest.mark.slow
def test_kill_9_inside_the_online_phase_resumes_byte_identical(unbroken, tmp_path: Path):
    """A real ``kill -9`` of ``coopo train`` once an online-phase checkpoint exists."""
    run = tmp_path / "run"
    argv = [
        "train", "--preset", "smoke", "--dataset", str(unbroken["dataset"]), "--run-dir",
        str(run), "--no-progress", "--scan-length", "50", "--checkpoint-every", "50",
        "--keep-checkpoints", "3", "--eval-interval", "100", "--seeds", "0", "1",
    ]  # fmt: skip
    code = "import sys; from coopo.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 300
    target = run / "checkpoints" / "phase-001-step-000000050"
    while not target.is_dir():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "results.json").exists()
    assert resume(run).finished
    same_outcome(unbroken["run"], run)


def test_a_resume_from_each_checkpoint_in_turn_gives_the_same_run(unbroken, tmp_path: Path):
    """Every in-phase checkpoint of the unbroken run's last phases is a valid starting point."""
    run = tmp_path / "run"
    shutil.copytree(unbroken["run"], run)
    # the unbroken run kept its 3 newest checkpoints: the last phase's steps 100, 150 and its end
    kept = [p.name for p in ckpt.checkpoints(run)]
    assert kept == ["phase-003-step-000000100", "phase-003-step-000000150", "phase-004"]
    for name in kept[:2]:
        trial = tmp_path / name
        shutil.copytree(run, trial, ignore=shutil.ignore_patterns("lock", "results.json"))
        for later in kept[kept.index(name) + 1 :]:
            shutil.rmtree(trial / "checkpoints" / later)
        assert resume(trial).finished
        same_outcome(unbroken["run"], trial)


def test_checkpoint_clock_by_steps_and_by_time(monkeypatch):
    clock = CheckpointClock(every=50)
    assert [clock.due(b, b + 30) for b in (0, 30, 60, 90)] == [False, True, False, True]
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    clock = CheckpointClock(every=0, minutes=10)
    assert not clock.due(0, 10**9)
    now[0] += 599
    assert not clock.due(0, 1)
    now[0] += 1
    assert clock.due(0, 1)
    clock.reset()
    assert not clock.due(0, 1)
    assert not CheckpointClock(every=0, minutes=0).due(0, 10**9)  # off


def test_checkpoint_options_are_validated():
    with pytest.raises(ConfigError, match="--checkpoint-every"):
        validate_config(dataclasses.replace(SMOKE, checkpoint_every=-1))
    with pytest.raises(ConfigError, match="--checkpoint-minutes"):
        validate_config(dataclasses.replace(SMOKE, checkpoint_minutes=-1.0))
