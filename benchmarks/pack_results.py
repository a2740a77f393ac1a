"""Pack committed `coopo bench` results directories the way `coopo bench` now leaves them.

    python benchmarks/pack_results.py benchmarks/results/cpu-heldout [DIR ...]

In every run directory under DIR that has finished (``results.json``), ``metrics.jsonl``
becomes ``metrics.jsonl.gz`` (:func:`coopo.jsonfile.compress_metrics`; checked to read back
the same records). Each run's ``bench.json`` gains ``estimated_seconds`` from its suite's cost
in benchmarks/suites.py, and ``suite.json`` a ``cost_note``, where they lack them: what
``coopo report`` reads instead of importing the suites. Results written before they were
recorded keep the note their reports stated then (`HISTORICAL_COST_NOTE`). Running it again
changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from coopo.bench.suites import RunSpec, load_suites
from coopo.jsonfile import METRICS, compress_metrics, read_metrics

SUITES = load_suites(Path(__file__).with_name("suites.py"))

HISTORICAL_COST_NOTE = (
    "for one `coopo bench` worker on one core of this project's 2-core CPU (`worker_seconds` "
    "in coopo/bench/suites.py, from per-algorithm rates measured by benchmarks/run_cost.py; "
    "evaluations counted at full episode length)"
)
"""How the reports of results made while the suites were package code described the estimate
(`worker_seconds` was then in coopo/bench/suites.py)."""


def record_estimate(bench: Path) -> bool:
    """Add the suite's cost estimate to a run's ``bench.json``; True if it was added."""
    spec = json.loads(bench.read_text())
    suite = SUITES.get(spec.get("suite", ""))
    if "estimated_seconds" in spec or "config" not in spec or suite is None or not suite.cost:
        return False
    run = RunSpec(
        spec["suite"], spec["dataset"], spec["method"], tuple(spec["seeds"]), spec["config"]
    )
    spec["estimated_seconds"] = suite.cost(run)
    bench.write_text(json.dumps(spec, indent=1))
    return True


def compress(run: Path) -> bool:
    """Compress a finished run's metrics, checking that they read back the same."""
    if not (run / "results.json").is_file() or not (run / METRICS).is_file():
        return False
    before = read_metrics(run)
    compress_metrics(run)
    if read_metrics(run) != before:
        raise SystemExit(f"{run}: compressed metrics read back differently")
    return True


def pack(root: Path) -> tuple[int, int]:
    """(metrics files compressed, estimates recorded) under one results directory."""
    suite_file = root / "suite.json"
    if suite_file.is_file():
        suite = json.loads(suite_file.read_text())
        known = SUITES.get(suite.get("name", ""))
        if "cost_note" not in suite and known is not None and known.cost:
            suite["cost_note"] = HISTORICAL_COST_NOTE
            suite_file.write_text(json.dumps(suite, indent=1))
    estimates = sum(record_estimate(b) for b in sorted(root.rglob("bench.json")))
    packed = sum(compress(m.parent) for m in sorted(root.rglob(METRICS)))
    return packed, estimates


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    for root in parser.parse_args(argv).dirs:
        packed, estimates = pack(root)
        print(f"{root}: {packed} metrics files compressed, {estimates} estimates recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
