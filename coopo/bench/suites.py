"""Benchmark suites: methods x datasets x seeds, all under one budget.

A suite is data that a user writes in a Python file (see docs/guides/benchmarks.md; this
project's own suites are in benchmarks/suites.py): a base :class:`~coopo.config.TrainConfig`
holding the shared budgets, the datasets (coopo recipes such as ``hopper-medium``, built once
per results directory, or any dataset the runner accepts), and the methods, each a set of
config overrides on the base. Every method inherits the same ``cycles * offline_steps``
offline gradient steps and ``cycles * online_steps`` online environment steps (see
:mod:`coopo.schedule`), so the grid compares methods at equal online interactions.

``expand(suite)`` turns a suite into :class:`RunSpec` s, one per (dataset, method, seed group);
the seeds of a group train together in one process (vmapped). ``load_suites(path)`` reads the
suites a file defines; ``coopo bench FILE.py:NAME`` runs one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from coopo.config import TrainConfig, config_from_dict, config_to_dict
from coopo.schedule import Budget


@dataclass(frozen=True)
class MethodSpec:
    """One column of a suite: a label and the config overrides that define it."""

    name: str
    overrides: dict[str, Any]
    description: str
    baseline: bool = True
    """False for COOPO variants (the method under test); True for the baselines."""
    offline_to_online: bool = False
    """A baseline that fine-tunes after offline pre-training (used for the 'best O2O' target)."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    base: TrainConfig
    datasets: tuple[str, ...]
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...]
    dataset_size: int = 100_000
    """Transitions per built recipe (medium-replay keeps its whole replay buffer)."""
    seeds_per_run: int = 0
    """Seeds trained together in one process (0: all of them)."""
    budget_note: str = ""
    estimated_hours: str = ""
    """Wall-time estimate, stated in ``coopo bench --list`` and the report."""
    targets: tuple[float, ...] = (30.0, 50.0)
    """Normalised-score targets for interactions-to-target (fractions of the expert reference x
    100). The defaults suit reduced budgets on medium data (a medium policy scores about 33)."""
    gpu: bool = False
    reference: str = ""
    """A COOPO variant the others are compared with (ablations); baselines otherwise."""
    chunk_hours: float = 0.0
    """Split the grid into chunks of at most this many wall hours (``coopo bench --list`` prints
    each chunk's command); 0: one piece. Needs ``cost``."""
    cost: Callable[[RunSpec], float] | None = field(default=None, compare=False)
    """Estimated seconds of a run on one `coopo bench` worker, from rates measured on your
    hosts (:func:`rate_cost` builds one from three rates). The bench starts the costliest runs
    first, plans chunks with it and records it in each run's ``bench.json``, where the report
    sets it beside the measured wall time. None: grid order, no chunks, no estimate."""
    cost_note: str = ""
    """How ``cost`` estimates, completing the report's "next to the estimate ..." (e.g. "for one
    worker on one core of our 8-core host, from rates measured by bench_rates.py")."""


@dataclass(frozen=True)
class RunSpec:
    """One process of the grid: a dataset, a method and a group of seeds."""

    suite: str
    dataset: str
    method: str
    seeds: tuple[int, ...]
    config: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.method}/seeds-{'_'.join(map(str, self.seeds))}"

    def train_config(self, dataset_path: str, run_dir: str) -> TrainConfig:
        cfg = config_from_dict(self.config)
        return dataclasses.replace(cfg, dataset=dataset_path, run_dir=run_dir, progress=False)


# ----------------------------------------------------------------------------- costs
def evaluations(config: dict[str, Any]) -> int:
    """Evaluations a run makes per seed: every ``eval_interval`` online env steps inside a
    phase, and at the end of every phase."""
    b, every = Budget.from_config(config), config["eval_interval"]
    inside = (b.online_phase_steps - 1) // every if every and b.online_phase_steps else 0
    return b.phases + inside * b.online_phases


def rate_cost(
    offline_updates: float, online_steps: float, eval_seconds: float = 0.0
) -> Callable[[RunSpec], float]:
    """A :attr:`Suite.cost` from one worker's measured per-seed rates on your host: offline
    updates per second, online env steps per second (collection and ``utd_ratio`` updates
    each, as measured at the suite's UTD) and seconds per evaluation of 10 episodes. Seeds
    cost linearly (vmapping adds no throughput on a CPU). A suite whose algorithms differ much
    in cost passes a function of its own (benchmarks/suites.py: ``worker_seconds``)."""

    def cost(spec: RunSpec) -> float:
        c, b = spec.config, Budget.from_config(spec.config)
        offline, online = b.offline_updates, b.online_env_steps
        evals = evaluations(c) * eval_seconds * c["eval_episodes"] / 10
        return (offline / offline_updates + online / online_steps + evals) * len(spec.seeds)

    return cost


def lpt_wall_seconds(costs: list[float], workers: int) -> float:
    """Wall time of running jobs of ``costs`` on ``workers`` parallel workers, longest first
    (what `coopo bench` does)."""
    loads = [0.0] * max(1, workers)
    for c in sorted(costs, reverse=True):
        i = loads.index(min(loads))
        loads[i] += c
    return max(loads)


# ----------------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class Chunk:
    """A piece of a suite that runs in one `coopo bench` invocation."""

    seeds: tuple[int, ...]
    datasets: tuple[str, ...]
    methods: tuple[str, ...]
    hours: float

    def args(self, suite: Suite) -> list[str]:
        out = ["--seeds", *map(str, self.seeds), "--datasets", *self.datasets]
        if set(self.methods) != {m.name for m in suite.methods}:
            out += ["--methods", *self.methods]
        return out


def seed_groups(seeds: tuple[int, ...], per_run: int) -> list[tuple[int, ...]]:
    """``seeds`` cut into the groups that train together (``per_run`` each; 0: one group)."""
    group = per_run or len(seeds)
    return [tuple(seeds[i : i + group]) for i in range(0, len(seeds), group)]


def chunk_plan(suite: Suite, workers: int = 2) -> list[Chunk]:
    """The suite cut into chunks of at most ``suite.chunk_hours`` wall hours on ``workers``
    workers at the suite's ``cost``. Every chunk is one seed group (``seeds_per_run``) x some
    datasets x some methods, so that `coopo bench`'s filters select it: the methods are split
    into the fewest sets, costliest first, whose runs on one dataset fit a chunk, and each set
    then takes as many datasets per chunk as fit."""
    if not suite.chunk_hours:
        return []
    if suite.cost is None:
        raise ValueError(f"suite {suite.name!r} sets chunk_hours but no cost to plan them with")
    cost = {(s.dataset, s.method, s.seeds): suite.cost(s) for s in expand(suite)}
    chunks: list[Chunk] = []
    for g in seed_groups(suite.seeds, suite.seeds_per_run):
        chunks += _group_chunks(suite, g, cost, workers)
    return chunks


def _group_chunks(
    suite: Suite,
    g: tuple[int, ...],
    cost: dict[tuple[str, str, tuple[int, ...]], float],
    workers: int,
) -> list[Chunk]:
    """The chunks of one seed group (see :func:`chunk_plan`)."""
    limit = suite.chunk_hours * 3600

    def wall(ds: list[str], ms: list[str]) -> float:
        return lpt_wall_seconds([cost[(d, m, g)] for d in ds for m in ms], workers)

    def dear(m: str) -> float:
        return max(cost[(d, m, g)] for d in suite.datasets)

    method_sets: list[list[str]] = []
    for m in sorted((m.name for m in suite.methods), key=lambda m: -dear(m)):
        for ms in method_sets:
            if all(wall([d], [*ms, m]) <= limit for d in suite.datasets):
                ms.append(m)
                break
        else:
            method_sets.append([m])
    order = {m.name: i for i, m in enumerate(suite.methods)}
    chunks: list[Chunk] = []
    for ms in method_sets:
        ms.sort(key=order.__getitem__)
        ds: list[str] = []
        for d in suite.datasets:
            if ds and wall([*ds, d], ms) > limit:
                chunks.append(Chunk(g, tuple(ds), tuple(ms), wall(ds, ms) / 3600))
                ds = []
            ds.append(d)
        chunks.append(Chunk(g, tuple(ds), tuple(ms), wall(ds, ms) / 3600))
    return chunks


# ----------------------------------------------------------------------------- expansion
def _with(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    nested = {k: v for k, v in overrides.items() if isinstance(v, dict) and k != "env_kwargs"}
    flat = {k: v for k, v in overrides.items() if k not in nested}
    cfg = dataclasses.replace(cfg, **flat)
    for k, v in nested.items():
        cfg = dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v)})
    return cfg


def expand(suite: Suite, seeds: tuple[int, ...] | None = None) -> list[RunSpec]:
    from coopo.config import validate_config
    from coopo.recipes import TASKS, parse_recipe

    groups = seed_groups(seeds or suite.seeds, suite.seeds_per_run)
    specs = []
    for ds in suite.datasets:
        task, _ = parse_recipe(ds)
        env_id, kw = TASKS[task]
        for m in suite.methods:
            cfg = _with(suite.base, {"env_id": env_id, **m.overrides})
            cfg = dataclasses.replace(cfg, env_kwargs={k: str(v).lower() for k, v in kw.items()})
            for g in groups:
                run = dataclasses.replace(cfg, seeds=g, dataset=f"recipe:{ds}", progress=False)
                validate_config(run)
                specs.append(RunSpec(suite.name, ds, m.name, g, config_to_dict(run)))
    return specs


# ----------------------------------------------------------------------------- suite files
class SuiteSpecError(ValueError):
    """A ``FILE.py:NAME`` that names no suite (a missing file, an unknown name)."""


def run_suite_file(path: str | Path) -> ModuleType:
    """A suite file run as a module of its own (anew at each call)."""
    path = Path(path)
    if not path.is_file():
        raise SuiteSpecError(f"no suite file {str(path)!r}")
    name = "coopo_suites_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses defined in the file look their module up there
    spec.loader.exec_module(module)
    return module


def load_suites(path: str | Path) -> dict[str, Suite]:
    """The suites a Python file defines, by name, in the order it defines them: every
    :class:`Suite` bound to a module-level name or held in a module-level list, tuple or dict
    (such as a ``SUITES`` dict)."""
    suites: dict[str, Suite] = {}
    for value in vars(run_suite_file(path)).values():
        held = value.values() if isinstance(value, dict) else value
        for s in held if isinstance(value, list | tuple | dict) else [value]:
            if isinstance(s, Suite) and suites.setdefault(s.name, s) is not s:
                raise SuiteSpecError(f"{path} defines two suites named {s.name!r}")
    return suites


def load_suite(spec: str) -> Suite:
    """The suite ``FILE.py:NAME`` names (``coopo bench``'s first argument)."""
    file, sep, name = spec.rpartition(":")
    if not sep:
        file, name = spec, ""
    if not Path(file).is_file():
        raise SuiteSpecError(f"no suite file {file!r} (coopo bench FILE.py:NAME)")
    suites = load_suites(file)
    if name not in suites:
        names = ", ".join(suites) or "none"
        if not name:
            raise SuiteSpecError(f"name a suite of {file} as {file}:NAME; its suites: {names}")
        raise SuiteSpecError(f"{file} has no suite {name!r}; its suites: {names}")
    return suites[name]
