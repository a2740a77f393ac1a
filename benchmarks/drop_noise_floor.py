"""How large a "drop at a switch" and how wide a final score evaluation noise alone makes.

    python benchmarks/drop_noise_floor.py RUN_DIR [RUN_DIR ...] \\
        [--episodes 200] [--eval-episodes 5 10] [--window 10] [--out FILE.json]

For each finished run's final policy of every seed, plays ``--episodes`` deterministic
episodes, then resamples them (with replacement, i.e. as fresh episodes of the same fixed
policy) into evaluations of ``E`` episodes and reports, for each ``E``:

- drop: an evaluation minus the worst of the next ``--window`` evaluations, which is what
  `benchmarks/handoff_analysis.py` calls the drop at a switch, for a policy that does not change
  at all (mean and 95th percentile over resamples);
- the standard deviation of one evaluation and of the final score (mean of the last 3
  evaluations), again from episode-to-episode variation only.

The handoff criterion (an average drop of at most 5 points) is measured with 5 evaluation
episodes in the `handoffs` suite and 10 in the `cpu` suite; this says how much of a measured
drop a frozen policy would show too. Writes a JSON file with the per-seed numbers, the
package versions, the machine and the commit.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def resampled_statistics(
    scores: np.ndarray, eval_episodes: int, window: int, resamples: int, seed: int = 0
) -> dict[str, float]:
    """Drop and evaluation spread of a fixed policy whose episode scores are ``scores``."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(scores), size=(resamples, window + 1, eval_episodes))
    evals = scores[idx].mean(-1)  # (R, window + 1)
    drop = evals[:, 0] - evals[:, 1:].min(1)
    finals = scores[rng.integers(0, len(scores), size=(resamples, 3, eval_episodes))].mean((1, 2))
    return {
        "drop_mean": float(drop.mean()),
        "drop_p95": float(np.percentile(drop, 95)),
        "evaluation_std": float(evals[:, 0].std()),
        "final_std": float(finals.std()),
    }


def episode_scores(run_dir: Path, seed: int, episodes: int, env_seed: int) -> np.ndarray:
    """Normalised scores (returns where the task has no reference scores) of ``episodes``
    deterministic episodes of the run's final policy of ``seed``."""
    from coopo.evaluation import play_policy
    from coopo.policy import load_policy

    returns, scores = play_policy(load_policy(run_dir, seed), episodes, env_seed)
    return returns if np.isnan(scores).all() else scores


def main() -> None:
    from coopo.provenance import collect  # package versions, machine, commit

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path, nargs="+", help="finished run directories (policy/)")
    ap.add_argument("--episodes", type=int, default=200, help="episodes played per policy")
    ap.add_argument("--eval-episodes", type=int, nargs="+", default=[5, 10])
    ap.add_argument("--window", type=int, default=10, help="evaluations after the switch")
    ap.add_argument("--resamples", type=int, default=20_000)
    ap.add_argument("--env-seed", type=int, default=5_000_000, help="first episode's reset seed")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    rows = []
    for run in args.runs:
        meta = json.loads((run / "policy" / "policy.json").read_text())
        for seed in meta["seeds"]:
            scores = episode_scores(run, seed, args.episodes, args.env_seed)
            for e in args.eval_episodes:
                stats = resampled_statistics(scores, e, args.window, args.resamples, seed)
                rows.append(
                    {
                        "run": str(run),
                        "seed": seed,
                        "mean_score": float(scores.mean()),
                        "episode_std": float(scores.std()),
                        "eval_episodes": e,
                        **stats,
                    }
                )
    print(
        "| run | seed | score (mean, episode std) | episodes per evaluation | drop of a frozen "
        "policy (mean, 95th pct) | std of one evaluation | std of the final score |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['run']} | {r['seed']} | {r['mean_score']:.1f} ({r['episode_std']:.1f}) "
            f"| {r['eval_episodes']} | {r['drop_mean']:.1f} ({r['drop_p95']:.1f}) "
            f"| {r['evaluation_std']:.1f} | {r['final_std']:.1f} |"
        )
    for e in args.eval_episodes:
        sel = [r for r in rows if r["eval_episodes"] == e]
        print(
            f"{e} episodes per evaluation: a frozen policy drops {np.mean([r['drop_mean'] for r in sel]):.1f}"
            f" points on average over {len(sel)} policies"
        )
    if args.out:
        out = {
            "command": "python benchmarks/drop_noise_floor.py "
            + " ".join(str(r) for r in args.runs)
            + f" --episodes {args.episodes} --eval-episodes "
            + " ".join(map(str, args.eval_episodes))
            + f" --window {args.window} --resamples {args.resamples} --out {args.out}",
            "rows": rows,
            **collect(),
        }
        args.out.write_text(json.dumps(out, indent=1))
        print("wrote", args.out)


if __name__ == "__main__":
    main()
