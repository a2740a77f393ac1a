"""Per-run cost of a bench suite's methods, measured on this machine: the rates that size a suite.

    python benchmarks/run_cost.py --suite cpu                 # writes benchmarks/results/run-cost-<suite>-<device>.json
    python benchmarks/run_cost.py --suite cpu --updates 500 --steps 500   # quicker, noisier

For each method of the suite, one seed, on the suite's first dataset (or ``--dataset``), with the
suite's own config: ``--updates`` offline updates, ``--steps`` online env steps with updates
from the first step (``random_steps`` 0, so the methods that start with random actions are
timed as if they updated throughout: an upper bound), and one evaluation of the suite's
``eval_episodes``. Each is timed after a warm-up call that compiles it. The process runs with
``--threads`` XLA threads (default 1: what each of ``coopo bench``'s two workers gets on a
2-core machine). Each rate is recorded per second of wall clock and per second of the
process's CPU time: on a shared machine the wall-clock rates are lower bounds, and the CPU-time
rates are what a worker with a core to itself would see. ``coopo bench --list`` prints the suite's estimate from these rates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--suite", default="cpu")
    p.add_argument(
        "--dataset",
        default="",
        help="dataset file (default: build the suite's first recipe into --work)",
    )
    p.add_argument("--work", default="bench-cost", help="where datasets are built")
    p.add_argument("--updates", type=int, default=2_000)
    p.add_argument("--steps", type=int, default=2_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--methods", nargs="*", default=[])
    p.add_argument(
        "--rlpd-utd", type=int, nargs="*", default=[1], help="also time RLPD at these UTDs"
    )
    p.add_argument(
        "--calql-samples",
        type=int,
        nargs="*",
        default=[],
        help="also time Cal-QL with these numbers of sampled actions per source",
    )
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    if args.threads:
        os.environ["XLA_FLAGS"] = (
            f"--xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} "
            f"intra_op_parallelism_threads={args.threads}"
        )

    import dataclasses

    import jax
    from rich.console import Console

    from coopo import provenance
    from coopo.bench.harness import prepare_dataset
    from coopo.bench.suites import expand, load_suites
    from coopo.runner import Trainer
    from coopo.schedule import Phase

    suite = load_suites(Path(__file__).with_name("suites.py"))[args.suite]
    console = Console(stderr=True)
    dataset = Path(args.dataset) if args.dataset else None
    specs = [s for s in expand(suite, (0,)) if s.dataset == suite.datasets[0]]
    if dataset is None:
        dataset = prepare_dataset(
            Path(args.work), suite.datasets[0], suite.dataset_size, None, console
        )

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def since(t0: tuple[float, float]) -> tuple[float, float]:
        t1 = clock()
        return t1[0] - t0[0], t1[1] - t0[1]

    jobs = []
    for spec in specs:
        if args.methods and spec.method not in args.methods:
            continue
        cfg = dataclasses.replace(
            spec.train_config(str(dataset), str(Path(args.work) / "run")), random_steps=0
        )
        jobs.append((spec, cfg))
        if cfg.offline == "cal_ql" and cfg.method != "online":
            for n in args.calql_samples:
                if n != cfg.cal_ql.num_samples:
                    cal = dataclasses.replace(cfg.cal_ql, num_samples=n)
                    jobs.append((spec, dataclasses.replace(cfg, cal_ql=cal)))
        if cfg.online == "rlpd":
            for utd in args.rlpd_utd:
                if utd != cfg.utd_ratio:
                    jobs.append((spec, dataclasses.replace(cfg, utd_ratio=utd)))
    rows = []
    for spec, cfg in jobs:
        trainer = Trainer(cfg, Path(cfg.run_dir), Console(file=open(os.devnull, "w")))
        state = trainer.init_state()
        row: dict[str, object] = {"method": spec.method, "dataset": spec.dataset}
        try:
            if cfg.method != "online":
                state = trainer.offline_phase(state, Phase("offline", cfg.scan_length, 0))
                jax.block_until_ready(state.offline)
                t = clock()
                state = trainer.offline_phase(state, Phase("offline", args.updates, 0))
                jax.block_until_ready(state.offline)
                wall, cpu = since(t)
                row["offline_algo"] = cfg.offline
                row["offline_updates_per_s"] = args.updates / wall
                row["offline_updates_per_cpu_s"] = args.updates / cpu
            warm = 2 * cfg.update_every
            state = trainer.online_phase(state, Phase("online", warm, 0), 1)  # hands over first
            jax.block_until_ready(state.online)
            t = clock()
            state = trainer.online_phase(state, Phase("online", args.steps, 0), 1)
            jax.block_until_ready(state.online)
            wall, cpu = since(t)
            row["online_algo"] = cfg.online
            row["utd_ratio"] = cfg.utd_ratio
            if "cal_ql" in (cfg.offline, cfg.online):
                row["calql_num_samples"] = cfg.cal_ql.num_samples
            row["online_steps_per_s"] = args.steps / wall
            row["online_steps_per_cpu_s"] = args.steps / cpu
            last = Phase("online", args.steps, 0)
            trainer.evaluate(state, last, boundary=False)
            t = clock()
            trainer.evaluate(state, last, boundary=False)
            row["eval_s"], row["eval_cpu_s"] = since(t)
            row["eval_episodes"] = cfg.eval_episodes
        finally:
            trainer.close()
        console.print(row)
        rows.append(row)
    record = {
        "command": "python benchmarks/run_cost.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "suite": suite.name,
        "updates": args.updates,
        "steps": args.steps,
        "threads": args.threads,
        "note": (
            "one seed, one process; *_per_s: wall clock on a machine shared with other work "
            "(lower bounds on the rate); *_per_cpu_s: per second of this process's CPU time "
            "(what a worker with a core to itself would see)"
        ),
        "provenance": provenance.collect(),
        "device": provenance.device_tag(),
        "rows": rows,
    }
    out = Path(args.out) if args.out else RESULTS / f"run-cost-{suite.name}-{record['device']}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
