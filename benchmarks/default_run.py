"""The built-in default run, measured as a new user meets it: ``coopo train`` with no options,
one seed per invocation, each with an empty cache directory (so the dataset build is
included), under ``/usr/bin/time -v``.

    python benchmarks/default_run.py [--seeds 0 1 2 3 4] [--extra-args "..."]

Prints one row per seed (wall and CPU time, peak memory, the score at every phase boundary,
the final score against the dataset's own level) and writes
``benchmarks/results/default-run-<device>.json`` with the provenance of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
PHASE = re.compile(
    r"^cycle (\d+)/(\d+) (offline|online)\s+env\s+(\d+) grad\s+(\d+)\s+normalized\s+(-?[\d.]+)"
    r"\s+\(data (-?[\d.]+)\)"
)
FINAL = re.compile(r"normalized score (-?[\d.]+) \(the dataset's own level: (-?[\d.]+)\)")


def time_field(text: str, name: str) -> str:
    m = re.search(rf"^\s*{re.escape(name)}: (.+)$", text, re.M)
    if not m:
        raise RuntimeError(f"/usr/bin/time printed no {name!r}")
    return m.group(1).strip()


def wall_seconds(text: str) -> float:
    parts = [
        float(p) for p in time_field(text, "Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    ]
    return sum(p * 60**i for i, p in enumerate(reversed(parts)))


def one_seed(seed: int, extra: list[str], work: Path) -> dict[str, Any]:
    cache, run_dir = work / f"cache-{seed}", work / f"run-{seed}"
    argv = ["coopo", "train", "--seeds", str(seed), "--run-dir", str(run_dir), "--no-progress"]
    argv += extra
    env = {**os.environ, "COOPO_CACHE_DIR": str(cache), "MINARI_DATASETS_PATH": str(cache / "m")}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    exe = Path(sys.executable).with_name("coopo")  # this environment's, else the PATH's
    proc = subprocess.run(
        ["/usr/bin/time", "-v", str(exe) if exe.is_file() else "coopo", *argv[1:]],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"seed {seed}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    phases = [
        {
            "cycle": int(m.group(1)),
            "phase": m.group(3),
            "env_steps": int(m.group(4)),
            "grad_steps": int(m.group(5)),
            "normalized": float(m.group(6)),
        }
        for m in map(PHASE.match, proc.stdout.splitlines())
        if m
    ]
    final = FINAL.search(proc.stdout)
    if not final or not phases:
        raise RuntimeError(f"seed {seed}: no score lines in\n{proc.stdout}")
    data_level = float(final.group(2))
    return {
        "seed": seed,
        "loadavg_before": [float(x) for x in load_before],  # 1, 5, 15 min: was the host busy?
        "command": " ".join(shlex.quote(a) for a in argv),
        "wall_s": wall_seconds(proc.stderr),
        "user_s": float(time_field(proc.stderr, "User time (seconds)")),
        "system_s": float(time_field(proc.stderr, "System time (seconds)")),
        "max_rss_mb": int(time_field(proc.stderr, "Maximum resident set size (kbytes)")) / 1024,
        "phases": phases,
        "final_normalized": float(final.group(1)),
        "data_level": data_level,
        "above_data": float(final.group(1)) > data_level,
        "printed": [line for line in proc.stdout.splitlines() if line.strip()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--extra-args", default="", help="options added to `coopo train`")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from coopo import provenance

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            row = one_seed(seed, shlex.split(args.extra_args), Path(tmp))
            rows.append(row)
            print(
                f"seed {seed}: wall {row['wall_s']:6.1f} s  cpu {row['user_s'] + row['system_s']:6.1f} s  "
                f"peak {row['max_rss_mb']:6.0f} MB  phases "
                + " ".join(f"{p['normalized']:.1f}" for p in row["phases"])
                + f"  final {row['final_normalized']:.1f} (data {row['data_level']:.1f})",
                flush=True,
            )
    walls = [r["wall_s"] for r in rows]
    summary = {
        "seeds": len(rows),
        "above_data": sum(r["above_data"] for r in rows),
        "wall_s_max": max(walls),
        "wall_s_mean": sum(walls) / len(walls),
        "final_normalized_mean": sum(r["final_normalized"] for r in rows) / len(rows),
        "data_level": rows[0]["data_level"],
    }
    print(
        f"\n{summary['above_data']} of {len(rows)} seeds end above the dataset's level "
        f"({summary['data_level']:.1f}); final mean {summary['final_normalized_mean']:.1f}; "
        f"wall time at most {summary['wall_s_max']:.0f} s, mean {summary['wall_s_mean']:.0f} s"
    )
    record = {
        "command": "python benchmarks/default_run.py " + " ".join(sys.argv[1:]),
        "what": "coopo train with no options, one seed per invocation, each from an empty cache "
        "(dataset build included), timed with /usr/bin/time -v",
        "summary": summary,
        "runs": rows,
        "provenance": provenance.collect(),
    }
    out = args.out or RESULTS / f"default-run-{provenance.device_tag()}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
