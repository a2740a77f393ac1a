"""Whole runs under faults: one writer per run directory, resume that checks what it resumes,
a corrupt checkpoint, Ctrl-C during training, a bench worker killed mid-run."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coopo import checkpoint as ckpt
from coopo import data
from coopo.api import resume, train
from coopo.cli import main
from coopo.config import PRESETS
from coopo.resume_check import ResumeMismatch, package_versions
from coopo.runlock import RunLock, RunLocked

SMOKE = dataclasses.replace(PRESETS["smoke"], progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """An unbroken smoke run and the same run stopped after 2 of its 4 phases."""
    base = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COOPO_CACHE_DIR", str(base / "cache"))
        mp.setenv("MINARI_DATASETS_PATH", str(base / "minari"))
        ds = data.build_dataset("InvertedPendulum-v5", "random", size=1_000, seed=0)
        dataset = data.write_npz(ds, base / "pendulum.npz")
        c = dataclasses.replace(SMOKE, dataset=str(dataset))
        train(dataclasses.replace(c, run_dir=str(base / "full")))
        train(dataclasses.replace(c, run_dir=str(base / "part"), max_phases=2))
        yield {"full": base / "full", "part": base / "part", "dataset": dataset, "base": base}


def copy_run(runs: dict[str, Path], dest: Path) -> Path:
    shutil.copytree(runs["part"], dest, ignore=shutil.ignore_patterns("lock"))
    return dest


def same_outcome(a: Path, b: Path) -> None:
    from coopo.jsonfile import METRICS, METRICS_GZ

    # a finished bench run keeps its metrics compressed, byte for byte the same for the same
    # records (no time in the gzip header)
    metrics = METRICS if (a / METRICS).is_file() else METRICS_GZ
    for f in ("results.json", metrics):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


# ----------------------------------------------------------------------------- resume checks
def test_resume_refuses_another_dataset_or_other_versions_unless_forced(
    runs, tmp_path: Path, capsys
):
    run = copy_run(runs, tmp_path / "run")
    assert json.loads((run / "versions.json").read_text()) == package_versions()
    # the dataset file the run names now holds other data, and jax "changed"
    changed = data.build_dataset("InvertedPendulum-v5", "random", size=1_000, seed=1)
    moved = data.write_npz(changed, tmp_path / "pendulum.npz")
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "dataset": str(moved)}))
    versions = {**package_versions(), "jax": "0.0.1"}
    (run / "versions.json").write_text(json.dumps(versions))
    metrics = (run / "metrics.jsonl").read_bytes()
    with pytest.raises(ResumeMismatch, match=r"dataset hash \w+ -> \w+; jax 0\.0\.1 -> "):
        resume(run)
    assert main(["resume", str(run)]) == 1
    out = capsys.readouterr().err
    assert "--force" in out and "jax 0.0.1" in out and "Traceback" not in out
    assert (run / "metrics.jsonl").read_bytes() == metrics  # nothing was touched
    assert main(["resume", str(run), "--force"]) == 0
    assert "changes accepted" in capsys.readouterr().out
    log = [json.loads(line) for line in (run / "resume-log.jsonl").read_text().splitlines()]
    assert any(d.startswith("dataset hash") for d in log[0]["accepted"])
    assert json.loads((run / "versions.json").read_text()) == package_versions()
    assert json.loads((run / "dataset.json").read_text())["hash"] == changed.content_hash()
    assert (run / "results.json").is_file()


# ----------------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_naming_the_holder(runs, tmp_path: Path, holder, capsys):
    run = copy_run(runs, tmp_path / "run")
    proc = holder(run)
    who = f"pid {proc.pid} on host {socket.gethostname()}"
    metrics = (run / "metrics.jsonl").read_bytes()
    with pytest.raises(RunLocked, match=who):
        resume(run)
    assert main(["resume", str(run)]) == 1
    out = capsys.readouterr().err
    assert who in out and len(out.strip().splitlines()) == 1
    new = tmp_path / "new"
    holder(new)
    with pytest.raises(RunLocked, match="in use by pid"):
        train(dataclasses.replace(SMOKE, dataset=str(runs["dataset"]), run_dir=str(new)))
    assert not (new / "config.json").exists()
    # the kernel releases the lock when the holder dies, kill -9 included
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    RunLock.acquire(run).release()
    assert (run / "metrics.jsonl").read_bytes() == metrics


def test_the_lock_is_reentrant_within_a_process_only(tmp_path: Path):
    outer = RunLock.acquire(tmp_path)
    inner = RunLock.acquire(tmp_path)  # a bench worker, then coopo.train inside it
    inner.release()
    code = "import sys; from coopo.runlock import RunLock; RunLock.acquire(sys.argv[1])"
    other = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert other.returncode != 0 and f"pid {os.getpid()}" in other.stderr
    outer.release()
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path)]).returncode == 0


# ----------------------------------------------------------------------------- corrupt checkpoint
def test_a_corrupt_latest_checkpoint_resumes_from_the_previous_one_exactly(runs, tmp_path: Path):
    run = copy_run(runs, tmp_path / "run")
    newest = ckpt.latest(run)
    assert newest is not None and newest.name == "phase-002"
    raw = bytearray((newest / "state.bin").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (newest / "state.bin").write_bytes(bytes(raw))
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    result = resume(run, console=Console(file=out, width=400))
    assert result.finished
    said = out.getvalue()
    assert "phase-002 is corrupt: checksum mismatch" in said and "falling back to phase-001" in said
    same_outcome(runs["full"], run)


# ----------------------------------------------------------------------------- Ctrl-C
@pytest.mark.slow
def test_ctrl_c_during_training_leaves_the_last_checkpoint_intact_and_says_so(runs, tmp_path: Path):
    run = tmp_path / "run"
    argv = [
        "train", "--preset", "smoke", "--dataset", str(runs["dataset"]), "--run-dir", str(run),
        "--no-progress", "--online-steps", "3000", "--cycles", "3",
    ]  # fmt: skip
    env = {**os.environ, "COOPO_CACHE_DIR": str(runs["base"] / "cache")}
    code = "import sys; from coopo.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C acts as in a terminal even when this test runs where SIGINT is ignored (an
        # ignored signal stays ignored across exec, and Python then leaves it ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 300
    while not (run / "checkpoints" / "phase-001").is_dir():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # inside the first online phase (3000 env steps)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted; the last checkpoint" in err and f"coopo resume {run}" in err
    assert "Traceback" not in out + err
    assert [p.name for p in ckpt.checkpoints(run)] == ["phase-001"]
    part = resume(run, max_phases=1)  # the checkpoint verifies and the run continues
    assert not part.finished and ckpt.latest(run).name == "phase-002"


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own Ctrl-C handler for one test, even where the test runner ignores SIGINT."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def swallow_one_ctrl_c() -> None:
    """A Ctrl-C arriving inside third-party code with a bare ``except:`` (as JAX's tracing
    has), which eats the KeyboardInterrupt."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the handler runs here, in the main thread
    except:  # noqa: E722 (the point of the test)
        pass


def test_a_swallowed_ctrl_c_is_raised_again_at_the_next_check(default_sigint):
    from coopo.runlock import CtrlC

    ctrl_c = CtrlC()
    with ctrl_c.installed():
        ctrl_c.check()  # nothing requested yet
        swallow_one_ctrl_c()
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_ctrl_c_landing_in_a_finaliser_is_not_reported_and_is_raised_again(
    default_sigint, monkeypatch
):
    """A SIGINT handled inside a ``__del__`` or GC callback (JAX has one) cannot propagate:
    Python would print it as an "Exception ignored ... Traceback". Under ``CtrlC`` it never
    reaches the unraisable hook and :meth:`check` raises it; another finaliser error still
    does reach the hook, and the hook is put back afterwards."""
    from coopo.runlock import CtrlC

    reported: list[BaseException] = []

    def record(unraisable) -> None:
        reported.append(unraisable.exc_value)

    monkeypatch.setattr(sys, "unraisablehook", record)

    class Interrupted:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs inside this finaliser
            time.sleep(1)

    class Broken:
        def __del__(self) -> None:
            raise ValueError("a real error in a finaliser")

    ctrl_c = CtrlC()
    with ctrl_c.installed():
        Interrupted()  # its __del__ runs here, at once
        assert reported == []
        with pytest.raises(KeyboardInterrupt):
            ctrl_c.check()
        Broken()
        assert [type(e) for e in reported] == [ValueError]
    assert sys.unraisablehook is record


def test_an_ignored_ctrl_c_stays_ignored_and_is_never_raised():
    from coopo.runlock import CtrlC

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctrl_c = CtrlC()
        with ctrl_c.installed():
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
            ctrl_c.check()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_run_stops_on_a_ctrl_c_that_was_swallowed_inside_a_phase(
    runs, tmp_path: Path, monkeypatch, default_sigint
):
    from coopo.monitor import RunMonitor
    from coopo.runlock import RunInterrupted

    describe = RunMonitor.describe
    swallowed: list[int] = []

    def describe_and_lose_a_ctrl_c(self, phase, counters, last):
        describe(self, phase, counters, last)
        if phase.kind == "online" and not swallowed:
            swallowed.append(counters.env_steps)
            swallow_one_ctrl_c()

    monkeypatch.setattr(RunMonitor, "describe", describe_and_lose_a_ctrl_c)
    run = tmp_path / "run"
    cfg = dataclasses.replace(SMOKE, dataset=str(runs["dataset"]), run_dir=str(run))
    with pytest.raises(RunInterrupted, match="the last checkpoint .*phase-001 is intact"):
        train(cfg)
    # it stopped inside the first online phase, at the check after the swallowed Ctrl-C
    assert swallowed and swallowed[0] < cfg.online_steps
    assert [p.name for p in ckpt.checkpoints(run)] == ["phase-001"]
    assert not (run / "results.json").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ----------------------------------------------------------------------------- bench worker killed
@pytest.mark.slow
def test_a_killed_bench_worker_resumes_with_nothing_lost(tmp_path: Path, holder):
    from coopo.bench import harness
    from tests.conftest import project_suites

    smoke = project_suites().SUITES["smoke"]
    kw = {
        "methods": ("coopo",),
        "seeds": (0,),
        "workers": 1,
        "console": harness.Console(quiet=True),
    }
    unbroken = harness.run_suite(smoke, tmp_path / "unbroken", **kw)
    assert len(unbroken.finished) == 1
    out = tmp_path / "killed"
    killed: list[int] = []

    def kill_worker_after_its_first_checkpoint() -> None:
        deadline = time.time() + 300
        while time.time() < deadline:
            for d in out.glob("runs/*/*/*/checkpoints/phase-001"):
                pid = json.loads((d.parent.parent / "lock").read_text())["pid"]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_worker_after_its_first_checkpoint)
    watcher.start()
    first = harness.run_suite(smoke, out, **kw)
    watcher.join()
    assert killed and len(first.failed) == 1 and not first.finished
    (path,) = [p.parent for p in out.glob("runs/*/*/*/bench.json")]
    assert not (path / "results.json").exists() and ckpt.latest(path) is not None
    # a retried worker while another still holds the run is refused and touches nothing
    files = {p: p.read_bytes() for p in path.rglob("*") if p.is_file() and p.name != "lock"}
    proc = holder(path)
    dataset = harness.dataset_path(out, smoke.datasets[0], smoke.dataset_size)
    assert harness._worker_main([str(path), str(dataset)]) == 3
    assert {p: p.read_bytes() for p in files} == files and not (path / "error.txt").exists()
    proc.kill()
    proc.wait()
    again = harness.run_suite(smoke, out, **kw)
    assert len(again.finished) == 1
    (ref,) = [p.parent for p in (tmp_path / "unbroken").glob("runs/*/*/*/bench.json")]
    same_outcome(ref, path)
    assert "--- resuming" in (path / "log.txt").read_text()


# a bench driver with stand-in workers: each writes its pid, then sleeps until a SIGINT,
# which it records before it exits (a real worker stops at its next jitted call)
_DRIVER = r"""
import sys
from pathlib import Path
from coopo.bench import harness

out = Path(sys.argv[1])
worker = (
    "import os, signal, sys, time\n"
    "from pathlib import Path\n"
    "d = Path(sys.argv[1])\n"
    "def stop(*_):\n"
    "    (d / 'got-sigint').write_text('')\n"
    "    sys.exit(1)\n"
    "signal.signal(signal.SIGINT, stop)\n"
    "(d / 'pid').write_text(str(os.getpid()))\n"
    "time.sleep(300)\n"
)
harness._worker_cmd = lambda path, dataset, keep: [sys.executable, "-c", worker, str(path)]
jobs = []
for i in range(3):
    (out / f"run{i}").mkdir(parents=True)
    jobs.append((f"run{i}", out / f"run{i}", out / "dataset"))
try:
    for outcome in harness._run_local(jobs, workers=2, keep_checkpoints=False):
        print("outcome", outcome[0], flush=True)
except KeyboardInterrupt:
    print("driver interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_bench_driver_alone_stops_its_workers_and_starts_no_more(
    tmp_path: Path, sig
):
    # before, the driver waited for its workers to finish their runs (hours) after a SIGINT
    # sent to it alone, and a SIGTERM killed it and left them running
    driver = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids = [tmp_path / f"run{i}" / "pid" for i in range(2)]
    deadline = time.time() + 120
    while not all(p.is_file() and p.read_text() for p in pids) and time.time() < deadline:
        time.sleep(0.05)
    assert all(p.is_file() for p in pids), "the two workers did not start"
    driver.send_signal(sig)
    try:
        out, _ = driver.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        driver.kill()
        for p in pids:
            os.kill(int(p.read_text()), signal.SIGKILL)
        pytest.fail("the driver did not stop its workers")
    assert driver.returncode == 130 and "driver interrupted" in out, out
    for i in range(2):  # each running worker got one SIGINT and exited
        assert (tmp_path / f"run{i}" / "got-sigint").is_file()
        pid = int(pids[i].read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not (tmp_path / "run2" / "pid").exists()  # the queued run never started
