"""Suites written beside the library: a user's suite file (the one docs/guides/benchmarks.md
shows) loaded and expanded, `FILE.py:NAME` errors, and finished runs' compressed metrics read
like plain ones (the report of either is the same)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coopo.bench import harness
from coopo.bench.suites import (
    SuiteSpecError,
    chunk_plan,
    expand,
    load_suite,
    load_suites,
    rate_cost,
)
from coopo.cli import main
from coopo.jsonfile import METRICS, METRICS_GZ, compress_metrics, read_metrics
from tests.bench.test_report import fake_results
from tests.conftest import PROJECT_SUITES, project_suites

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "benchmarks.md"


def guide_suite_file(tmp_path: Path) -> Path:
    """The complete suite file of the benchmarks guide, written out as a user would."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    (example,) = [b for b in blocks if "Suite(" in b]
    path = tmp_path / "my_suites.py"
    path.write_text(example)
    return path


def test_the_guides_suite_file_loads_and_expands(tmp_path: Path):
    suites = load_suites(guide_suite_file(tmp_path))
    assert list(suites) == ["tiny"]
    tiny = suites["tiny"]
    specs = expand(tiny)
    assert len(specs) == len(tiny.datasets) * len(tiny.methods)
    assert {s.method for s in specs} == {"coopo", "awac-ft", "sac-scratch"}
    assert all(tiny.cost(s) > 0 for s in specs)  # type: ignore[misc]


def test_a_file_may_hold_suites_at_module_level_and_in_collections(tmp_path: Path):
    example = guide_suite_file(tmp_path).read_text()
    path = tmp_path / "more.py"
    path.write_text(
        example
        + "\nimport dataclasses\n"
        + "OTHERS = [dataclasses.replace(TINY, name='tiny-3', seeds=(0, 1, 2))]\n"
        + "BY_NAME = {'tiny': TINY}\n"
    )
    assert list(load_suites(path)) == ["tiny", "tiny-3"]
    path.write_text(example + "\nimport dataclasses\nB = dataclasses.replace(TINY, seeds=(5,))\n")
    with pytest.raises(SuiteSpecError, match="two suites named 'tiny'"):
        load_suites(path)


def test_the_project_file_defines_its_suites():
    suites = load_suites(PROJECT_SUITES)
    assert list(suites) == list(project_suites().SUITES)
    assert {"smoke", "cpu", "cpu-new", "ablations", "handoffs", "gpu", "paper"} <= set(suites)
    assert load_suite(f"{PROJECT_SUITES}:cpu").name == "cpu"


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("{file}:nope", "has no suite 'nope'; its suites: smoke, cpu"),
        ("{file}", "name a suite of"),
        ("{tmp}/missing.py:cpu", "no suite file"),
        ("cpu", "no suite file 'cpu'"),
    ],
)
def test_a_bad_suite_spec_is_one_line_with_exit_code_2(spec, said, tmp_path: Path, capsys):
    spec = spec.format(file=PROJECT_SUITES, tmp=tmp_path)
    with pytest.raises(SuiteSpecError, match=re.escape(said)):
        load_suite(spec)
    capsys.readouterr()
    assert main(["bench", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and said in err


def test_list_prints_each_suite_and_each_chunks_command(capsys):
    capsys.readouterr()
    assert main(["bench", "--list", str(PROJECT_SUITES)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    cpu = project_suites().SUITES["cpu"]
    plan = chunk_plan(cpu)
    assert f"coopo bench {PROJECT_SUITES}:cpu --chunk {len(plan)} --out DIR" in out
    for name in ("smoke", "ablations", "paper"):
        assert name in out
    assert main(["bench", "--list"]) == 2


def test_rate_cost_prices_budgets_seeds_and_evaluations():
    smoke = project_suites().SUITES["smoke"]
    cost = rate_cost(offline_updates=100.0, online_steps=50.0, eval_seconds=0.0)
    specs = {s.method: s for s in expand(smoke)}
    c = specs["coopo"].config
    per_seed = c["cycles"] * (c["offline_steps"] / 100 + c["online_steps"] / 50)
    assert cost(specs["coopo"]) == pytest.approx(per_seed * len(specs["coopo"].seeds))
    # SAC from scratch has no offline phase; evaluations add their seconds
    assert cost(specs["sac-scratch"]) < cost(specs["coopo"])
    assert rate_cost(100.0, 50.0, 1.0)(specs["coopo"]) > cost(specs["coopo"])


# ----------------------------------------------------------------------------- metrics
def test_metrics_are_read_alike_from_the_plain_and_the_compressed_file(tmp_path: Path):
    rows = [{"seed": 0, "env_steps": k, "eval/return": float(k)} for k in range(5)]
    (tmp_path / METRICS).write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    original = (tmp_path / METRICS).read_bytes()
    assert read_metrics(tmp_path) == rows
    packed = compress_metrics(tmp_path)
    assert packed == tmp_path / METRICS_GZ and not (tmp_path / METRICS).exists()
    assert gzip.decompress(packed.read_bytes()) == original  # nothing lost
    assert read_metrics(tmp_path) == rows
    first = packed.read_bytes()
    (tmp_path / METRICS).write_bytes(original)
    compress_metrics(tmp_path)
    assert packed.read_bytes() == first  # same records, same bytes (no time in the header)
    assert compress_metrics(tmp_path) is None  # nothing left to compress
    # a plain file next to a compressed one wins (a run resumed with --keep-checkpoints)
    (tmp_path / METRICS).write_text(json.dumps(rows[0]) + "\n")
    assert read_metrics(tmp_path) == rows[:1]


def test_pack_finished_deletes_checkpoints_and_compresses_metrics(tmp_path: Path):
    (tmp_path / "checkpoints" / "phase-001").mkdir(parents=True)
    (tmp_path / METRICS).write_text('{"seed": 0}\n')
    harness.pack_finished(tmp_path)
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / METRICS).exists()
    assert read_metrics(tmp_path) == [{"seed": 0}]


def test_a_finished_compressed_run_is_skipped_and_left_as_it_is(tmp_path: Path):
    """execute() on a finished run (as a retried worker would) returns its results and touches
    nothing: the compressed metrics stay as they are."""
    (tmp_path / "bench.json").write_text("{}")
    (tmp_path / "results.json").write_text('{"final_return": {"0": 1.0}}')
    (tmp_path / METRICS).write_text('{"seed": 0}\n')
    compress_metrics(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert harness.execute(tmp_path, tmp_path / "x.npz") == {"final_return": {"0": 1.0}}
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_the_report_of_compressed_metrics_equals_the_plain_ones(tmp_path: Path):
    from coopo.bench.report import write_report

    plain = fake_results(tmp_path / "plain", {"coopo": [90.0, 100.0], "base": [40.0, 50.0]})
    packed = tmp_path / "packed"
    shutil.copytree(plain, packed)
    for metrics in sorted(packed.rglob(METRICS)):
        compress_metrics(metrics.parent)
    assert not list(packed.rglob(METRICS)) and list(packed.rglob(METRICS_GZ))
    a = write_report(plain, tmp_path / "report-plain")[0].read_text()
    b = write_report(packed, tmp_path / "report-packed")[0].read_text()
    assert a.replace(str(plain), "R") == b.replace(str(packed), "R")


def test_the_report_imports_no_suite_file(tmp_path: Path):
    """`coopo report` reads the results directory alone: no suite definitions are run."""
    root = fake_results(tmp_path / "r", {"coopo": [90.0, 100.0], "base": [40.0, 50.0]})
    code = (
        "import sys\nfrom coopo.cli import main\n"
        f"rc = main(['report', {str(root)!r}])\n"
        "loaded = [m for m in sys.modules if m.startswith('coopo_suites_') or 'suites' in "
        "str(getattr(sys.modules[m], '__file__', '') or '').replace('coopo/bench/suites.py', '')]\n"
        "print('LOADED', loaded, rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED [] 0"
