"""COOPO against its one-switch control and Cal-QL fine-tuning, pooled over held-out datasets.

Reads `coopo bench` results directories (default: the held-out suite, ``cpu-heldout``, and
the new held-out tasks, ``cpu-new``) and, over every dataset where each compared method has
finished the same seeds, gives per method the IQM of the final scores with its 95%
stratified-bootstrap interval, and the probability of improvement P(coopo > other) with its
interval (rliable, through :mod:`coopo.bench.stats`). Datasets left out, and why, are
listed: the comparison waits for a grid to be whole rather than mixing seed counts.

    python benchmarks/pooled_heldout.py --out benchmarks/results/pooled-heldout.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from coopo.bench import stats
from coopo.bench.report import Results, load_results

HERE = Path(__file__).resolve().parent
DIRS = (HERE / "results" / "cpu-heldout", HERE / "results" / "cpu-new")
METHOD = "coopo"
OTHERS = ("coopo-1cycle", "calql-ft")


def final_scores(results: Results, dataset: str, method: str) -> dict[int, float]:
    """Seed -> final score (mean of the last evaluations) of ``method`` on ``dataset``."""
    return {r.seed: stats.final_score(r.curve) for r in results.select(dataset, method)}


def pooled(
    results: list[Results], methods: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """method -> (seeds x datasets) final scores over the datasets where every method has the
    same seeds; the datasets used; the datasets left out, each with its reason."""
    columns: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    used, left_out = [], []
    for res in results:
        for dataset in res.datasets:
            scores = {m: final_scores(res, dataset, m) for m in methods}
            seeds = [sorted(s) for s in scores.values()]
            if not all(seeds) or any(s != seeds[0] for s in seeds):
                have = ", ".join(f"{m}: {len(s)}" for m, s in scores.items())
                left_out.append(f"{dataset} (seeds finished: {have})")
                continue
            used.append(dataset)
            for m in methods:
                columns[m].append(np.array([scores[m][s] for s in seeds[0]]))
    if not used:
        raise SystemExit("no dataset where every method finished the same seeds yet")
    if len({len(c) for cs in columns.values() for c in cs}) != 1:
        raise SystemExit("the datasets used hold different numbers of seeds; compare fewer")
    return {m: np.stack(c, axis=1) for m, c in columns.items()}, used, left_out


def analyse(dirs: list[Path], others: tuple[str, ...] = OTHERS) -> dict[str, object]:
    methods = (METHOD, *others)
    scores, used, left_out = pooled([load_results(d) for d in dirs], methods)
    iqm = {m: stats.interval(s, stats.iqm) for m, s in scores.items()}
    improvement = {o: stats.probability_of_improvement(scores[METHOD], scores[o]) for o in others}
    return {
        "datasets": used,
        "left_out": left_out,
        "seeds_per_dataset": int(scores[METHOD].shape[0]),
        "iqm": {m: dict(zip(("point", "low", "high"), v, strict=True)) for m, v in iqm.items()},
        "probability_of_improvement": {
            f"{METHOD} > {o}": dict(zip(("point", "low", "high"), v, strict=True))
            for o, v in improvement.items()
        },
    }


def table(record: dict[str, object]) -> str:
    iqm = record["iqm"]
    improvement = record["probability_of_improvement"]
    assert isinstance(iqm, dict) and isinstance(improvement, dict)
    lines = ["| method | IQM final score [95% CI] | P(coopo > method) [95% CI] |", "|---|---|---|"]
    for m, v in iqm.items():
        p = improvement.get(f"{METHOD} > {m}")
        cell = f"{p['point']:.2f} [{p['low']:.2f}, {p['high']:.2f}]" if p else ""
        lines.append(f"| {m} | {v['point']:.1f} [{v['low']:.1f}, {v['high']:.1f}] | {cell} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=list(DIRS))
    parser.add_argument("--others", nargs="+", default=list(OTHERS), help="methods to compare")
    parser.add_argument("--out", type=Path, help="results JSON to write")
    args = parser.parse_args(argv)
    record = analyse(args.dirs, tuple(args.others))
    print(f"datasets: {', '.join(record['datasets'])}")  # type: ignore[arg-type]
    for reason in record["left_out"]:  # type: ignore[attr-defined]
        print(f"left out: {reason}")
    print(table(record))
    if args.out:
        from coopo import provenance

        record["command"] = "python benchmarks/pooled_heldout.py " + " ".join(argv or sys.argv[1:])
        record["provenance"] = provenance.collect()
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
