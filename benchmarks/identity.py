"""Fixed-seed runs whose outputs must not change when code is only reorganised.

Runs a small fixed-seed grid that touches every algorithm module and phase path (COOPO with
each offline and online optimizer, a one-switch run, an online-from-scratch run, an
interrupted-and-resumed run) on one small dataset, and records the SHA-256 of each run's
``results.json``, ``metrics.jsonl`` and final policy bytes. With ``--compare FILE`` it checks
them against an earlier record and exits 1 on any difference.

    python benchmarks/identity.py --out /tmp/identity-before.json
    # ... refactor ...
    python benchmarks/identity.py --compare /tmp/identity-before.json

Each record also hashes ``metrics.jsonl`` without the metrics of options removed since
(:data:`REMOVED_METRICS`), the one difference such a removal may make. Byte identity holds on
one machine with one set of package versions (XLA may fuse differently
elsewhere), so compare records made on the same host.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SMALL = [
    "--env-id", "Hopper-v5", "--cycles", "2", "--offline-steps", "200", "--online-steps", "200",
    "--eval-interval", "100", "--eval-episodes", "1", "--random-steps", "100",
    "--batch-size", "64", "--update-every", "50", "--scan-length", "100",
    "--replay-capacity", "2000", "--network.hidden-dims", "32", "32", "--seeds", "0", "1",
    "--no-progress",
]  # fmt: skip

RUNS: dict[str, list[str]] = {
    "coopo-awac_kl-cal_ql": ["--method", "coopo", "--offline", "awac_kl", "--online", "cal_ql",
                             "--offline-data", "dataset+online"],
    "coopo-awac_kl-sac": ["--method", "coopo", "--offline", "awac_kl", "--online", "sac"],
    "coopo-td3_bc-td3": ["--method", "coopo", "--offline", "td3_bc", "--online", "td3"],
    "coopo-awac_kl-ppo": ["--method", "coopo", "--offline", "awac_kl", "--online", "ppo"],
    "o2o-iql-iql": ["--method", "o2o", "--offline", "iql", "--online", "iql"],
    "o2o-cql-sac": ["--method", "o2o", "--offline", "cql", "--online", "sac"],
    "online-rlpd": ["--method", "online", "--online", "rlpd", "--scratch-uses-dataset"],
    "offline-cal_ql": ["--method", "offline", "--offline", "cal_ql"],
}  # fmt: skip
RESUMED = "coopo-awac_kl-cal_ql"


def _coopo(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "coopo", *args], check=True, capture_output=True)


# Metrics that only the SAC handoff options removed at d03ab3af8a47 logged
# (docs/results/handoffs.md): a record also hashes metrics.jsonl without them, so runs
# from before and after that removal compare on everything else.
REMOVED_METRICS = ("online/anchor_kl", "online/anchor_kl_weight", "online/target_entropy")


def _without_removed(path: Path) -> bytes:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    kept = [{k: v for k, v in r.items() if k not in REMOVED_METRICS} for r in lines]
    return "".join(json.dumps(r) + "\n" for r in kept).encode()


def _digest(run_dir: Path) -> dict[str, str]:
    files = ["results.json", "metrics.jsonl"]
    files += sorted(str(p.relative_to(run_dir)) for p in (run_dir / "policy").iterdir())
    out = {f: hashlib.sha256((run_dir / f).read_bytes()).hexdigest() for f in files}
    removed = _without_removed(run_dir / "metrics.jsonl")
    out["metrics.jsonl without removed metrics"] = hashlib.sha256(removed).hexdigest()
    return out


def record(work: Path) -> dict[str, dict[str, str]]:
    data = work / "data.npz"
    _coopo("data", "build", "--env-id", "Hopper-v5", "--behaviour", "random", "--size", "3000",
           "--format", "npz", "--out", str(data))  # fmt: skip
    out = {}
    for name, args in RUNS.items():
        run = work / name
        _coopo("train", *SMALL, *args, "--dataset", str(data), "--run-dir", str(run))
        out[name] = _digest(run)
        print(f"{name}: {out[name]['results.json'][:12]}", flush=True)
    run = work / f"{RESUMED}-resumed"
    _coopo("train", *SMALL, *RUNS[RESUMED], "--dataset", str(data), "--run-dir", str(run),
           "--max-phases", "3")  # fmt: skip
    _coopo("resume", str(run))
    out[f"{RESUMED}-resumed"] = _digest(run)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the record here")
    ap.add_argument("--compare", type=Path, help="compare with this earlier record")
    ap.add_argument(
        "--allow-removed-metrics",
        action="store_true",
        help="a metrics.jsonl that differs only by REMOVED_METRICS counts as the same",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        now = record(Path(tmp))
    if args.out:
        args.out.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        diff = [
            f"{run}/{f}"
            for run in sorted(set(before) | set(now))
            for f in sorted(set(before.get(run, {})) | set(now.get(run, {})))
            if before.get(run, {}).get(f) != now.get(run, {}).get(f)
        ]
        if args.allow_removed_metrics:
            same = "metrics.jsonl without removed metrics"
            kept = [d for d in diff if not d.endswith("/metrics.jsonl")]
            for d in sorted(set(diff) - set(kept)):
                run = d.rsplit("/", 1)[0]
                if before[run].get(same) != now[run].get(same):
                    kept.append(d)
                else:
                    print(f"differs only by removed metrics: {d}")
            diff = kept
        for d in diff:
            print(f"DIFFERS: {d}")
        print("identical" if not diff else f"{len(diff)} files differ")
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
