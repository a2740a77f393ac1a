"""Dataset build speed: transitions per second of `coopo data build`-style rollouts.

    python benchmarks/build_speed.py                 # 1M transitions, hopper, random and medium
    python benchmarks/build_speed.py --size 100000   # smaller

Rows: uniform random and the shipped medium policy (stochastic, noise 0.1), each with the
given numbers of lockstep envs (one batched policy call per step; default 8). Writes
benchmarks/results/build-speed-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from coopo import provenance
from coopo.data.builder import build_dataset
from coopo.recipes import MEDIUM_NOISE, TASKS, shipped_policy

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--task", default="hopper", choices=list(TASKS))
    p.add_argument(
        "--num-envs", type=int, nargs="+", default=[8], help="lockstep env counts to time"
    )
    args = p.parse_args()
    env_id, kw = TASKS[args.task]
    behaviours = [("random", "random", 0.0)]
    try:
        behaviours.append(("medium", str(shipped_policy(args.task)[0]), MEDIUM_NOISE))
    except Exception as e:  # no shipped policy for this task yet
        print(f"skipping medium: {e}")
    rows = []
    for name, behaviour, noise in behaviours:
        for num_envs in args.num_envs:
            t = time.perf_counter()
            ds = build_dataset(env_id, behaviour, args.size, noise, 0, kw, num_envs)
            dt = time.perf_counter() - t
            rows.append(
                {
                    "behaviour": name,
                    "num_envs": num_envs,
                    "transitions": ds.size,
                    "seconds": dt,
                    "transitions_per_s": ds.size / dt,
                    "episodes": len(ds.episode_slices()),
                }
            )
            print(
                f"{args.task}-{name:7s} envs {num_envs}: {ds.size} transitions in {dt:7.1f} s = {ds.size / dt:8.0f}/s"
            )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"build-speed-cpu-{os.cpu_count()}core.json"
    meta = {
        "command": f"python benchmarks/build_speed.py --size {args.size} --task {args.task} "
        + "--num-envs "
        + " ".join(map(str, args.num_envs)),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "provenance": provenance.collect(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
