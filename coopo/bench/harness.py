"""``coopo bench``: run a suite's grid into one results directory, resumably.

Layout of a results directory::

    RESULTS/
      suite.json                        the suite as run (budgets, methods, seeds)
      COMMAND                           each distinct `coopo bench` invocation, a line each
      .lock                             held while an invocation updates the three shared files
      provenance.json                   one record per `coopo bench` invocation: package
                                        versions, CPU/GPU model, git commit (coopo.provenance)
      datasets/<recipe>-n<size>.npz     datasets built once from coopo recipes
      runs/<dataset>/<method>/seeds-0_1_2/
        bench.json                      the run's spec (suite, dataset, method, seeds, config)
                                        and the suite's cost estimate for it
        config.json metrics.jsonl results.json dataset.json policy/ tb/   (a coopo run dir;
                                        metrics.jsonl.gz instead once the run has finished)
        log.txt                         the run's console output
        wall_time.json                  seconds spent training it (summed over resumes, and
                                        rewritten every minute, so a killed invocation
                                        counts up to its last minute), and where
        provenance.json                 package versions, CPU/GPU model and git commit of each
                                        invocation that trained it
        error.txt                       why it failed (only when it did)

A run is *finished* when its ``results.json`` exists; ``coopo bench`` skips finished runs,
resumes interrupted ones from their last checkpoint, and starts the others.
Once a run has finished its checkpoints are deleted and its ``metrics.jsonl`` is compressed to
``metrics.jsonl.gz`` (:func:`coopo.jsonfile.compress_metrics`; every reader takes either),
unless ``--keep-checkpoints`` keeps both as they are, so that the run can be resumed for more
phases.

Backends: ``local`` (default) runs each run in its own Python process, ``workers`` at a time;
``ray`` submits each run as a Ray task (``num_cpus``/``num_gpus`` per run) that trains in a
scratch directory on whichever node gets it and returns the run's files, which the driver
writes into the same layout (no shared filesystem needed).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from coopo import provenance
from coopo.bench.suites import RunSpec, Suite, expand
from coopo.config import REMOVED_OPTIONS, TrainConfig, config_to_dict
from coopo.jsonfile import METRICS, METRICS_GZ, compress_metrics
from coopo.schedule import Budget, num_cycles

FINISHED = "results.json"


class BenchError(RuntimeError):
    """A results directory or suite request that cannot be run as asked."""


@contextmanager
def shared_files_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``out/.lock`` for the block.

    ``suite.json``, ``provenance.json`` and ``COMMAND`` are read, extended and rewritten by
    every invocation; two invocations sharing ``out`` (two chunks run side by side) would
    otherwise each rewrite what it read and lose the other's record."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes or the process dies
        yield


def append_command(file: Path, command: str) -> None:
    """Add ``command`` as a line of ``file`` unless it is one already (under
    :func:`shared_files_lock` of the file's directory)."""
    with shared_files_lock(file.parent):
        old_lines = file.read_text().splitlines() if file.is_file() else []
        if command not in old_lines:
            file.write_text("\n".join([*old_lines, command]) + "\n")


# ----------------------------------------------------------------------------- datasets
def dataset_path(out: Path, recipe: str, size: int) -> Path:
    return out / "datasets" / f"{recipe}-n{size}.npz"


def prepare_dataset(
    out: Path, recipe: str, size: int, expert_policy_dir: Path | None, console: Console
) -> Path:
    """Build a recipe into ``out/datasets`` once (atomic write; reused by later invocations).

    Invocations that share ``out`` build a dataset one at a time: each takes an exclusive
    ``flock`` on ``datasets/<name>.lock`` (waiting for a build in progress) and then reuses the
    file the first one wrote."""
    import fcntl

    path = dataset_path(out, recipe, size)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes or the process dies
        if path.is_file():
            return path
        return _build_dataset(path, recipe, size, expert_policy_dir, console)


def _build_dataset(
    path: Path, recipe: str, size: int, expert_policy_dir: Path | None, console: Console
) -> Path:
    from coopo.data import write_npz
    from coopo.recipes import build_recipe, parse_recipe

    task, quality = parse_recipe(recipe)
    expert = None
    if quality in ("expert", "medium-expert"):
        if expert_policy_dir is None:
            raise BenchError(
                f"dataset {recipe} needs an expert policy: pass --expert-policy-dir DIR "
                f"holding {task}-expert.npz"
            )
        expert = str(expert_policy_dir / f"{task}-expert.npz")
    console.print(f"building dataset {recipe} ({size} transitions) ...")
    t = time.perf_counter()
    ds = build_recipe(task, quality, size, 0, expert)
    write_npz(ds, path)
    console.print(f"  {path} ({ds.size} transitions, {time.perf_counter() - t:.0f} s)")
    return path


# ----------------------------------------------------------------------------- runs
def run_dir(out: Path, spec: RunSpec) -> Path:
    return out / "runs" / spec.name


def is_finished(path: Path) -> bool:
    return (path / FINISHED).is_file()


def dataset_hash(dataset: Path) -> str:
    """The content hash of a dataset file (what runs record in their ``dataset.json``),
    computed once per file version."""
    st = dataset.stat()
    return _content_hash(str(dataset.resolve()), st.st_size, st.st_mtime_ns)


@functools.cache
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    from coopo.data import read_npz

    return read_npz(path).content_hash()


def check_same_dataset(path: Path, dataset: Path) -> None:
    """Refuse to mix a run made on other data into this results directory.

    Built datasets are not committed with results, so a results directory continued from a
    fresh checkout rebuilds them; if the code that builds them has changed since, the rebuilt
    dataset differs and the finished runs no longer compare with the new ones."""
    record = path / "dataset.json"
    if not record.is_file():
        return
    saved = (json.loads(record.read_text()) or {}).get("hash")
    now = dataset_hash(dataset)
    if saved and saved != now:
        raise BenchError(
            f"{path} was trained on dataset content {saved}, but {dataset} now holds {now} "
            "(a dataset rebuilt by other code, or replaced): its results would not compare "
            "with runs on the new data. Use another --out, or restore the dataset the run "
            "used, or delete that run directory to re-run it"
        )


def _built_on(record: dict[str, Any]) -> str:
    """The CPU a dataset was built on, from its recorded provenance."""
    from coopo.provenance import describe_cpu

    cpu = ((record.get("extra") or {}).get("provenance") or {}).get("host", {}).get("cpu")
    if not cpu:
        return "a host that was not recorded"
    return describe_cpu(cpu)


def check_dataset_matches_results(out: Path, recipe: str, dataset: Path) -> None:
    """Refuse to add runs on ``dataset`` to a results directory whose runs on ``recipe`` were
    trained on other content.

    A built dataset depends on the host as well as on the code: the same commit builds other
    ``hopper-medium`` content on a CPU with AVX-512 than on one without (NOTES of the handoffs
    results), and datasets are not committed, so a results directory continued on another
    host would otherwise mix two datasets' runs in one table without a word."""
    records = sorted((out / "runs" / recipe).glob("*/*/dataset.json"))
    if not records:  # nothing to compare with (and an unreadable file fails in its run)
        return
    now = dataset_hash(dataset)
    for record_file in records:
        try:
            record = json.loads(record_file.read_text()) or {}
        except (OSError, ValueError):
            continue
        saved = record.get("hash")
        if saved and saved != now:
            from coopo.data import read_npz
            from coopo.provenance import cpu_info, describe_cpu

            ours = read_npz(dataset).metadata.extra.get("provenance")
            here = _built_on({"extra": {"provenance": ours}}) if ours else describe_cpu(cpu_info())
            raise BenchError(
                f"{dataset} holds {recipe} content {now}, built on {here}, but the runs in "
                f"{out / 'runs' / recipe} were trained on {saved}, built on {_built_on(record)} "
                f"(e.g. {record_file.parent}). Built datasets depend on the host's CPU as well "
                "as on the code, so these runs would not compare with new ones. Continue this "
                "results directory on a host like the one that built its data, put that "
                f"dataset file at {dataset}, or use another --out"
            )


def check_consistent(path: Path, spec: RunSpec, dataset: Path) -> None:
    """Refuse to mix a run made with another config, or on other data, into this results
    directory."""
    check_same_dataset(path, dataset)
    saved = path / "bench.json"
    if not saved.is_file():
        return
    old = json.loads(saved.read_text())
    new = json.loads(json.dumps(spec_record(spec, dataset)))  # tuples -> lists, as saved
    # An option added to TrainConfig (or to an algorithm's config) since that run was recorded
    # is not a difference: the run used what the option's default does. So the recorded
    # config is filled in with today's defaults for every option it lacks, at any depth.
    defaults = json.loads(json.dumps(config_to_dict(TrainConfig())))
    recorded = _without_removed(old.get("config", {}))
    old_config = _with_missing(recorded, defaults, new["config"])
    if old_config != new["config"]:
        changed = sorted(
            k
            for k in set(old_config) | set(new["config"])
            if old_config.get(k) != new["config"].get(k)
        )
        raise BenchError(
            f"{path} holds a run of another config (differs in: {', '.join(changed)}); "
            "use another --out, or delete that run directory to re-run it"
        )


def _without_removed(recorded: dict) -> dict:
    """``recorded`` without the options removed from coopo since (``REMOVED_OPTIONS``) that it
    holds switched off: the run did what today's code does. One switched on stays, and is a
    difference."""
    out = dict(recorded)
    for algo, off in REMOVED_OPTIONS.items():
        if isinstance(out.get(algo), dict):
            out[algo] = {k: v for k, v in out[algo].items() if k not in off or v != off[k]}
    return out


def _with_missing(recorded: dict, defaults: dict, wanted: dict) -> dict:
    """``recorded`` plus, for each key of ``wanted`` that it lacks, the default (recursing
    into nested configs such as ``sac``)."""
    out = dict(recorded)
    for k, v in wanted.items():
        if k not in out:
            if k in defaults:
                out[k] = defaults[k]
        elif isinstance(v, dict) and isinstance(out[k], dict) and isinstance(defaults.get(k), dict):
            out[k] = _with_missing(out[k], defaults[k], v)
    return out


def spec_record(spec: RunSpec, dataset: Path, estimate: float | None = None) -> dict[str, Any]:
    """What ``bench.json`` holds: the run's spec, and ``estimate`` (the suite's cost estimate
    in seconds, which the report sets beside the measured wall time) where there is one."""
    record: dict[str, Any] = {
        "suite": spec.suite,
        "dataset": spec.dataset,
        "method": spec.method,
        "seeds": list(spec.seeds),
        "dataset_file": dataset.name,
        "config": spec.config,
    }
    if estimate is not None:
        record["estimated_seconds"] = estimate
    return record


def execute(path: Path, dataset: Path, keep_checkpoints: bool = False) -> dict[str, Any]:
    """Train (or resume, or skip) one run in ``path``; returns its results.json content.

    This is what each local worker process and each Ray task calls.
    """
    import coopo
    from coopo import checkpoint as ckpt
    from coopo.runlock import RunLock

    record = json.loads((path / "bench.json").read_text())
    if is_finished(path):
        return dict(json.loads((path / FINISHED).read_text()))
    # One writer: a retried worker whose first attempt still runs is refused here, before it
    # deletes or appends anything (the lock is released when either process dies).
    lock = RunLock.acquire(path)
    spec = RunSpec(
        record["suite"],
        record["dataset"],
        record["method"],
        tuple(record["seeds"]),
        record["config"],
    )
    console = Console(file=open(path / "log.txt", "a"), width=120, force_terminal=False)
    clock = WallClock(path)  # counts this invocation from now, even if it is killed
    try:
        resumed = False
        if ckpt.latest(path) is not None:
            console.print(f"--- resuming {path}")
            try:
                coopo.resume(path, console=console)
                resumed = True
            except ckpt.NoUsableCheckpoint as e:  # all failed verification: start over
                console.print(f"--- {e}")
        if not resumed:
            # Nothing finished yet (killed inside the first phase): start clean.
            for stale in (
                METRICS,
                METRICS_GZ,
                "config.json",
                "dataset.json",
                "versions.json",
                "resume-log.jsonl",
                "tb",
                "checkpoints",
            ):
                p = path / stale
                shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
            console.print(f"--- starting {path}")
            coopo.train(spec.train_config(str(dataset), str(path)), console=console)
    finally:
        console.file.close()
        clock.stop()
        lock.release()
    if not keep_checkpoints:
        pack_finished(path)
    return dict(json.loads((path / FINISHED).read_text()))


def pack_finished(path: Path) -> None:
    """What a finished run keeps: its checkpoints are deleted (its policy/ holds the final
    policy) and its metrics compressed (:func:`coopo.jsonfile.compress_metrics`)."""
    shutil.rmtree(path / "checkpoints", ignore_errors=True)
    compress_metrics(path)


WALL_TIME_FLUSH_S = 60.0
"""How often a running invocation rewrites ``wall_time.json`` (what a kill can lose at most)."""


class WallClock:
    """The wall time spent training a run, accumulated over invocations in ``wall_time.json``.

    The invocation is counted when it starts, and its seconds so far are rewritten every
    ``flush_s`` seconds (atomically) and when :meth:`stop` is called, so an invocation that is
    killed (a session ending, SIGKILL) still counts up to its last flush instead of vanishing
    from the run's total.
    """

    def __init__(self, path: Path, flush_s: float = WALL_TIME_FLUSH_S) -> None:
        f = path / "wall_time.json"
        self.file = f
        self.before: dict[str, Any] = (
            json.loads(f.read_text()) if f.is_file() else {"seconds": 0.0, "invocations": 0}
        )
        import platform

        import jax

        where = f"{platform.node()} ({jax.default_backend()}, {os.cpu_count()} cores)"
        self.hosts = [h for h in self.before.get("hosts", []) if h != where] + [where]
        # Versions, commit, CPU model and vector flags, GPU of the latest invocation.
        self.provenance = provenance.collect()
        self.started = time.perf_counter()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._write()
        self._ticker = threading.Thread(
            target=self._tick, args=(flush_s,), name="wall-clock", daemon=True
        )
        self._ticker.start()

    def _tick(self, flush_s: float) -> None:
        while not self._stopped.wait(flush_s):
            self._write()

    def _write(self) -> None:
        with self._lock:
            record = {
                "seconds": self.before["seconds"] + time.perf_counter() - self.started,
                "invocations": self.before["invocations"] + 1,
                "hosts": self.hosts,
                "provenance": self.provenance,
            }
            tmp = self.file.with_name(self.file.name + ".tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, self.file)

    def stop(self) -> float:
        """Stop the ticker and write the final total; returns this invocation's seconds."""
        self._stopped.set()
        self._ticker.join()
        self._write()
        return time.perf_counter() - self.started


def append_provenance(file: Path) -> dict[str, Any]:
    """Add this invocation's record (:func:`coopo.provenance.collect` with the report's
    packages, the time and JAX's backend) to the JSON list in ``file`` (created if absent) and
    return it."""
    from datetime import UTC, datetime

    import jax

    records = json.loads(file.read_text()) if file.is_file() else []
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "jax_backend": jax.default_backend(),
        **provenance.collect(provenance.PACKAGES + provenance.REPORT_PACKAGES),
    }
    file.write_text(json.dumps([*records, record], indent=1) + "\n")
    return record


def _worker_main(argv: list[str]) -> int:
    """``python -m coopo.bench.harness RUN_DIR DATASET [--keep-checkpoints]``."""
    from coopo.runlock import RunLocked

    path, dataset = Path(argv[0]), Path(argv[1])
    try:
        execute(path, dataset, "--keep-checkpoints" in argv)
    except RunLocked as e:  # not this run's failure: leave its directory to the holder
        print(e, file=sys.stderr)
        return 3
    except Exception as e:  # recorded for the driver and the report
        import traceback

        (path / "error.txt").write_text(f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        return 1
    return 0


# ----------------------------------------------------------------------------- backends
Outcome = tuple[RunSpec, bool, str, float]  # spec, ok, message, seconds


# GPU memory one run needs at most (256-256 nets, RLPD's 10 critics, a 1M-row dataset and replay
# buffer, XLA's workspace), used to pick how many runs share one GPU.
GPU_MEMORY_PER_RUN_MIB = 2048


Gpu = provenance.Gpu
detect_gpus = provenance.detect_gpus


def plan_workers(requested: int, cpus: int, gpus: list[Gpu]) -> int:
    """Local runs in parallel: ``requested`` if given, else one per core, and on GPUs no more
    than fit their memory (GPU_MEMORY_PER_RUN_MIB each, 90% of every GPU usable)."""
    if requested:
        return requested
    workers = max(1, cpus)
    if gpus:
        fit = sum(int(0.9 * g.memory_mib) // GPU_MEMORY_PER_RUN_MIB for g in gpus)
        workers = max(1, min(workers, fit))
    return workers


def worker_env(
    base: dict[str, str], slot: int, workers: int, cpus: int, gpus: list[Gpu]
) -> dict[str, str]:
    """The environment of the worker process in ``slot`` (0 .. workers-1).

    CPU: each worker gets its share of the cores (XLA's CPU thread pool). GPU: JAX would
    preallocate 75% of a GPU in every process, so the second worker would run out of memory;
    workers allocate on demand instead, each capped at its share of its GPU, and are spread
    over the GPUs round-robin. Settings the user already exported are kept.
    """
    env = dict(base)
    threads = max(1, cpus // max(1, workers))
    env.setdefault(
        "XLA_FLAGS",
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}",
    )
    if gpus:
        gpu = gpus[slot % len(gpus)]
        sharing = -(-workers // len(gpus))  # workers on this GPU at most
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / sharing:.3f}")
        if len(gpus) > 1:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu.index)
    return env


def _worker_cmd(path: Path, dataset: Path, keep_checkpoints: bool) -> list[str]:
    """The command line of one local worker process (one run)."""
    cmd = [sys.executable, "-m", "coopo.bench.harness", str(path), str(dataset)]
    if keep_checkpoints:
        cmd.append("--keep-checkpoints")
    return cmd


def _start_worker(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start one worker in a process group of its own (signals reach it through the driver)."""
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


class _LocalWorkers:
    """Worker processes of one local bench, ``workers`` at a time, each in a slot of its own
    (its share of the cores and GPUs), all stopped together by :meth:`stop`."""

    def __init__(
        self,
        workers: int,
        keep_checkpoints: bool,
        gpus: list[Gpu],
        watch: RunProgress | None,
    ) -> None:
        import queue

        self.workers, self.keep, self.gpus, self.watch = workers, keep_checkpoints, gpus, watch
        self.cpus = os.cpu_count() or 1
        self.slots: queue.Queue[int] = queue.Queue()
        for i in range(workers):
            self.slots.put(i)
        self.live: set[subprocess.Popen[str]] = set()
        self.lock = threading.RLock()  # reentrant: a second signal may land inside the handler
        self.stopping = threading.Event()

    def run(self, job: tuple[RunSpec, Path, Path]) -> Outcome:
        """Train one run in a worker process (in a free slot); its outcome."""
        spec, path, dataset = job
        slot = self.slots.get()
        try:
            env = worker_env(dict(os.environ), slot, self.workers, self.cpus, self.gpus)
            with self.lock:
                if self.stopping.is_set():
                    return spec, False, "not started: the bench was interrupted", 0.0
                if self.watch:
                    self.watch.started(spec, path)
                t = time.perf_counter()
                proc = _start_worker(_worker_cmd(path, dataset, self.keep), env)
                self.live.add(proc)
            try:
                _, stderr = proc.communicate()
            finally:
                with self.lock:
                    self.live.discard(proc)
            took = time.perf_counter() - t
        finally:
            self.slots.put(slot)
            if self.watch:
                self.watch.ended(path)
        if proc.returncode != 0:
            err = path / "error.txt"
            msg = err.read_text().splitlines()[0] if err.is_file() else stderr[-2000:]
            return spec, False, msg, took
        return spec, True, _score_line(path), took

    def stop(self) -> None:
        """Pass one SIGINT to every running worker (once) and start no more."""
        with self.lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
            for proc in self.live:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)


@contextmanager
def _signals_call(handler: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM call ``handler`` (installed only in the main
    thread, where Python delivers signals); the previous handlers come back after it."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: handler())
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_DFL if old is None else old)


def _run_local(
    jobs: list[tuple[RunSpec, Path, Path]],
    workers: int,
    keep_checkpoints: bool,
    gpus: list[Gpu] | None = None,
    watch: RunProgress | None = None,
) -> Iterable[Outcome]:
    """Run each job in a worker process of its own, ``workers`` at a time.

    The workers run in process groups of their own, so an interrupt reaches them only through
    this driver: the first SIGINT (Ctrl-C) or SIGTERM (a scheduler's stop) that reaches the
    driver is passed on to every running worker as one SIGINT (each stops at its next jitted
    call with its last checkpoint intact, as ``coopo train`` does; later ones are ignored), no
    further run starts, and once every worker has exited and been reported the driver raises
    ``KeyboardInterrupt``. Without that, a signal sent to the driver alone left it waiting for
    its runs to end (hours), and a SIGTERM left them running on without it. The handlers are
    installed only when this runs in the main thread; elsewhere a ``KeyboardInterrupt`` or the
    caller closing the generator stops the workers the same way."""
    local = _LocalWorkers(workers, keep_checkpoints, gpus or [], watch)
    with _signals_call(local.stop):
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            futures = [pool.submit(local.run, j) for j in jobs]
            for f in as_completed(futures):
                yield f.result()
        except (KeyboardInterrupt, GeneratorExit):  # GeneratorExit: the caller stopped reading
            local.stop()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=local.stopping.is_set())
    if local.stopping.is_set():
        raise KeyboardInterrupt(
            "interrupted: every running run stopped at its last checkpoint; run the same "
            "coopo bench command again to continue"
        )


def _pack(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _unpack(files: dict[str, bytes], path: Path) -> None:
    for rel, data in files.items():
        dest = path / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)


def _ray_task(
    files: dict[str, bytes], dataset_bytes: bytes, dataset_name: str, keep: bool
) -> tuple[bool, dict[str, bytes], str]:
    """Runs on a Ray worker: rebuild the run dir in scratch space, train, send the files back."""
    with tempfile.TemporaryDirectory(prefix="coopo-ray-") as tmp:
        path, dataset = Path(tmp) / "run", Path(tmp) / dataset_name
        _unpack(files, path)
        dataset.write_bytes(dataset_bytes)
        # An interrupted run's config names the driver's paths; point it at the scratch copies.
        relocate(path, dataset)
        try:
            execute(path, dataset, keep)
            ok, msg = True, ""
        except Exception as e:
            import traceback

            ok, msg = False, f"{type(e).__name__}: {e}"
            (path / "error.txt").write_text(f"{msg}\n\n{traceback.format_exc()}")
        return ok, _pack(path), msg


def relocate(path: Path, dataset: Path) -> None:
    """Make a run directory's config.json name ``path`` and ``dataset`` (after a move)."""
    cfg_file = path / "config.json"
    if cfg_file.is_file():
        cfg = json.loads(cfg_file.read_text())
        cfg.update(dataset=str(dataset), run_dir=str(path))
        if "dataset_resolved" in cfg:  # resume takes this one first when it exists
            cfg["dataset_resolved"] = str(Path(dataset).resolve())
        cfg_file.write_text(json.dumps(cfg, indent=1))


def _run_ray(
    jobs: list[tuple[RunSpec, Path, Path]],
    address: str | None,
    cpus_per_run: float,
    gpus_per_run: float,
    keep_checkpoints: bool,
) -> Iterable[Outcome]:
    try:
        import ray
    except ImportError as e:
        raise BenchError("--backend ray needs Ray: pip install 'coopo[ray]'") from e
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run)(_ray_task)
        data_refs: dict[Path, Any] = {}
        pending: dict[Any, tuple[RunSpec, Path, float]] = {}
        dataset_of = {path: dataset for _, path, dataset in jobs}
        for spec, path, dataset in jobs:
            if dataset not in data_refs:
                data_refs[dataset] = ray.put(dataset.read_bytes())
            ref = task.remote(_pack(path), data_refs[dataset], dataset.name, keep_checkpoints)
            pending[ref] = (spec, path, time.perf_counter())
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            spec, path, t0 = pending.pop(done[0])
            ok, files, msg = ray.get(done[0])
            for name in (METRICS, METRICS_GZ):  # the task's metrics file replaces ours
                if name not in files:
                    (path / name).unlink(missing_ok=True)
            _unpack(files, path)
            relocate(path, dataset_of[path])
            if ok and not keep_checkpoints:  # the task packed the run on its side
                pack_finished(path)
            took = time.perf_counter() - t0
            yield spec, ok, (_score_line(path) if ok else msg), took
    finally:
        if started_here:
            ray.shutdown()


def _score_line(path: Path) -> str:
    res = json.loads((path / FINISHED).read_text())
    # null (strict JSON) or NaN (results written before): no reference scores
    scores = [v for v in res.get("final_normalized_score", {}).values() if v is not None and v == v]
    if scores:
        return f"normalized {sum(scores) / len(scores):.1f} (mean of {len(scores)} seeds)"
    rets = list(res.get("final_return", {}).values())
    return f"return {sum(rets) / max(1, len(rets)):.1f}"


# ----------------------------------------------------------------------------- progress
POLL_SECONDS = 2.0


def last_record(path: Path) -> dict[str, Any] | None:
    """The newest record of a run's metrics.jsonl (read from the end), or None."""
    f = path / METRICS  # a running run's, so never compressed yet
    try:
        with open(f, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written
        if isinstance(record, dict):
            return record
    return None


class RunProgress:
    """Runs done out of the total, and for every running local run its phase and env steps
    (read from its metrics.jsonl every POLL_SECONDS). Shown on a terminal only."""

    def __init__(self, console: Console, total: int) -> None:
        from coopo.progress import make_progress

        self.bar = make_progress(console)
        self.overall = self.bar.add_task("runs done", total=total)
        self.running: dict[Path, tuple[Any, RunSpec]] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RunProgress:
        self.bar.start()
        if not self.bar.disable:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.bar.stop()

    def started(self, spec: RunSpec, path: Path) -> None:
        c = spec.config
        total = Budget.from_config(c).online_env_steps if c["method"] != "offline" else None
        with self.lock:
            task = self.bar.add_task(f"  {spec.name}: starting", total=total)
            self.running[path] = (task, spec)

    def ended(self, path: Path) -> None:
        with self.lock:
            task, _ = self.running.pop(path)
            self.bar.remove_task(task)
            self.bar.advance(self.overall)

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self.lock:
                for path, (task, spec) in self.running.items():
                    r = last_record(path)
                    if r is None or "cycle" not in r:
                        continue
                    cycles = num_cycles(spec.config["method"], spec.config["cycles"])
                    self.bar.update(
                        task,
                        completed=r.get("env_steps", 0),
                        description=f"  {spec.name}: cycle {r['cycle'] + 1}/{cycles} "
                        f"{r.get('phase', '')}, {r.get('grad_steps', 0)} updates",
                    )


# ----------------------------------------------------------------------------- driver
@dataclasses.dataclass
class BenchSummary:
    out: Path
    total: int
    skipped: int
    finished: list[str]
    failed: list[tuple[str, str]]


def run_suite(
    suite: Suite,
    out: Path,
    *,
    seeds: tuple[int, ...] | None = None,
    methods: tuple[str, ...] = (),
    datasets: tuple[str, ...] = (),
    workers: int = 0,
    backend: str = "local",
    ray_address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    keep_checkpoints: bool = False,
    expert_policy_dir: Path | None = None,
    console: Console | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    command: str | None = None,
) -> BenchSummary:
    """Run every unfinished run of ``suite`` into ``out`` and return what happened.
    ``command`` (the invocation) is added to ``out/COMMAND`` once the request has passed its
    checks, a line per distinct invocation (a suite run in chunks keeps every chunk's)."""
    # The bench as one readable sequence: select runs, record the suite, refuse foreign run
    # directories and rebuilt data, skip finished runs, run the rest most expensive first,
    # report each outcome.
    console = console or Console()
    specs = select_runs(suite, seeds, methods, datasets)
    record_suite(suite, out, specs, expert_policy_dir, console)
    jobs, skipped = queue_runs(suite, out, specs, expert_policy_dir, console)
    if command:
        append_command(out / "COMMAND", command)
    console.print(
        f"suite {suite.name}: {len(specs)} runs, {skipped} already finished, {len(jobs)} to run "
        f"({backend}); results in {out}"
    )
    if suite.cost is not None:
        jobs.sort(key=lambda j: -suite.cost(j[0]))  # type: ignore[misc]
    watch = RunProgress(console, len(jobs))
    if backend == "local":
        gpus = detect_gpus()
        workers = plan_workers(workers, os.cpu_count() or 1, gpus)
        if gpus:
            console.print(
                f"{len(gpus)} GPU(s) ({', '.join(sorted({g.name for g in gpus}))}): {workers} "
                "workers, each allocating GPU memory on demand within its share"
            )
        outcomes = _run_local(jobs, workers, keep_checkpoints, gpus, watch)
    elif backend == "ray":
        outcomes = _run_ray(jobs, ray_address, cpus_per_run, gpus_per_run, keep_checkpoints)
    else:
        raise BenchError(f"unknown backend {backend!r} (local, ray)")
    summary = BenchSummary(out, len(specs), skipped, [], [])
    with watch:
        for i, outcome in enumerate(outcomes, 1):
            spec, ok, msg, took = outcome
            status = "[green]done[/]" if ok else "[red]FAILED[/]"
            console.print(
                f"[{i}/{len(jobs)}] {status} {spec.name} in {took:.0f} s: {msg}", soft_wrap=True
            )
            if backend != "local":  # local runs advance it as their processes end
                watch.bar.advance(watch.overall)
            (summary.finished if ok else summary.failed).append(
                spec.name if ok else (spec.name, msg)  # type: ignore[arg-type]
            )
            if on_outcome:
                on_outcome(outcome)
    if summary.failed:
        console.print(
            f"[red]{len(summary.failed)} runs failed[/]; see error.txt in their run directories"
        )
    return summary


def select_runs(
    suite: Suite,
    seeds: tuple[int, ...] | None,
    methods: tuple[str, ...],
    datasets: tuple[str, ...],
) -> list[RunSpec]:
    """The suite's runs that ``methods`` and ``datasets`` select (all where empty), at
    ``seeds`` (default: the suite's); a method or dataset the suite lacks is refused."""
    specs = expand(suite, seeds)
    unknown = set(methods) - {s.method for s in specs}
    if unknown:
        raise BenchError(
            f"unknown method(s) {sorted(unknown)} in suite {suite.name!r}; it has {[m.name for m in suite.methods]}"
        )
    unknown = set(datasets) - set(suite.datasets)
    if unknown:
        raise BenchError(
            f"unknown dataset(s) {sorted(unknown)} in suite {suite.name!r}; it has {list(suite.datasets)}"
        )
    return [
        s
        for s in specs
        if (not methods or s.method in methods) and (not datasets or s.dataset in datasets)
    ]


def record_suite(
    suite: Suite,
    out: Path,
    specs: list[RunSpec],
    expert_policy_dir: Path | None,
    console: Console,
) -> None:
    """Refuse a results directory of another suite or runs on other data (before anything is
    written), then write ``suite.json`` and add this invocation to ``provenance.json``."""
    out.mkdir(parents=True, exist_ok=True)
    suite_file = out / "suite.json"
    with shared_files_lock(out):
        if suite_file.is_file():
            old = json.loads(suite_file.read_text())
            if old.get("name") != suite.name:
                raise BenchError(
                    f"{out} holds results of suite {old.get('name')!r}, not {suite.name!r}; use another --out"
                )
    for recipe in dict.fromkeys(s.dataset for s in specs):  # before anything is written
        dataset = prepare_dataset(out, recipe, suite.dataset_size, expert_policy_dir, console)
        check_dataset_matches_results(out, recipe, dataset)
    with shared_files_lock(out):
        suite_file.write_text(json.dumps(suite_record(suite), indent=1))
        append_provenance(out / "provenance.json")


def queue_runs(
    suite: Suite,
    out: Path,
    specs: list[RunSpec],
    expert_policy_dir: Path | None,
    console: Console,
) -> tuple[list[tuple[RunSpec, Path, Path]], int]:
    """The (spec, run directory, dataset) of every unfinished run, each with its ``bench.json``
    written, and how many runs had finished already; a run directory made with another config
    or on other data is refused."""
    jobs, skipped = [], 0
    for spec in specs:
        path = run_dir(out, spec)
        dataset = prepare_dataset(out, spec.dataset, suite.dataset_size, expert_policy_dir, console)
        check_consistent(path, spec, dataset)
        if is_finished(path):
            skipped += 1
            continue
        path.mkdir(parents=True, exist_ok=True)
        estimate = suite.cost(spec) if suite.cost is not None else None
        record = spec_record(spec, dataset, estimate)
        (path / "bench.json").write_text(json.dumps(record, indent=1))
        (path / "error.txt").unlink(missing_ok=True)
        jobs.append((spec, path, dataset))
    return jobs, skipped


def suite_record(suite: Suite) -> dict[str, Any]:
    return {
        "name": suite.name,
        "description": suite.description,
        "budget_note": suite.budget_note,
        "estimated_hours": suite.estimated_hours,
        "datasets": list(suite.datasets),
        "dataset_size": suite.dataset_size,
        "seeds": list(suite.seeds),
        "targets": list(suite.targets),
        "reference": suite.reference,
        "cost_note": suite.cost_note,
        "methods": [dataclasses.asdict(m) for m in suite.methods],
        "base": config_to_dict(suite.base),
    }


if __name__ == "__main__":
    raise SystemExit(_worker_main(sys.argv[1:]))
