"""Evaluation speed: S seeds x E episodes of Hopper-v5 in lockstep, the vector env against the
one-by-one loop of an earlier commit, side by side in one invocation.

    python benchmarks/eval_speed.py [--before dcb4669] [--rounds 3] [--repeats 3]

A vector env steps every env until the slowest episode ends (an env whose episode is over
restarts and its steps are ignored); the earlier loop stepped only the envs still running. The
policy here is coopo's shipped medium Hopper policy in numpy (cheap next to the envs, so the
rows show the env side of an evaluation), whose episodes differ in length. Writes
``benchmarks/results/eval-speed-<device>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def child(seeds: int, episodes: int, rounds: int) -> dict[str, float]:
    import numpy as np

    from coopo.data.policies import load_policy_file
    from coopo.evaluation import Evaluator
    from coopo.recipes import shipped_policy

    ev = Evaluator("Hopper-v5", {}, list(range(seeds)), episodes)
    mlp = load_policy_file(str(shipped_policy("hopper")[0]))

    def policy(obs: np.ndarray) -> np.ndarray:
        flat = obs.reshape(-1, obs.shape[-1])
        return np.asarray(mlp.squash(mlp.pre_activation(flat))).reshape(*obs.shape[:-1], -1)

    ev.run(policy, 0)  # warm-up
    steps, t = 0, time.perf_counter()
    for r in range(rounds):
        _, lengths = ev.run(policy, r + 1)
        steps += int(lengths.sum())
    elapsed = time.perf_counter() - t
    ev.close()
    return {
        "episode_steps_per_s": steps / elapsed,
        "mean_length": steps / (rounds * seeds * episodes),
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--before", default="dcb4669", help="commit with the one-by-one loop")
    p.add_argument("--rounds", type=int, default=3, help="evaluation rounds per process")
    p.add_argument("--repeats", type=int, default=3, help="processes per variant, alternated")
    p.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    from coopo import provenance

    tree = Path(tempfile.mkdtemp(prefix="coopo-before-")) / "tree"
    here = Path(__file__).parent
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), args.before],
        check=True, capture_output=True, cwd=here,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        for seeds, episodes in ((1, 10), (10, 10)):
            got = {}
            for label in ("before", "vector"):
                env = dict(os.environ)
                if label == "before":
                    env["PYTHONPATH"] = str(tree)
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    str(seeds),
                    str(episodes),
                    str(args.rounds),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
                got[label] = json.loads(out.stdout.strip().splitlines()[-1])
            name = f"{seeds} seed(s) x {episodes} episodes"
            rows += [
                {"row": f"evaluation episode steps/s, {name}, one by one ({args.before})",
                 "value": got["before"]["episode_steps_per_s"], "unit": "steps/s"},
                {"row": f"evaluation episode steps/s, {name}, sync vector env",
                 "value": got["vector"]["episode_steps_per_s"], "unit": "steps/s"},
                {"row": f"ratio vector / one by one, {name}",
                 "value": got["vector"]["episode_steps_per_s"] / got["before"]["episode_steps_per_s"],
                 "unit": "x"},
                {"row": f"mean episode length, {name}", "value": got["vector"]["mean_length"],
                 "unit": "steps"},
            ]  # fmt: skip
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], capture_output=True, cwd=here
        )
    width = max(len(r["row"]) for r in rows)
    for r in rows:
        print(f"{r['row']:<{width}}  {r['value']:>10.2f}  {r['unit']}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"eval-speed-{provenance.device_tag()}.json"
    meta = {
        "command": "python benchmarks/eval_speed.py",
        "load_average": os.getloadavg(),
        "before": args.before,
        "date": time.strftime("%Y-%m-%d"),
        "provenance": provenance.collect(),
    }
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
