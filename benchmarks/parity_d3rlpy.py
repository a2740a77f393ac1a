"""Parity with d3rlpy: coopo's offline algorithms against d3rlpy 2.8.1's, on the same data.

For AWAC, IQL, CQL, Cal-QL (coopo at 2 and at 10 sampled actions per source, d3rlpy at its
reference 10) and TD3+BC: offline training on the coopo-built halfcheetah-medium and
hopper-medium-replay datasets of the held-out suite, with the same architecture (256-256 ReLU,
twin critics, batch 256), the observations standardised with the dataset's statistics on
both sides, and every hyperparameter both libraries expose set equal (:data:`CELLS`; the ones
that cannot be are in :data:`UNMATCHED`, printed by ``--list``). Each side evaluates 10
deterministic episodes every ``updates / 10`` updates; a run's final score is the mean of its
last 3 evaluations. Each seed of each side runs in its own process with one thread.

    python benchmarks/parity_d3rlpy.py --list                      # the grid and its CPU hours
    python benchmarks/parity_d3rlpy.py --algos iql --datasets hopper-medium-replay --seeds 0 1
    python benchmarks/parity_d3rlpy.py --table                     # the table of what has run

The datasets are the held-out suite's builds, kept on the ``bench-datasets`` branch:
``python benchmarks/datasets.py fetch benchmarks/results/cpu-heldout`` restores them.

d3rlpy pins gymnasium 1.0 and coopo needs >= 1.1, so d3rlpy's side runs in its own
environment (``--d3rlpy-python``, default ``/work/d3rlpy-venv/bin/python``):

    python3 -m venv VENV && VENV/bin/pip install -r benchmarks/requirements-d3rlpy.txt

Results accumulate in one JSON (``--out``, default
``benchmarks/results/parity-d3rlpy/results.json``): every (side, algorithm, dataset, seed)
with its evaluations and wall time, and the provenance of each invocation, so the grid can
run in chunks. This module imports only the standard library and numpy at the top: the
d3rlpy side imports it too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATASET_DIR = HERE / "results" / "cpu-heldout" / "datasets"
DATASETS = ("halfcheetah-medium", "hopper-medium-replay")
OUT = HERE / "results" / "parity-d3rlpy" / "results.json"
D3RLPY_PYTHON = "/work/d3rlpy-venv/bin/python"
UPDATES = 30_000
EVALUATIONS = 10
"""Evaluations per run, every ``updates / EVALUATIONS`` updates."""
EVAL_EPISODES = 10
FINAL_EVALUATIONS = 3
SEEDS = (0, 1, 2, 3, 4)
HIDDEN = (256, 256)
BATCH = 256


def dataset_path(dataset: str) -> Path:
    """The held-out suite's build of ``dataset``, which its runs trained on."""
    return DATASET_DIR / f"{dataset}-n100000.npz"


def require_datasets(datasets: list[str]) -> None:
    """Stop, saying how to restore them, if the held-out suite's datasets are not here."""
    for dataset in datasets:
        if not dataset_path(dataset).is_file():
            raise SystemExit(
                f"{dataset_path(dataset)}: missing; restore the held-out suite's datasets with "
                "`python benchmarks/datasets.py fetch benchmarks/results/cpu-heldout`"
            )


# ----------------------------------------------------------------------------- the grid
@dataclass(frozen=True)
class Cell:
    """One algorithm on both sides: coopo's registry name and config fields, d3rlpy's config
    class and arguments, each hyperparameter given explicitly on both sides."""

    name: str
    coopo_algorithm: str
    coopo_fields: dict[str, Any]
    d3rlpy_class: str
    d3rlpy_kwargs: dict[str, Any]
    unmatched: tuple[tuple[str, str], ...] = field(default=())
    """(hyperparameter or behaviour, why it differs) for this algorithm."""


# Shared by every cell: discount, Polyak rate, batch size, 256-256 networks, twin critics.
_D3_COMMON = {"batch_size": BATCH, "gamma": 0.99, "tau": 0.005}
_CQL_COOPO = {
    "actor_lr": 1e-4,
    "critic_lr": 3e-4,
    "temperature_lr": 1e-4,
    "discount": 0.99,
    "tau": 0.005,
    "cql_alpha": 5.0,
    "cql_temperature": 1.0,
    "init_temperature": 1.0,
    "backup_entropy": False,
    "kl_coef": 0.0,
    "critic_warmup_steps": 0,
}
_CQL_D3 = {
    **_D3_COMMON,
    "n_critics": 2,
    "actor_learning_rate": 1e-4,
    "critic_learning_rate": 3e-4,
    "temp_learning_rate": 1e-4,
    "initial_temperature": 1.0,
    # d3rlpy scales the penalty by conservative_weight x a Lagrange alpha; a learning rate of
    # 0 holds alpha at initial_alpha = 1, so the weight is a fixed 5 like coopo's cql_alpha
    "conservative_weight": 5.0,
    "initial_alpha": 1.0,
    "alpha_learning_rate": 0.0,
    "n_action_samples": 10,
    "soft_q_backup": False,
    "max_q_backup": False,
}
_CQL_UNMATCHED = (
    (
        "alpha_threshold",
        "d3rlpy subtracts it inside the penalty (weight x (penalty - 10)); with alpha fixed it "
        "is a constant without gradient, coopo has no such term",
    ),
)


def cells() -> dict[str, Cell]:
    """Every algorithm of the grid, its coopo and d3rlpy configurations spelled out."""
    return {
        "awac": Cell(
            "awac",
            "awac_kl",
            {
                "actor_lr": 3e-4,
                "critic_lr": 3e-4,
                "discount": 0.99,
                "tau": 0.005,
                "awac_lambda": 1.0,
                "max_weight": 100.0,
                "kl_coef": 0.0,  # AWAC-KL's KL term off: plain AWAC
                "value_samples": 1,
            },
            "AWACConfig",
            {
                **_D3_COMMON,
                "n_critics": 2,
                "actor_learning_rate": 3e-4,
                "critic_learning_rate": 3e-4,
                "lam": 1.0,
                "n_action_samples": 1,
            },
            (
                (
                    "advantage weights",
                    "coopo: exp(A / lambda) clipped at max_weight 100; d3rlpy: softmax(A / "
                    "lambda) over the batch times the batch size, no clip (d3rlpy has no "
                    "max_weight)",
                ),
                (
                    "actor loss reduction",
                    "d3rlpy sums the weighted log-likelihood over the batch, coopo averages it "
                    "(Adam makes the step nearly scale-free; its epsilon does not)",
                ),
                (
                    "policy distribution",
                    "coopo: tanh-squashed Gaussian with a state-dependent std; d3rlpy: "
                    "Gaussian around tanh(mean) with a state-independent log std in [-6, 0], "
                    "the data action's likelihood taken without a tanh correction",
                ),
            ),
        ),
        "iql": Cell(
            "iql",
            "iql",
            {
                "actor_lr": 3e-4,
                "critic_lr": 3e-4,
                "value_lr": 3e-4,
                "discount": 0.99,
                "tau": 0.005,
                "expectile": 0.7,
                "beta": 3.0,
                "max_weight": 100.0,
                "kl_coef": 0.0,
            },
            "IQLConfig",
            {
                **_D3_COMMON,
                "n_critics": 2,
                "actor_learning_rate": 3e-4,
                "critic_learning_rate": 3e-4,  # d3rlpy: Q functions and V share it
                "expectile": 0.7,
                "weight_temp": 3.0,
                "max_weight": 100.0,
            },
            (
                (
                    "policy distribution",
                    "coopo: tanh-squashed Gaussian with a state-dependent std; d3rlpy (as the "
                    "paper): Gaussian around tanh(mean) with a state-independent log std in "
                    "[-5, 2]",
                ),
                (
                    "actor learning-rate schedule",
                    "neither decays it here (the IQL paper's cosine decay over 1M steps is in "
                    "neither default)",
                ),
            ),
        ),
        "cql": Cell(
            "cql",
            "cql",
            {**_CQL_COOPO, "num_samples": 10},
            "CQLConfig",
            dict(_CQL_D3),
            _CQL_UNMATCHED,
        ),
        "cal_ql-2": Cell(
            "cal_ql-2",
            "cal_ql",
            {**_CQL_COOPO, "num_samples": 2},
            "CalQLConfig",
            dict(_CQL_D3),
            (
                *_CQL_UNMATCHED,
                (
                    "sampled actions per source",
                    "coopo 2 (its default, about 3.8x cheaper per update) against d3rlpy's "
                    "reference 10: this cell measures what the cheaper default costs",
                ),
            ),
        ),
        "cal_ql-10": Cell(
            "cal_ql-10",
            "cal_ql",
            {**_CQL_COOPO, "num_samples": 10},
            "CalQLConfig",
            dict(_CQL_D3),
            _CQL_UNMATCHED,
        ),
        "td3_bc": Cell(
            "td3_bc",
            "td3_bc",
            {
                "actor_lr": 3e-4,
                "critic_lr": 3e-4,
                "discount": 0.99,
                "tau": 0.005,
                "policy_noise": 0.2,
                "noise_clip": 0.5,
                "exploration_noise": 0.1,  # acting online only: unused here
                "policy_delay": 2,
                "alpha": 2.5,
            },
            "TD3PlusBCConfig",
            {
                **_D3_COMMON,
                "n_critics": 2,
                "actor_learning_rate": 3e-4,
                "critic_learning_rate": 3e-4,
                "target_smoothing_sigma": 0.2,
                "target_smoothing_clip": 0.5,
                "update_actor_interval": 2,
                "alpha": 2.5,
            },
            (
                (
                    "policy network",
                    "coopo: the mean head of its tanh-Gaussian actor (a std head that is never "
                    "trained); d3rlpy: a deterministic tanh policy; same function class",
                ),
            ),
        ),
    }


# coopo's name of a hyperparameter and d3rlpy's, set equal wherever a cell has both (checked
# by tests/bench/test_benchmark_configs.py; cql_alpha is d3rlpy's conservative_weight with its
# Lagrange alpha held at 1).
PAIRED: tuple[tuple[str, str], ...] = (
    ("actor_lr", "actor_learning_rate"),
    ("critic_lr", "critic_learning_rate"),
    ("value_lr", "critic_learning_rate"),
    ("temperature_lr", "temp_learning_rate"),
    ("init_temperature", "initial_temperature"),
    ("discount", "gamma"),
    ("tau", "tau"),
    ("awac_lambda", "lam"),
    ("value_samples", "n_action_samples"),
    ("expectile", "expectile"),
    ("beta", "weight_temp"),
    ("max_weight", "max_weight"),
    ("cql_alpha", "conservative_weight"),
    ("num_samples", "n_action_samples"),
    ("backup_entropy", "soft_q_backup"),
    ("policy_noise", "target_smoothing_sigma"),
    ("noise_clip", "target_smoothing_clip"),
    ("policy_delay", "update_actor_interval"),
    ("alpha", "alpha"),
)
"""Also equal on every cell: batch size 256, 256-256 networks, 2 critics, observation
standardisation, no reward scaling."""

# Differences that hold for every cell.
UNMATCHED: tuple[tuple[str, str], ...] = (
    (
        "network initialisation",
        "coopo: orthogonal kernels (gain sqrt 2, output layers 0.01); d3rlpy: PyTorch's "
        "defaults (Kaiming uniform)",
    ),
    (
        "observation standardisation epsilon",
        "both standardise with the dataset's mean and std; the small constant added to the std "
        "is each library's own",
    ),
    (
        "transitions at a time limit",
        "coopo keeps the dataset's next_observations for a truncated episode's last step; "
        "d3rlpy rebuilds next observations from the episode and drops that last transition",
    ),
    (
        "evaluation environment",
        "the same MuJoCo v5 task through gymnasium 1.0 (d3rlpy's pin) and coopo's gymnasium; "
        "each side seeds its own evaluation episodes",
    ),
    (
        "Cal-QL return-to-go",
        "both compute discounted returns per episode without bootstrapping past its end, "
        "coopo once from the dataset, d3rlpy per sampled transition",
    ),
)


def coopo_config(
    cell: Cell, dataset: str, seeds: tuple[int, ...], updates: int, run_dir: str
) -> dict[str, Any]:
    """The TrainConfig fields of coopo's side: offline only, the algorithm and its config
    named, one offline phase of ``updates`` with an evaluation every ``updates / 10``."""
    from coopo.config import algorithm
    from coopo.networks import NetworkConfig

    algo_config = algorithm(cell.coopo_algorithm).Config(**cell.coopo_fields)
    return {
        "env_id": env_id(dataset),
        "dataset": str(dataset_path(dataset)),
        "method": "offline",
        "offline": cell.coopo_algorithm,
        "online": "sac",  # never used: method=offline has no online phase
        cell.coopo_algorithm: algo_config,
        "cycles": 1,
        "offline_steps": updates,
        "offline_eval_interval": updates // EVALUATIONS,
        "offline_data": "dataset",
        "batch_size": BATCH,
        "normalize_observations": True,
        "reward_scale": 1.0,
        "eval_episodes": EVAL_EPISODES,
        "scan_length": min(1_000, updates // EVALUATIONS),
        "seeds": tuple(seeds),
        "run_dir": run_dir,
        "progress": False,
        "network": NetworkConfig(hidden_dims=HIDDEN, num_critics=2),
    }


ENV_IDS = {"halfcheetah-medium": "HalfCheetah-v5", "hopper-medium-replay": "Hopper-v5"}
"""The environment of each dataset (as its file's metadata records)."""


def env_id(dataset: str) -> str:
    return ENV_IDS[dataset]


def reference_scores(dataset: str) -> tuple[float, float]:
    """The dataset's normalised-score references, as coopo's evaluation reads them."""
    with np.load(dataset_path(dataset), allow_pickle=True) as d:
        meta = json.loads(str(d["metadata"]))
    return float(meta["ref_min_score"]), float(meta["ref_max_score"])


# ----------------------------------------------------------------------------- cost
# Seconds per update of one single-threaded process on this project's 2-core CPU. coopo:
# CPU_WORKER_RATES in benchmarks/suites.py (AWAC-KL, IQL measured; a CQL / Cal-QL update costs
# a + b * samples; TD3+BC is not measured and is taken at an AWAC-KL update). d3rlpy: its AWAC
# and IQL rows of benchmarks/results/throughput-cpu-2core.json were 2.95x and 2.91x slower
# than coopo's; the other algorithms are assumed 2.9x slower than coopo's too (not measured).
D3RLPY_SLOWDOWN = 2.9
EVAL_SECONDS = {"coopo": 0.85, "d3rlpy": 10.0}
"""Seconds per evaluation of 10 full-length episodes (d3rlpy's torch inference per step is
assumed about 10x coopo's jitted one: a guess)."""


def seconds_per_update(cell: Cell) -> float:
    from coopo.bench.suites import run_suite_file

    rates = run_suite_file(Path(__file__).with_name("suites.py")).CPU_WORKER_RATES
    if cell.coopo_algorithm in ("cql", "cal_ql"):
        a, b = rates["calql_update_s"]
        return float(a + b * cell.coopo_fields["num_samples"])
    name = cell.coopo_algorithm if cell.coopo_algorithm in ("awac_kl", "iql") else "awac_kl"
    return 1.0 / float(rates["offline_updates"][name])


def cpu_seconds(cell: Cell, side: str, updates: int) -> float:
    """Estimated CPU seconds of one seed of ``cell`` on ``side``."""
    if side == "coopo":
        per_update = seconds_per_update(cell)
    else:  # d3rlpy runs CQL and Cal-QL at n_action_samples, 10, whatever coopo's cell uses
        samples = {"num_samples": cell.d3rlpy_kwargs.get("n_action_samples", 0)}
        at_d3 = Cell(cell.name, cell.coopo_algorithm, {**cell.coopo_fields, **samples}, "", {})
        per_update = seconds_per_update(at_d3) * D3RLPY_SLOWDOWN
    return updates * per_update + EVALUATIONS * EVAL_SECONDS[side]


# ----------------------------------------------------------------------------- the two sides
def run_coopo(spec: dict[str, Any]) -> dict[str, Any]:
    """coopo's side of one (cell, dataset) for ``spec['seeds']``, in this process (the caller
    starts it with one XLA thread)."""
    from coopo.api import train
    from coopo.config import TrainConfig

    cell = cells()[spec["cell"]]
    seeds = tuple(spec["seeds"])
    t = time.perf_counter()
    train(
        TrainConfig(**coopo_config(cell, spec["dataset"], seeds, spec["updates"], spec["run_dir"]))
    )
    wall = time.perf_counter() - t
    per_seed: dict[str, Any] = {str(s): [] for s in spec["seeds"]}
    from coopo.jsonfile import read_metrics

    for row in read_metrics(spec["run_dir"]):
        if "eval/normalized_score" in row:
            per_seed[str(row["seed"])].append(
                [int(row["grad_steps"]), float(row["eval/normalized_score"])]
            )
    return {"evals": {s: _dedupe(e) for s, e in per_seed.items()}, "wall_s": wall}


def _dedupe(evals: list[list[float]]) -> list[list[float]]:
    """One evaluation per update count (the last, if an interval one and the phase-end one
    fall on the same count); the update-0 evaluation, if any, is dropped."""
    by_step = {int(s): v for s, v in evals if s > 0}
    return [[s, by_step[s]] for s in sorted(by_step)]


def run_d3rlpy(spec: dict[str, Any]) -> dict[str, Any]:
    """d3rlpy's side of one (cell, dataset, seed), in the d3rlpy environment."""
    import d3rlpy
    import gymnasium as gym
    import torch

    torch.set_num_threads(spec["threads"])
    seed = int(spec["seed"])
    d3rlpy.seed(seed)
    cell = cells()[spec["cell"]]
    with np.load(dataset_path(spec["dataset"]), allow_pickle=True) as d:
        terminals = d["terminated"].astype(np.float32)
        timeouts = (d["truncated"] & ~d["terminated"]).astype(np.float32)
        if not (terminals[-1] or timeouts[-1]):
            timeouts[-1] = 1.0  # the dataset's last, unfinished episode ends there
        ds = d3rlpy.dataset.MDPDataset(
            observations=d["observations"].astype(np.float32),
            actions=d["actions"].astype(np.float32),
            rewards=d["rewards"].astype(np.float32),
            terminals=terminals,
            timeouts=timeouts,
        )
    enc = d3rlpy.models.VectorEncoderFactory(hidden_units=list(HIDDEN))
    extra = {"value_encoder_factory": enc} if cell.d3rlpy_class == "IQLConfig" else {}
    algo = getattr(d3rlpy.algos, cell.d3rlpy_class)(
        actor_encoder_factory=enc,
        critic_encoder_factory=enc,
        observation_scaler=d3rlpy.preprocessing.StandardObservationScaler(),
        **extra,
        **cell.d3rlpy_kwargs,
    ).create(device="cpu")
    env = gym.make(spec["env_id"])
    ref_min, ref_max = spec["ref"]
    every = spec["updates"] // EVALUATIONS
    evals, t = [], time.perf_counter()
    for k in range(1, EVALUATIONS + 1):
        algo.fit(
            ds,
            n_steps=every,
            n_steps_per_epoch=every,
            show_progress=False,
            save_interval=10**9,
            logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
        )
        returns = []
        for ep in range(EVAL_EPISODES):
            obs, _ = env.reset(seed=10_000 * (seed + 1) + 100 * k + ep)
            done, ret = False, 0.0
            while not done:
                action = algo.predict(np.asarray(obs, np.float32)[None])[0]
                obs, r, term, trunc, _ = env.step(action)
                ret, done = ret + float(r), term or trunc
            returns.append(ret)
        score = 100.0 * (float(np.mean(returns)) - ref_min) / (ref_max - ref_min)
        evals.append([k * every, score])
    return {"evals": evals, "wall_s": time.perf_counter() - t}


def _child(python: str, mode: str, spec: dict[str, Any], threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}"
    )
    env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run(
        [python, str(Path(__file__).resolve()), mode, json.dumps(spec)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{mode} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- results
def final_score(evals: list[list[float]]) -> float:
    return float(np.mean([s for _, s in evals[-FINAL_EVALUATIONS:]]))


def load(out: Path) -> dict[str, Any]:
    if out.is_file():
        return json.loads(out.read_text())
    return {"runs": {}, "invocations": []}


def record(out: Path, key: str, value: dict[str, Any]) -> None:
    """Merge one run into the results file (written after every run: an interrupted chunk
    keeps what finished)."""
    res = load(out)
    res["runs"][key] = value
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, sort_keys=True))


def run_key(side: str, name: str, dataset: str, updates: int, seed: int) -> str:
    return f"{side}/{name}/{dataset}/updates-{updates}/seed-{seed}"


def table(res: dict[str, Any], updates: int) -> str:
    """Per algorithm and dataset: each side's final score (mean [95% bootstrap CI], seeds),
    coopo minus d3rlpy [95% CI], and each side's wall time per seed."""
    lines = [
        "| algorithm | dataset | coopo final | d3rlpy final | coopo - d3rlpy | coopo wall min/seed "
        "| d3rlpy wall min/seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in cells():
        for dataset in DATASETS:
            side: dict[str, tuple[np.ndarray, float]] = {}
            for s in ("coopo", "d3rlpy"):
                prefix = run_key(s, name, dataset, updates, 0).rsplit("/", 1)[0] + "/"
                runs = [v for k, v in res["runs"].items() if k.startswith(prefix)]
                if runs:
                    finals = np.array([final_score(r["evals"]) for r in runs])
                    side[s] = (finals, sum(r["wall_s"] for r in runs) / len(runs))
            if not side:
                continue

            diff = "-"
            if len(side) == 2 and min(len(side["coopo"][0]), len(side["d3rlpy"][0])) > 1:
                p, lo, hi = difference_interval(side["coopo"][0], side["d3rlpy"][0])
                diff = f"{p:+.1f} [{lo:+.1f}, {hi:+.1f}]"
            elif len(side) == 2:
                diff = f"{side['coopo'][0].mean() - side['d3rlpy'][0].mean():+.1f} (1 seed)"
            walls = [f"{side[s][1] / 60:.1f}" if s in side else "-" for s in ("coopo", "d3rlpy")]
            lines.append(
                f"| {name} | {dataset} | {_score_text(side, 'coopo')} "
                f"| {_score_text(side, 'd3rlpy')} | {diff} "
                f"| {walls[0]} | {walls[1]} |"
            )
    return "\n".join(lines)


def _score_text(side: dict[str, tuple[np.ndarray, float]], s: str) -> str:
    """A side's final scores as mean [95% stratified-bootstrap CI] (seeds)."""
    from coopo.bench import stats

    if s not in side:
        return "-"
    x = side[s][0]
    p, lo, hi = stats.interval(x) if len(x) > 1 else (x[0], x[0], x[0])
    return f"{p:.1f} [{lo:.1f}, {hi:.1f}] ({len(x)})"


def difference_interval(x: np.ndarray, y: np.ndarray, reps: int = 2000) -> tuple[float, ...]:
    """mean(x) - mean(y) with a 95% independent-samples bootstrap percentile interval (arch)."""
    from arch.bootstrap import IndependentSamplesBootstrap

    bs = IndependentSamplesBootstrap(x, y, seed=np.random.default_rng(0))
    lo, hi = bs.conf_int(lambda a, b: a.mean() - b.mean(), reps=reps, method="percentile")[:, 0]
    return float(x.mean() - y.mean()), float(lo), float(hi)


def grid_lines(algos: list[str], datasets: list[str], seeds: list[int], updates: int) -> str:
    """The grid, the hyperparameters that differ, and its CPU-hour estimate."""
    cs = cells()
    out = [
        f"grid: {len(algos)} algorithms x {len(datasets)} datasets x {len(seeds)} seeds x 2 "
        f"sides = {2 * len(algos) * len(datasets) * len(seeds)} runs of {updates} updates, "
        f"{EVALUATIONS} evaluations of {EVAL_EPISODES} episodes each",
        "",
        f"{'algorithm':<10} {'coopo h/seed':>12} {'d3rlpy h/seed':>13} {'cell CPU h':>10}",
    ]
    total = 0.0
    for a in algos:
        c, d3 = (cpu_seconds(cs[a], s, updates) / 3600 for s in ("coopo", "d3rlpy"))
        cell_h = (c + d3) * len(datasets) * len(seeds)
        total += cell_h
        out.append(f"{a:<10} {c:>12.2f} {d3:>13.2f} {cell_h:>10.1f}")
    out += [
        "",
        f"total: {total:.1f} CPU-hours (one core per process; halve for wall hours on both "
        "cores of this machine). coopo from measured rates (benchmarks/suites.py), d3rlpy's "
        f"assumed {D3RLPY_SLOWDOWN}x coopo's per update (measured for AWAC and IQL only) and "
        f"{EVAL_SECONDS['d3rlpy']:.0f} s per evaluation (a guess)",
        "",
        "set equal on both sides (coopo = d3rlpy), where the algorithm has them: "
        + ", ".join(f"{c} = {d}" for c, d in PAIRED)
        + "; batch size 256, 256-256 networks, 2 critics, standardised observations",
        "",
        "hyperparameters that cannot be set equal, and why:",
    ]
    for a in algos:
        out += [f"  {a}: {what}: {why}" for what, why in cs[a].unmatched]
    out += [f"  all: {what}: {why}" for what, why in UNMATCHED]
    return "\n".join(out)


# ----------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--list", action="store_true", help="print the grid and its CPU hours")
    p.add_argument("--table", action="store_true", help="print the table of --out and exit")
    p.add_argument("--algos", nargs="+", default=list(cells()), choices=list(cells()))
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument("--updates", type=int, default=UPDATES)
    p.add_argument("--sides", nargs="+", default=["coopo", "d3rlpy"], choices=["coopo", "d3rlpy"])
    p.add_argument("--threads", type=int, default=1, help="threads per process (each side)")
    p.add_argument("--d3rlpy-python", default=D3RLPY_PYTHON)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--work", type=Path, default=Path("/tmp/coopo-parity"), help="coopo run dirs")
    p.add_argument("--coopo-child", help=argparse.SUPPRESS)
    p.add_argument("--d3rlpy-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.coopo_child:
        print(json.dumps(run_coopo(json.loads(args.coopo_child))))
        return
    if args.d3rlpy_child:
        print(json.dumps(run_d3rlpy(json.loads(args.d3rlpy_child))))
        return
    if args.updates % EVALUATIONS:
        p.error(f"--updates must be a multiple of {EVALUATIONS}")
    if args.list:
        print(grid_lines(args.algos, args.datasets, args.seeds, args.updates))
        return
    if args.table:
        print(table(load(args.out), args.updates))
        return

    from coopo import provenance

    require_datasets(args.datasets)
    res = load(args.out)
    res["invocations"].append(
        {
            "command": "python benchmarks/parity_d3rlpy.py " + " ".join(sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "provenance": provenance.collect(),
            "d3rlpy_python": args.d3rlpy_python,
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, sort_keys=True))
    for name in args.algos:
        for dataset in args.datasets:
            stamp = f"{name}/{dataset}/updates-{args.updates}"
            base = {"cell": name, "dataset": dataset, "updates": args.updates}
            if "coopo" in args.sides:
                run_dir = args.work / stamp / f"seeds-{'_'.join(map(str, args.seeds))}"
                if run_dir.exists():
                    raise SystemExit(f"{run_dir} exists: remove it or pick another --work")
                spec = {**base, "seeds": args.seeds, "run_dir": str(run_dir)}
                got = _child(sys.executable, "--coopo-child", spec, args.threads)
                for s in args.seeds:
                    record(
                        args.out,
                        run_key("coopo", name, dataset, args.updates, s),
                        {
                            "evals": got["evals"][str(s)],
                            # the seeds ran vmapped in one process: each gets its share
                            "wall_s": got["wall_s"] / len(args.seeds),
                            "updates": args.updates,
                            "seeds_in_process": len(args.seeds),
                        },
                    )
                print(
                    f"coopo  {stamp} seeds {args.seeds}: {got['wall_s'] / 60:.1f} min", flush=True
                )
            if "d3rlpy" in args.sides:
                for s in args.seeds:
                    spec = {
                        **base,
                        "seed": s,
                        "env_id": env_id(dataset),
                        "ref": reference_scores(dataset),
                        "threads": args.threads,
                    }
                    got = _child(args.d3rlpy_python, "--d3rlpy-child", spec, args.threads)
                    record(
                        args.out,
                        run_key("d3rlpy", name, dataset, args.updates, s),
                        {**got, "updates": args.updates, "seeds_in_process": 1},
                    )
                    print(f"d3rlpy {stamp} seed {s}: {got['wall_s'] / 60:.1f} min", flush=True)
    print(table(load(args.out), args.updates))


if __name__ == "__main__":
    main()
