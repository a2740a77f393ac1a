"""Build every recipe and tabulate its statistics next to the published D4RL v2 datasets.

    python benchmarks/dataset_stats.py --size 100000 --experts ../shared/policies

Expert recipes need an expert policy file per task (``<experts>/<task>-expert.npz``); tasks
whose medium policy is not shipped yet are skipped (and listed). Writes
benchmarks/results/dataset-stats-<size>.json and prints the Markdown table of docs/guides/datasets.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from coopo import provenance
from coopo.evaluation import D4RL_REFERENCE_SCORES, normalized_score
from coopo.recipes import QUALITIES, TASKS, build_recipe, shipped_policy

RESULTS = Path(__file__).parent / "results"
# (transitions, mean episode return, normalised) of the D4RL v2 datasets (shared/REFERENCE.md)
D4RL_V2 = {
    "halfcheetah-medium": (1_000_000, 4770.33, 40.7),
    "halfcheetah-medium-replay": (202_000, 3093.29, 27.2),
    "halfcheetah-expert": (1_000_000, 10656.43, 88.1),
    "hopper-medium": (999_906, 1422.06, 44.3),
    "hopper-medium-replay": (402_000, 467.30, 15.0),
    "hopper-expert": (999_494, 3511.36, 108.5),
    "walker2d-medium": (999_995, 2852.09, 62.1),
    "walker2d-medium-replay": (302_000, 682.70, 14.8),
    "walker2d-expert": (999_214, 4920.51, 107.1),
}


def render(rows: list[dict]) -> str:
    """The Markdown table of docs/guides/datasets.md."""
    lines = [
        "| recipe | transitions | episodes | mean return | normalized (v5 refs) | normalized (D4RL refs) "
        "| D4RL v2: transitions / mean return / normalized | command |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = D4RL_V2.get(r["recipe"])
        ref_s = f"{ref[0]:,} / {ref[1]:.1f} / {ref[2]:.1f}" if ref else "-"
        lines.append(
            f"| `{r['recipe']}` | {r['transitions']:,} | {r['episodes']} | {r['return_mean']:.1f} | "
            f"{r['normalized_v5']:.1f} | {r['normalized_d4rl']:.1f} | {ref_s} | `{r['command']}` |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--experts", type=Path, default=None, help="folder with <task>-expert.npz")
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--qualities", nargs="*", default=list(QUALITIES))
    p.add_argument(
        "--replay-dir",
        type=Path,
        default=None,
        help="use <dir>/<task>/replay.npz (written by the training run the medium-replay recipe "
        "re-runs) instead of re-running the training",
    )
    p.add_argument(
        "--render",
        action="store_true",
        help="print the table of every results/dataset-stats-*.json",
    )
    args = p.parse_args()
    if args.render:
        files = sorted(RESULTS.glob("dataset-stats-*.json"))
        print(render([r for f in files for r in json.loads(f.read_text())["rows"]]))
        return
    rows, skipped = [], []
    for task in args.tasks:
        expert = args.experts / f"{task}-expert.npz" if args.experts else None
        for quality in args.qualities:
            needs_medium = quality.startswith("medium")
            if needs_medium:
                try:
                    shipped_policy(task)
                except Exception:
                    skipped.append(f"{task}-{quality} (no shipped medium policy)")
                    continue
            if "expert" in quality and (expert is None or not expert.is_file()):
                skipped.append(f"{task}-{quality} (no expert policy)")
                continue
            t = time.perf_counter()
            expert_arg = str(expert) if expert and expert.is_file() else None
            if quality == "medium-replay" and args.replay_dir:
                from coopo.data import read_npz
                from coopo.recipes import reference_return

                ds = read_npz(args.replay_dir / task / "replay.npz")
                d4 = D4RL_REFERENCE_SCORES[task]
                ds = ds.with_metadata(
                    ref_min_score=reference_return(task, None, 100, 10_000),
                    ref_max_score=reference_return(task, expert_arg, 100, 20_000)
                    if expert_arg
                    else d4[1],
                    extra={
                        **ds.metadata.extra,
                        "d4rl_ref_min_score": d4[0],
                        "d4rl_ref_max_score": d4[1],
                        "ref_max_source": "expert policy" if expert_arg else "d4rl",
                    },
                )
            else:
                ds = build_recipe(task, quality, args.size, 0, expert_arg)
            rets = ds.episode_returns()
            m = ds.metadata
            rows.append(
                {
                    "recipe": f"{task}-{quality}",
                    "transitions": ds.size,
                    "episodes": len(rets),
                    "return_mean": float(rets.mean()),
                    "return_min": float(rets.min()),
                    "return_max": float(rets.max()),
                    "normalized_v5": float(
                        normalized_score(rets, m.ref_min_score, m.ref_max_score).mean()
                    ),
                    "normalized_d4rl": float(
                        normalized_score(
                            rets, m.extra["d4rl_ref_min_score"], m.extra["d4rl_ref_max_score"]
                        ).mean()
                    ),
                    "ref_min_score": m.ref_min_score,
                    "ref_max_score": m.ref_max_score,
                    "ref_max_source": m.extra["ref_max_source"],
                    "hash": ds.content_hash(),
                    "seconds": time.perf_counter() - t,
                    "command": f"coopo data build {task}-{quality}"
                    + ("" if quality == "medium-replay" else f" --size {args.size}")
                    + (f" --expert-policy {expert}" if "expert" in quality else ""),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"dataset-stats-{args.size}-{'-'.join(args.tasks)}.json"
    import sys

    command = "python benchmarks/dataset_stats.py " + " ".join(sys.argv[1:])
    out.write_text(
        json.dumps(
            {
                "command": command,
                "rows": rows,
                "skipped": skipped,
                "date": time.strftime("%Y-%m-%d"),
                "provenance": provenance.collect(),
            },
            indent=1,
        )
    )
    print(render(rows))
    if skipped:
        print("\nskipped: " + ", ".join(skipped))


if __name__ == "__main__":
    np.set_printoptions(precision=2)
    main()
