from __future__ import annotations

import dataclasses
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

# XLA compilation is most of a small test run's time, and many tests (in both xdist workers
# and the `coopo` subprocesses some tests start) compile the same programs: share them through
# JAX's persistent compilation cache. Keys hold the jax version, the program and the compile
# options, so a hit is the very executable a fresh compile would give. Set before JAX is
# imported (below, through coopo); an existing JAX_COMPILATION_CACHE_DIR is respected.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".jax-cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# Most programs compiled here are small and run briefly: skip LLVM's expensive optimisation
# passes (compiles are faster; the same metrics, bit for bit, on the runs checked), unless
# XLA_FLAGS already sets that flag.
if "xla_llvm_disable_expensive_passes" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        "--xla_llvm_disable_expensive_passes=true " + os.environ.get("XLA_FLAGS", "")
    ).strip()

import numpy as np
import pytest

from coopo.config import PRESETS, TrainConfig
from coopo.data import Dataset, build_dataset

PROJECT_SUITES = Path(__file__).resolve().parents[1] / "benchmarks" / "suites.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the slow tests first: with ``-n 2`` the workers then share them out from the
    start and end on short tests, instead of one worker running a long test alone at the end
    (longest-first scheduling). Order within each group is kept."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def build_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]
) -> Path:
    """``build(directory)`` run once per test session, whatever the number of xdist workers.

    The first worker to ask builds under a directory every worker of the session shares
    (the session's base temporary directory's parent under xdist) while holding a file lock;
    the others wait and reuse its result. Returns the path ``build`` returned."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / f"once-{name}"
    root.mkdir(exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "done"
        if not done.is_file():
            (root / "work").mkdir(exist_ok=True)
            done.write_text(str(build(root / "work")))
        return Path(done.read_text())


@functools.cache
def project_suites() -> ModuleType:
    """This project's suite file (benchmarks/suites.py), run once: its ``SUITES``, methods and
    cost functions."""
    from coopo.bench.suites import run_suite_file

    return run_suite_file(PROJECT_SUITES)


SMOKE = dataclasses.replace(PRESETS["smoke"], progress=False, build_size=1_000)
"""The smoke preset on a 1,000-row dataset, no progress display: seconds per run."""


def cfg(tmp_path: Path, name: str = "run", **kw) -> TrainConfig:
    """SMOKE in ``tmp_path/name`` with ``kw`` changed."""
    return dataclasses.replace(SMOKE, run_dir=str(tmp_path / name), **kw)


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never touch the user's cache or Minari root from tests."""
    base = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("COOPO_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(base / "minari"))


@pytest.fixture(scope="session")
def pendulum_dataset() -> Dataset:
    """A small random-policy InvertedPendulum dataset (many short episodes, terminations)."""
    return build_dataset("InvertedPendulum-v5", "random", size=600, seed=3)


def write_policy_file(
    path: Path, obs_dim: int, act_dim: int, seed: int = 0, hidden: int = 8
) -> Path:
    """A plain-MLP policy file in the shared policies' format."""
    rng = np.random.default_rng(seed)
    meta = {
        "env_id": "InvertedPendulum-v5",
        "env_kwargs": {},
        "obs_dim": obs_dim,
        "act_dim": act_dim,
        "hidden_activation": "tanh",
        "output": "tanh",
    }
    np.savez(
        path,
        **{
            "layer0/kernel": rng.normal(size=(obs_dim, hidden)).astype(np.float32),
            "layer0/bias": np.zeros(hidden, np.float32),
            "layer1/kernel": rng.normal(size=(hidden, act_dim)).astype(np.float32),
            "layer1/bias": np.zeros(act_dim, np.float32),
        },
        meta=np.asarray(json.dumps(meta)),
    )
    return path


# A live process holding a run directory's lock (tests of the one-writer rule).
HOLD = "import sys, time; from coopo.runlock import RunLock; RunLock.acquire(sys.argv[1]); print('held', flush=True); time.sleep(600)"


@pytest.fixture
def holder() -> Iterator[Callable[[Path], subprocess.Popen]]:
    procs: list[subprocess.Popen] = []

    def hold(path: Path) -> subprocess.Popen:
        p = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        procs.append(p)
        return p

    yield hold
    for p in procs:
        p.kill()
        p.wait()
