"""Throughput benchmark: coopo's offline and online phases, multi-seed scaling, the matmul
roofline, peak memory, and d3rlpy side by side.

    python benchmarks/throughput.py                # full table, writes benchmarks/results/throughput-<device>.json
    python benchmarks/throughput.py --quick        # fewer repetitions (smoke)

The d3rlpy rows run ``benchmarks/d3rlpy_rows.py`` in a separate environment
(``--d3rlpy-python``, default ``.venv-bench/bin/python``; d3rlpy pins gymnasium 1.0):

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r benchmarks/requirements-d3rlpy.txt

Every row is measured in this one invocation, so ratios compare like with like on a shared
machine. Architecture everywhere: 256-256 ReLU MLPs, twin critics, batch 256, Adam 3e-4.

Every row names its algorithm, and its configuration pins it (:func:`update_benches`,
:func:`online_config`): a row labelled "online sac" runs SAC whatever coopo's default online
optimizer is (today Cal-QL with 2 sampled actions, which has rows of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from coopo import phases, provenance
from coopo.algos import ALGORITHMS, awac_kl, cal_ql, iql, sac
from coopo.buffers import replay_init
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec

RESULTS = Path(__file__).parent / "results"
HOPPER = EnvSpec(obs_dim=11, act_dim=3)
NET = NetworkConfig(hidden_dims=(256, 256))
BATCH = 256


def device_name() -> str:
    d = jax.devices()[0]
    if d.platform == "cpu":
        import os

        return f"cpu-{os.cpu_count()}core"
    return d.device_kind.lower().replace(" ", "-")


def synthetic_dataset(n: int, spec: EnvSpec, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    f32 = np.float32
    return phases.to_device(
        rng.standard_normal((n, spec.obs_dim), dtype=f32),
        rng.random((n, spec.act_dim), dtype=f32) * 2 - 1,
        rng.standard_normal(n, dtype=f32),
        rng.standard_normal((n, spec.obs_dim), dtype=f32),
        (rng.random(n, dtype=f32) < 0.01).astype(f32),
        np.zeros(n, f32),
        np.zeros(n, f32),
    )


def timed(fn: Any, repeats: int) -> float:
    """Best-of-``repeats`` wall time of ``fn()`` (after one warm-up call that compiles)."""
    jax.block_until_ready(fn())
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t)
    return best


# ----------------------------------------------------------------------------- configurations
# Cal-QL's sampled actions per source in coopo's default online optimizer (the reference uses
# 10; coopo.config.COOPO_ALGO_DEFAULTS).
DEFAULT_CALQL_SAMPLES = 2


@dataclass(frozen=True)
class UpdateBench:
    """One algorithm's update timed alone: the row label, the registry name and its config,
    all explicit (never a default that may change under the label)."""

    label: str
    algorithm: str
    config: Any
    seed_scaling: bool = False
    """Also time it vmapped over 4 and 10 seeds."""


def update_benches() -> tuple[UpdateBench, ...]:
    """Every update the throughput table times, each with its fraction of the roofline."""
    return (
        UpdateBench("offline awac_kl", "awac_kl", awac_kl.Config(), seed_scaling=True),
        UpdateBench("offline iql", "iql", iql.Config(), seed_scaling=True),
        UpdateBench("online sac", "sac", sac.Config()),
        UpdateBench(
            f"online cal_ql ({DEFAULT_CALQL_SAMPLES} sampled actions, coopo's default)",
            "cal_ql",
            cal_ql.Config(num_samples=DEFAULT_CALQL_SAMPLES),
        ),
        UpdateBench(
            "online cal_ql (10 sampled actions, the reference)",
            "cal_ql",
            cal_ql.Config(num_samples=10),
        ),
    )


# Online rows: (optimizer, seed counts, whether to add the 'before vector envs' rows).
ONLINE_ROWS: tuple[tuple[str, tuple[int, ...], bool], ...] = (
    ("sac", (1, 4, 10), True),
    ("cal_ql", (1, 10), False),
)


def online_config(optimizer: str, seeds: int, vector_env: str | None = None) -> dict[str, Any]:
    """The TrainConfig fields of an online row: method, offline algorithm and online optimizer
    always named (an older coopo checked out for the 'before' rows reads the same fields), and
    Cal-QL's sampled actions pinned to coopo's default."""
    cfg: dict[str, Any] = {
        "method": "coopo",
        "offline": "awac_kl",
        "online": optimizer,
        "env_id": "Hopper-v5",
        "dataset": "build:random",
        "build_size": 20_000,
        "progress": False,
        "eval_episodes": 1,
        "replay_capacity": 100_000,
        "seeds": tuple(range(seeds)),
    }
    if optimizer == "cal_ql":
        cfg["cal_ql"] = cal_ql.Config(num_samples=DEFAULT_CALQL_SAMPLES)
    if vector_env is not None:
        cfg["vector_env"] = vector_env
    return cfg


def online_label(optimizer: str) -> str:
    if optimizer == "cal_ql":
        return f"online cal_ql ({DEFAULT_CALQL_SAMPLES} sampled actions)"
    return f"online {optimizer}"


def offline_updates_per_second(
    name: str, seeds: int, k: int, repeats: int, n: int = 100_000, config: Any = None
) -> tuple[float, Any, tuple[Any, ...]]:
    algo = ALGORITHMS[name]
    cfg = algo.Config() if config is None else config
    data = synthetic_dataset(n, HOPPER)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in range(seeds)])
    states = jax.vmap(lambda key: algo.init(key, HOPPER, NET, cfg))(keys)
    bufs = replay_init(HOPPER.obs_dim, HOPPER.act_dim, 1024, batch_shape=(seeds,))
    chunk = phases.make_update_chunk(algo, phases.offline_sampler(BATCH, n, "dataset"))
    dt = timed(lambda: chunk(states, bufs, data, keys, num_updates=k), repeats)
    return k / dt, chunk, (states, bufs, data, keys)


def flops_per_update(name: str, config: Any = None) -> float:
    """XLA's own count of floating-point operations in one update (sampling included)."""
    _, chunk, args = offline_updates_per_second(name, 1, 1, 1, n=4096, config=config)
    compiled = chunk.lower(*args, num_updates=1).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def matmul_flops_per_second(n: int, repeats: int) -> float:
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n))
    b = jax.random.normal(jax.random.PRNGKey(1), (n, n))
    f = jax.jit(lambda a, b: a @ b)
    return 2 * n**3 / timed(lambda: f(a, b), repeats)


def online_env_steps_per_second(
    steps: int, seeds: int = 1, vector_env: str | None = None, optimizer: str = "sac"
) -> float:
    """``optimizer`` at UTD 1 on Hopper-v5 with ``seeds`` seeds: env stepping, collection,
    buffer writes and updates. Env steps of all seeds per second. ``vector_env`` None runs the
    coopo this process imports with its own default (how the "before" rows run an older
    commit)."""
    import dataclasses

    from coopo.config import TrainConfig
    from coopo.runner import Trainer
    from coopo.schedule import Phase

    cfg = TrainConfig(**online_config(optimizer, seeds, vector_env))
    trainer = Trainer(dataclasses.replace(cfg), Path("/tmp/coopo-bench-unused"))
    try:
        state = trainer.init_state()
        state = trainer.online_phase(state, Phase("online", 1_000, 0), 0)  # compile
        t = time.perf_counter()
        trainer.online_phase(state, Phase("online", steps, 0), 1)
        return seeds * steps / (time.perf_counter() - t)
    finally:
        trainer.close()


# Env loops before they were gymnasium.vector envs: each seed's env stepped in a Python loop.
BEFORE_VECTOR_ENVS = "dcb4669"


def online_rows(
    steps: int, seed_counts: tuple[int, ...], before: str, optimizer: str = "sac"
) -> list[dict[str, Any]]:
    """Online env steps/s of ``optimizer`` at each seed count: envs stepped one by one (commit
    ``before``, run from a git worktree), the sync vector env and the async one. Each in a
    fresh process, one after another, so the rows compare like with like."""
    import tempfile

    rows: list[dict[str, Any]] = []
    tree = None
    if before:
        tree = Path(tempfile.mkdtemp(prefix="coopo-before-")) / "tree"
        try:
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), before],
                check=True, capture_output=True, cwd=Path(__file__).parent,
            )  # fmt: skip
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"no 'before' rows: cannot check out {before}: {e}", file=sys.stderr)
            tree = None
    try:
        for seeds in seed_counts:
            modes = (["before"] if tree else []) + ["sync", "async"]
            sps = {}
            for mode in modes:
                env = dict(os.environ)
                if mode == "before":
                    env["PYTHONPATH"] = str(tree)
                args = [
                    sys.executable, __file__, "--online-child", str(steps), str(seeds), mode,
                    optimizer,
                ]  # fmt: skip
                out = subprocess.run(args, capture_output=True, text=True, check=True, env=env)
                sps[mode] = json.loads(out.stdout.strip().splitlines()[-1])["sps"]
                label = {
                    "before": f"envs stepped one by one ({before})",
                    "sync": "sync vector env",
                    "async": "async vector env",
                }[mode]
                rows.append(
                    {
                        "row": f"{online_label(optimizer)} env steps/s, Hopper-v5, UTD 1, {seeds} seed(s), {label}",
                        "value": sps[mode],
                        "unit": "steps/s (all seeds)",
                    }
                )
            if "before" in sps:
                for mode in ("sync", "async"):
                    rows.append(
                        {
                            "row": f"{online_label(optimizer)} ratio {mode} vector env / one by one, {seeds} seed(s)",
                            "value": sps[mode] / sps["before"],
                            "unit": "x",
                        }
                    )
    finally:
        if tree is not None:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                capture_output=True, cwd=Path(__file__).parent,
            )  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- memory
def memory_child(dataset_rows: int, buffer_rows: int) -> None:
    """Run in a fresh process: hold the dataset and a full online buffer, run updates, report."""
    jax.block_until_ready(jnp.zeros(1) + 1)  # backend initialised before the baseline
    base = _proc_status_kb("VmRSS")
    data = synthetic_dataset(dataset_rows, HOPPER)
    algo = sac  # the memory rows measure the arrays; the update is SAC's, named here
    keys = jnp.stack([jax.random.PRNGKey(0)])
    states = jax.vmap(lambda key: algo.init(key, HOPPER, NET, sac.Config()))(keys)
    bufs = replay_init(HOPPER.obs_dim, HOPPER.act_dim, buffer_rows, batch_shape=(1,))
    chunk_rows = min(50_000, buffer_rows)
    fill = jax.tree_util.tree_map(lambda x: x[None, :chunk_rows], data)
    for _ in range(buffer_rows // chunk_rows):
        bufs = phases.add_chunk(bufs, fill)
    del fill
    chunk = phases.make_update_chunk(algo, phases.online_sampler(BATCH, dataset_rows, 0.5))
    jax.block_until_ready(chunk(states, bufs, data, keys, num_updates=100))
    peak = _proc_status_kb("VmHWM")
    # obs, next_obs, action, reward, terminated, truncated, mc_return: float32 each
    row = 4 * (2 * HOPPER.obs_dim + HOPPER.act_dim + 4)
    print(
        json.dumps(
            {"baseline_kb": base, "peak_kb": peak, "raw_bytes": row * (dataset_rows + buffer_rows)}
        )
    )


def _proc_status_kb(field: str) -> int:
    """VmRSS (current) or VmHWM (peak) resident memory of this process, in kB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(dataset_rows: int, buffer_rows: int) -> dict[str, int]:
    out = (
        subprocess.run(
            [sys.executable, __file__, "--memory-child", str(dataset_rows), str(buffer_rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return json.loads(out)


def peak_memory(dataset_rows: int, buffer_rows: int) -> dict[str, float]:
    """Peak RSS of a process holding the dataset and a full buffer and running updates.

    The process also holds the Python/JAX runtime and the compiled programs, a fixed cost
    that does not grow with the data; it is measured by the same run at 1% of the sizes and
    subtracted, so ``ratio`` is the memory the arrays cost over their raw bytes.
    """
    full = _child(dataset_rows, buffer_rows)
    small = _child(dataset_rows // 100, buffer_rows // 100)
    grown = (full["peak_kb"] - small["peak_kb"]) * 1024
    raw = full["raw_bytes"] - small["raw_bytes"]
    return {
        "dataset_rows": dataset_rows,
        "buffer_rows": buffer_rows,
        "raw_mb": full["raw_bytes"] / 2**20,
        "peak_rss_mb": full["peak_kb"] / 1024,
        "fixed_overhead_mb": small["peak_kb"] / 1024,
        "ratio": grown / raw,
    }


# ----------------------------------------------------------------------------- d3rlpy
# coopo's online optimizer, d3rlpy's algorithm it is compared with, and the key of its row in
# benchmarks/d3rlpy_rows.py (same settings there: SAC; Cal-QL with 2 sampled actions).
D3RLPY_ONLINE_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("sac", "SAC", "online_sac"),
    ("cal_ql", f"CalQL ({DEFAULT_CALQL_SAMPLES} sampled actions)", "online_calql"),
)


def d3rlpy_rows(python: str, updates: int, online_steps: int) -> dict[str, Any]:
    """d3rlpy's rows, from ``benchmarks/d3rlpy_rows.py`` run by ``python`` (an environment with
    d3rlpy and torch); {} with a note when there is none."""
    if not python or not Path(python).exists():
        print(
            f"no d3rlpy rows: no interpreter at {python!r} "
            "(python3 -m venv .venv-bench && .venv-bench/bin/pip install -r "
            "benchmarks/requirements-d3rlpy.txt)",
            file=sys.stderr,
        )
        return {}
    script = Path(__file__).parent / "d3rlpy_rows.py"
    out = subprocess.run(
        [python, str(script), str(updates), str(online_steps)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="fewer updates and repeats")
    p.add_argument("--memory-child", nargs=2, type=int, help=argparse.SUPPRESS)
    p.add_argument("--no-d3rlpy", action="store_true", help="skip the d3rlpy rows")
    p.add_argument(
        "--d3rlpy-python",
        default=str(Path(__file__).parent.parent / ".venv-bench" / "bin" / "python"),
        help="interpreter of an environment with d3rlpy and torch (benchmarks/requirements-d3rlpy.txt)",
    )
    p.add_argument(
        "--before",
        default=BEFORE_VECTOR_ENVS,
        help="commit whose env loops the online rows compare against ('' to skip)",
    )
    p.add_argument("--online-child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    if args.online_child:
        steps, seeds, mode, optimizer = args.online_child
        vector = None if mode == "before" else mode
        sps = online_env_steps_per_second(int(steps), int(seeds), vector, optimizer)
        print(json.dumps({"sps": sps}))
        return
    k, reps = (200, 1) if args.quick else (1000, 3)
    online_steps = 500 if args.quick else 2000
    rows: list[dict[str, Any]] = []

    peak = matmul_flops_per_second(1024, reps)
    rows.append({"row": "matmul 1024^3 float32 (roofline)", "value": peak / 1e9, "unit": "GFLOP/s"})
    for bench in update_benches():
        name, cfg = bench.algorithm, bench.config
        ups, _, _ = offline_updates_per_second(name, 1, k, reps, config=cfg)
        flops = flops_per_update(name, cfg)
        rows.append(
            {
                "row": f"{bench.label} updates/s (update only, 1 seed)",
                "value": ups,
                "unit": "updates/s",
            }
        )
        rows.append(
            {
                "row": f"{bench.label} FLOP per update (XLA count)",
                "value": flops / 1e6,
                "unit": "MFLOP",
            }
        )
        rows.append(
            {
                "row": f"{bench.label} fraction of roofline",
                "value": ups * flops / peak,
                "unit": "fraction",
            }
        )
        if not bench.seed_scaling:
            continue
        for seeds in (4, 10):
            s_ups, _, _ = offline_updates_per_second(name, seeds, max(k // 4, 50), reps, config=cfg)
            rows.append(
                {
                    "row": f"{bench.label} seed-updates/s ({seeds} seeds, vmapped)",
                    "value": s_ups * seeds,
                    "unit": "seed-updates/s",
                }
            )
    for optimizer, seed_counts, with_before in ONLINE_ROWS:
        before = args.before if with_before else ""
        rows.extend(online_rows(online_steps, seed_counts, before, optimizer))

    def add(row: str, value: float, unit: str) -> None:
        rows.append({"row": row, "value": value, "unit": unit})

    def value(row: str) -> float:
        return float(next(r["value"] for r in rows if r["row"] == row))

    # D4RL-scale projection: 1M offline updates + 1M online steps (UTD 1) for 10 seeds, from
    # the 10-seed vmapped offline rate and the faster 10-seed online rate (all seeds' steps/s),
    # for the default pair (awac_kl offline, cal_ql online) and with SAC online.
    ten = value("offline awac_kl seed-updates/s (10 seeds, vmapped)")
    for optimizer in ("cal_ql", "sac"):
        online_ten = max(
            value(
                f"{online_label(optimizer)} env steps/s, Hopper-v5, UTD 1, 10 seed(s), {m} vector env"
            )
            for m in ("sync", "async")
        )
        add(
            f"projected D4RL-scale run (1M offline awac_kl + 1M {online_label(optimizer)}, 10 seeds)",
            (10e6 / ten + 10e6 / online_ten) / 3600,
            "hours",
        )
    mem = peak_memory(200_000 if args.quick else 2_000_000, 100_000 if args.quick else 1_000_000)
    add(
        f"memory of the arrays / raw bytes ({mem['dataset_rows']} dataset + {mem['buffer_rows']} buffer rows)",
        mem["ratio"],
        "ratio",
    )
    add(
        "peak RSS of that process (runtime and compiled programs included)",
        mem["peak_rss_mb"],
        "MiB",
    )
    d3: dict[str, Any] = {}
    if not args.no_d3rlpy:
        d3 = d3rlpy_rows(args.d3rlpy_python, k, online_steps)
        if d3:
            add("d3rlpy AWAC updates/s (same architecture)", d3["offline_awac"], "updates/s")
            add(
                "ratio coopo/d3rlpy offline AWAC",
                value("offline awac_kl updates/s (update only, 1 seed)") / d3["offline_awac"],
                "x",
            )
            add("d3rlpy IQL updates/s (same architecture)", d3["offline_iql"], "updates/s")
            add(
                "ratio coopo/d3rlpy offline IQL",
                value("offline iql updates/s (update only, 1 seed)") / d3["offline_iql"],
                "x",
            )
            for optimizer, d3_name, d3_key in D3RLPY_ONLINE_PAIRS:
                if d3_key not in d3:
                    continue
                add(f"d3rlpy {d3_name} online env steps/s, Hopper-v5, UTD 1", d3[d3_key], "steps/s")
                label = online_label(optimizer)
                env_sps = value(
                    f"{label} env steps/s, Hopper-v5, UTD 1, 1 seed(s), sync vector env"
                )
                add(f"ratio coopo {label} / d3rlpy {d3_name} online", env_sps / d3[d3_key], "x")

    width = max(len(r["row"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'value':>12}  unit")
    for r in rows:
        print(f"{r['row']:<{width}}  {r['value']:>12.3f}  {r['unit']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"throughput-{device_name()}{'-quick' if args.quick else ''}.json"
    meta = {
        "command": "python benchmarks/throughput.py" + (" --quick" if args.quick else ""),
        "device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "memory": mem,
        "d3rlpy_environment": d3.get("versions"),
        # Versions, commit, CPU model and vector flags, GPU: hosts of the same size differ.
        "provenance": provenance.collect(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
