"""How long the test commands take from a fresh clone: the README's test command (``.ci/run``:
a new virtual environment, the package with its test extra, the whole suite) and the fast
subset (``pytest -m "not slow" -n 2``) with an empty JAX compilation cache.

    python benchmarks/test_times.py --out benchmarks/results/test-times-cpu-2core.json

Clones the repository's HEAD into a temporary directory, times each command there (wall
clock, and the CPU time of the command's processes) and writes one JSON with the commands,
their exit codes, the last lines they printed, and the provenance (host, versions, commit).
Run it on an otherwise idle machine: the figures hold for the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = '.venv/bin/python -m pytest -m "not slow" -n 2 -q -p no:cacheprovider'


def timed(command: str, cwd: Path) -> dict[str, object]:
    """Run ``command`` in a shell in ``cwd``; its wall and CPU seconds and how it ended."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ},
    )  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    tail = done.stdout.strip().splitlines()[-3:]
    print(f"{command}: rc {done.returncode}, {wall / 60:.1f} min wall", flush=True)
    return {
        "command": command,
        "returncode": done.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "last_lines": tail,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results JSON to write")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="coopo-test-times-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    rows = [timed("CI=true bash .ci/run", clone)]
    shutil.rmtree(clone / ".jax-cache", ignore_errors=True)  # the fast tests start cold
    rows.append(timed(FAST, clone))
    sys.path.insert(0, str(ROOT))
    from coopo import provenance

    record = {
        "note": (
            "fresh clone of HEAD; .ci/run creates the virtual environment and installs the "
            "package with its test extra (packages from the index's local cache), then runs "
            "the whole suite; the fast subset then runs with the JAX compilation cache emptied"
        ),
        "rows": rows,
        "provenance": provenance.collect(),
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
