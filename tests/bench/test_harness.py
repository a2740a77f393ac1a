"""`coopo bench` end to end: the smoke suite, skipping finished runs, resuming interrupted ones,
refusing mixed configs, and the Ray backend on a local Ray instance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from coopo.bench import harness
from coopo.bench.harness import BenchError, run_suite
from coopo.bench.suites import SUITES, expand
from coopo.cli import main
from coopo.runner import train

SMOKE = SUITES["smoke"]


def finished_runs(out: Path) -> dict[str, float]:
    return {str(p.parent.relative_to(out)): p.stat().st_mtime for p in out.rglob("results.json")}


def interrupted_run(out: Path, suite, spec, phases: int) -> Path:
    """A run directory as `coopo bench` leaves it when killed after ``phases`` phases."""
    dataset = harness.prepare_dataset(
        out, spec.dataset, suite.dataset_size, None, harness.Console()
    )
    path = harness.run_dir(out, spec)
    path.mkdir(parents=True)
    (path / "bench.json").write_text(json.dumps(harness.spec_record(spec, dataset)))
    cfg = dataclasses.replace(spec.train_config(str(dataset), str(path)), max_phases=phases)
    assert not train(cfg).finished
    return path


def test_every_suite_expands_to_valid_configs():
    for suite in SUITES.values():
        specs = expand(suite)
        assert len(specs) == len(suite.datasets) * len(suite.methods)
        assert len({s.name for s in specs}) == len(specs)
        for s in specs:  # equal online budgets across the methods of a suite
            c = s.config
            assert c["cycles"] * c["online_steps"] == suite.base.cycles * suite.base.online_steps


def test_cpu_suite_is_what_the_issue_asks_for():
    cpu = SUITES["cpu"]
    assert len(cpu.datasets) >= 4 and len(cpu.seeds) >= 3
    assert {d.split("-")[0] for d in cpu.datasets} == {"hopper", "halfcheetah", "walker2d"}
    assert {"medium", "medium-replay"} <= {d.split("-", 1)[1] for d in cpu.datasets}
    assert {m.name for m in cpu.methods} == {"coopo", "awac-ft", "iql-ft", "rlpd", "sac-scratch"}


def test_smoke_suite_end_to_end_then_skips_finished_runs(tmp_path: Path, capsys):
    out = tmp_path / "smoke"
    assert main(["bench", "smoke", "--out", str(out)]) == 0
    runs = finished_runs(out / "runs")
    assert len(runs) == len(expand(SMOKE))
    report = (out / "report" / "report.md").read_text()
    for m in SMOKE.methods:
        assert f"`{m.name}`" in report
    assert "## Summary" in report and "## Forgetting" in report
    assert (out / "COMMAND").read_text().startswith("coopo bench smoke")
    # finished runs lose their checkpoints but keep metrics, results and the policy
    run = next((out / "runs").rglob("results.json")).parent
    assert not (run / "checkpoints").exists() and (run / "metrics.jsonl").is_file()
    timing = json.loads((run / "wall_time.json").read_text())
    assert timing["seconds"] > 0 and timing["invocations"] == 1 and len(timing["hosts"]) == 1
    assert "| ran on |" in report

    capsys.readouterr()
    assert main(["bench", "smoke", "--out", str(out), "--no-report"]) == 0
    assert f"{len(runs)} already finished, 0 to run" in capsys.readouterr().out.replace("\n", " ")
    assert finished_runs(out / "runs") == runs  # nothing was re-run or rewritten


def test_bench_resumes_an_interrupted_run(tmp_path: Path):
    out = tmp_path / "b"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    path = interrupted_run(out, suite, spec, phases=2)
    summary = run_suite(suite, out, workers=1)
    assert summary.finished == [spec.name] and not summary.failed
    assert "resuming" in (path / "log.txt").read_text()
    rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
    assert max(r["env_steps"] for r in rows) == suite.base.cycles * suite.base.online_steps


def test_bench_refuses_to_mix_configs_and_names_the_difference(tmp_path: Path):
    out = tmp_path / "b"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    path = harness.run_dir(out, spec)
    path.mkdir(parents=True)
    record = harness.spec_record(spec, Path("x.npz"))
    record["config"] = {**record["config"], "batch_size": 999}
    (path / "bench.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match="differs in: batch_size"):
        run_suite(suite, out)
    with pytest.raises(BenchError, match="unknown method"):
        run_suite(suite, out, methods=("nope",))
    with pytest.raises(BenchError, match="unknown suite"):
        harness.get_suite("huge")


def test_a_failing_run_is_reported_and_the_others_still_run(tmp_path: Path, monkeypatch):
    out = tmp_path / "b"
    suite = dataclasses.replace(
        SMOKE, methods=SMOKE.methods[:1], datasets=("hopper-random",), seeds=(0,)
    )
    # A dataset file that is not a dataset: the run fails with the reader's message.
    bad = harness.dataset_path(out, "hopper-random", suite.dataset_size)
    bad.parent.mkdir(parents=True)
    bad.write_text("not an npz")
    summary = run_suite(suite, out, workers=1)
    assert len(summary.failed) == 1 and "npz" in summary.failed[0][1]
    assert (harness.run_dir(out, expand(suite)[0]) / "error.txt").is_file()
    assert (
        main(
            [
                "bench",
                "smoke",
                "--out",
                str(out),
                "--methods",
                "coopo",
                "--seeds",
                "0",
                "--no-report",
            ]
        )
        == 1
    )


def test_smoke_suite_through_ray_on_a_local_instance(tmp_path: Path):
    ray = pytest.importorskip("ray")
    out = tmp_path / "ray"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:2])
    # One run was interrupted earlier on this machine: its Ray task must resume it elsewhere.
    first = expand(suite)[0]
    interrupted_run(out, suite, first, phases=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_suite(suite, out, backend="ray", cpus_per_run=1)
    finally:
        ray.shutdown()
    assert not summary.failed and len(summary.finished) == 2
    for spec in expand(suite):
        path = harness.run_dir(out, spec)
        assert (path / "results.json").is_file() and (path / "metrics.jsonl").is_file()
        assert (path / "policy").is_dir() and not (path / "checkpoints").exists()
        # config.json names this machine's paths again, whatever node trained it
        cfg = json.loads((path / "config.json").read_text())
        assert cfg["run_dir"] == str(path) and Path(cfg["dataset"]).parent == out / "datasets"
    assert "resuming" in (harness.run_dir(out, first) / "log.txt").read_text()
    # the same directory then counts as finished for the local backend
    again = run_suite(suite, out)
    assert again.skipped == 2 and not again.finished


def test_estimates_grow_with_budget_seeds_and_ensembles():
    from coopo.bench.suites import estimate_seconds, rlpd

    base = expand(SUITES["cpu"])[0]
    double = dataclasses.replace(
        base, config={**base.config, "online_steps": 2 * base.config["online_steps"]}
    )
    more_seeds = dataclasses.replace(base, seeds=(0, 1, 2, 3, 4, 5))
    assert estimate_seconds(double) > estimate_seconds(base)
    assert estimate_seconds(more_seeds) == pytest.approx(2 * estimate_seconds(base))
    by_method = {s.method: estimate_seconds(s) for s in expand(SUITES["cpu"])[:5]}
    assert by_method["rlpd"] > by_method["coopo"] > by_method["sac-scratch"]
    assert rlpd(20).overrides["utd_ratio"] == 20


def test_relocate_points_a_moved_run_at_its_new_paths(tmp_path: Path):
    (tmp_path / "config.json").write_text(
        json.dumps({"dataset": "/elsewhere/d.npz", "run_dir": "/x", "seeds": [0]})
    )
    harness.relocate(tmp_path, tmp_path / "d.npz")
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg == {"dataset": str(tmp_path / "d.npz"), "run_dir": str(tmp_path), "seeds": [0]}
