"""`coopo bench` end to end: the smoke suite, skipping finished runs, resuming interrupted ones,
refusing mixed configs, and the Ray backend on a local Ray instance."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from coopo.api import train
from coopo.bench import harness
from coopo.bench.harness import BenchError, run_suite
from coopo.bench.suites import chunk_plan, expand
from coopo.cli import main
from coopo.config import REMOVED_AT, ConfigError, config_from_dict, validate_config
from coopo.jsonfile import METRICS, METRICS_GZ, read_metrics
from tests.conftest import PROJECT_SUITES, project_suites

SUITES = project_suites().SUITES
SMOKE = SUITES["smoke"]
SMOKE_SPEC = f"{PROJECT_SUITES}:smoke"


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
        group = suite.seeds_per_run or len(suite.seeds)
        groups = -(-len(suite.seeds) // group)
        assert len(specs) == len(suite.datasets) * len(suite.methods) * groups
        assert len({s.name for s in specs}) == len(specs)
        for s in specs:  # equal online budgets across the methods of a suite
            c = s.config
            assert c["cycles"] * c["online_steps"] == suite.base.cycles * suite.base.online_steps


def test_cpu_suite_departures_are_the_highest_that_fit_a_chunk():
    """RLPD's UTD and Cal-QL's sampled actions in the `cpu` suite are the highest whose run
    fits one chunk at the measured per-worker rates: one more does not fit."""
    worker_seconds = project_suites().worker_seconds
    cpu = SUITES["cpu"]
    limit = cpu.chunk_hours * 3600

    def cost(method: str, **change: int) -> float:
        """The dearest run of ``method`` with config ``change`` (cal_ql_num_samples or
        utd_ratio)."""
        worst = 0.0
        for spec in (s for s in expand(cpu) if s.method == method):
            config = dict(spec.config)
            if "utd_ratio" in change:
                config["utd_ratio"] = change["utd_ratio"]
            if "num_samples" in change:
                config["cal_ql"] = {**config["cal_ql"], "num_samples": change["num_samples"]}
            worst = max(worst, worker_seconds(dataclasses.replace(spec, config=config)))
        return worst

    r = next(s for s in expand(cpu) if s.method == "rlpd").config
    c = next(s for s in expand(cpu) if s.method == "calql-ft").config
    utd, n = r["utd_ratio"], c["cal_ql"]["num_samples"]
    assert cost("rlpd", utd_ratio=utd) <= limit < cost("rlpd", utd_ratio=utd + 1)
    assert cost("calql-ft", num_samples=n) <= limit < cost("calql-ft", num_samples=n + 1)
    # the published settings, where a GPU budget pays for them
    gpu = {s.method: s.config for s in expand(SUITES["gpu"])}
    assert gpu["rlpd"]["utd_ratio"] == 20 and gpu["calql-ft"]["cal_ql"]["num_samples"] == 10


def test_gpu_suite_covers_all_four_tasks_at_the_literature_budget():
    gpu = SUITES["gpu"]
    assert {d.split("-")[0] for d in gpu.datasets} == {"hopper", "halfcheetah", "walker2d", "ant"}
    assert len(gpu.seeds) >= 10 and gpu.gpu
    assert gpu.base.cycles * gpu.base.online_steps == 250_000
    assert gpu.base.cycles * gpu.base.offline_steps == 250_000
    assert {s.config["utd_ratio"] for s in expand(gpu) if s.method == "rlpd"} == {20}


def test_chunk_plan_covers_the_grid_once_within_the_limit():
    worker_seconds = project_suites().worker_seconds
    cpu = SUITES["cpu"]
    plan = chunk_plan(cpu)
    assert len(plan) > 1
    covered = [
        (d, m, c.seeds) for c in plan for d in c.datasets for m in c.methods
    ]  # every (dataset, method, seed group) exactly once
    assert sorted(covered) == sorted((s.dataset, s.method, s.seeds) for s in expand(cpu))
    assert all(0 < c.hours <= cpu.chunk_hours for c in plan)
    total = sum(worker_seconds(s) for s in expand(cpu)) / 3600
    assert sum(c.hours for c in plan) >= total / 2  # two workers at best halve the total
    # a chunk's command selects exactly its runs
    c = plan[0]
    args = c.args(cpu)
    assert args[: len(c.seeds) + 1] == ["--seeds", *map(str, c.seeds)]


def test_bench_chunk_option_runs_only_that_chunk(tmp_path: Path, monkeypatch):
    calls = {}

    def fake_run_suite(suite, out, **kw):
        calls.update(kw)
        return harness.BenchSummary(out, 0, 0, [], [])

    monkeypatch.setattr(harness, "run_suite", fake_run_suite)
    plan = chunk_plan(SUITES["cpu"])
    out = tmp_path / "cpu"
    cpu = f"{PROJECT_SUITES}:cpu"
    assert main(["bench", cpu, "--chunk", "2", "--out", str(out), "--no-report"]) == 0
    assert calls["seeds"] == plan[1].seeds and calls["datasets"] == plan[1].datasets
    assert calls["methods"] == plan[1].methods
    assert main(["bench", cpu, "--chunk", str(len(plan) + 1), "--out", str(out)]) == 2


@pytest.mark.slow
def test_sac_from_scratch_uses_no_dataset_statistic(tmp_path: Path, pendulum_dataset):
    """Two datasets with very different observation statistics give bit-identical SAC runs
    under the suite's sac-scratch overrides; with the normaliser fitted on the data they do
    not (so this test can fail)."""
    from coopo import data
    from coopo.bench.suites import _with
    from coopo.config import PRESETS
    from coopo.logger import read_metrics

    a = data.write_npz(pendulum_dataset, tmp_path / "a.npz")
    shifted = dataclasses.replace(
        pendulum_dataset,
        observations=pendulum_dataset.observations * 10 + 3,
        next_observations=pendulum_dataset.next_observations * 10 + 3,
    )
    b = data.write_npz(shifted, tmp_path / "b.npz")
    base = dataclasses.replace(
        PRESETS["smoke"], progress=False, random_steps=100, cycles=1, online_steps=300,
        eval_interval=100,
    )  # fmt: skip
    scratch = _with(base, project_suites().SAC_SCRATCH.overrides)

    def returns(cfg, dataset, name):
        train(dataclasses.replace(cfg, dataset=str(dataset), run_dir=str(tmp_path / name)))
        rows = read_metrics(tmp_path / name)
        return [r["eval/return"] for r in rows if "eval/return" in r], [
            r["online/critic_loss"] for r in rows if "online/critic_loss" in r
        ]

    assert returns(scratch, a, "sa") == returns(scratch, b, "sb")
    fitted = dataclasses.replace(scratch, normalize_observations=True)
    assert returns(fitted, a, "fa") != returns(fitted, b, "fb")


@pytest.mark.slow
def test_smoke_suite_end_to_end_resumes_then_skips_finished_runs(tmp_path: Path, capsys):
    out = tmp_path / "smoke"
    specs = expand(SMOKE)
    # COOPO's run was interrupted after 2 of its 4 phases by an earlier invocation: resumed
    interrupted = interrupted_run(out, SMOKE, specs[0], phases=2)
    assert main(["bench", SMOKE_SPEC, "--out", str(out)]) == 0
    assert "resuming" in (interrupted / "log.txt").read_text()
    rows = read_metrics(interrupted)  # compressed once finished, the rows before the break kept
    assert not (interrupted / METRICS).exists() and (interrupted / METRICS_GZ).is_file()
    assert max(r["env_steps"] for r in rows) == SMOKE.base.cycles * SMOKE.base.online_steps
    runs = finished_runs(out / "runs")
    assert len(runs) == len(expand(SMOKE))
    report = (out / "report" / "report.md").read_text()
    for m in SMOKE.methods:
        assert f"`{m.name}`" in report
    assert "## Summary" in report and "## Forgetting" in report
    assert (out / "COMMAND").read_text().startswith(f"coopo bench {SMOKE_SPEC}")
    # finished runs lose their checkpoints and keep results, the policy and their metrics,
    # compressed (byte-identical gzip for the same records), with the suite's cost estimate
    run = harness.run_dir(out, specs[1])
    assert not (run / "checkpoints").exists() and not (run / METRICS).exists()
    assert (run / METRICS_GZ).read_bytes()[4:8] == bytes(4)  # no time in the gzip header
    assert read_metrics(run) and read_metrics(run)[-1]["env_steps"] > 0
    spec = json.loads((run / "bench.json").read_text())
    assert spec["estimated_seconds"] > 0
    timing = json.loads((run / "wall_time.json").read_text())
    assert timing["seconds"] > 0 and timing["invocations"] == 1 and len(timing["hosts"]) == 1
    host = timing["provenance"]["host"]
    assert host["cpu"]["model"] and isinstance(host["cpu"]["vector_flags"], list)
    assert timing["provenance"]["versions"]["jax"]
    assert "| ran on |" in report
    # the data's own level, normalised like the evaluations (the report's reference line)
    from coopo.data import load
    from coopo.evaluation import normalized_score

    info = json.loads((run / "dataset.json").read_text())
    ds = load(str(harness.dataset_path(out, "hopper-random", SMOKE.dataset_size)))
    expected = normalized_score(
        ds.episode_returns().mean(), info["ref_min_score"], info["ref_max_score"]
    )
    assert info["normalized_return"] == pytest.approx(float(expected))
    # what produced the results: versions, machine and commit, for the bench and each run
    (record,) = json.loads((out / "provenance.json").read_text())
    (run_record,) = json.loads((run / "provenance.json").read_text())
    assert record["versions"]["rliable"] and record["jax_backend"] == "cpu" and record["time"]
    for r in (record, run_record):
        assert r["versions"]["jax"] and r["host"]["cpu"]["model"] and "git_commit" in r

    capsys.readouterr()
    assert main(["bench", SMOKE_SPEC, "--out", str(out), "--no-report"]) == 0
    assert f"{len(runs)} already finished, 0 to run" in capsys.readouterr().out.replace("\n", " ")
    assert finished_runs(out / "runs") == runs  # nothing was re-run or rewritten
    assert len(json.loads((out / "provenance.json").read_text())) == 2  # one per invocation
    assert len(json.loads((run / "provenance.json").read_text())) == 1  # skipped, not re-run
    assert (out / "COMMAND").read_text().count(f"coopo bench {SMOKE_SPEC}") == 2


@pytest.mark.slow
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


def test_an_option_added_since_a_run_was_recorded_is_not_a_difference_at_any_depth(
    tmp_path: Path,
):
    """A run recorded before an option existed (top level, or inside an algorithm's config)
    used what the option's default does: it is not refused. A recorded nested value that
    differs from today's is, and the refusal names the config holding it."""
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    path = tmp_path / "run"
    path.mkdir()
    record = json.loads(json.dumps(harness.spec_record(spec, Path("x.npz"))))
    del record["config"]["sac"]["actor_q_reduction"]  # an option SAC's config gained later
    del record["config"]["drift_switch_mse"]  # and a top-level one
    (path / "bench.json").write_text(json.dumps(record))
    harness.check_consistent(path, spec, tmp_path / "x.npz")  # accepted
    record["config"]["sac"]["tau"] = 0.5  # a recorded value that differs
    (path / "bench.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match=r"differs in: sac\)"):
        harness.check_consistent(path, spec, tmp_path / "x.npz")


def test_an_option_removed_since_a_run_was_recorded_is_no_difference_when_it_was_off(
    tmp_path: Path,
):
    """A run recorded while SAC still had the rejected handoff options, all switched off, did
    what today's code does: the bench continues it. One recorded switched on is a difference."""
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    path = tmp_path / "run"
    path.mkdir()
    record = json.loads(json.dumps(harness.spec_record(spec, Path("x.npz"))))
    record["config"]["sac"].update(anchor_kl_coef=0.0, critic_warmup_steps=0)
    record["config"]["awac_kl"]["mc_lower_bound"] = False
    (path / "bench.json").write_text(json.dumps(record))
    harness.check_consistent(path, spec, tmp_path / "x.npz")  # accepted
    record["config"]["sac"]["anchor_kl_coef"] = 1.0
    (path / "bench.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match=r"differs in: sac\)"):
        harness.check_consistent(path, spec, tmp_path / "x.npz")


# The handoffs suite's methods whose options were removed after it measured them; their
# committed runs are kept, and re-running them needs commit REMOVED_AT.
REMOVED_METHODS = {
    "coopo-anchor-kl",
    "coopo-anchor-kl-const",
    "coopo-anchor-kl-0.3",
    "coopo-anchor-kl-0.1",
    "coopo-anchor-trust",
    "coopo-warmup",
    "coopo-entropy-from-actor",
    "coopo-mc-bound",
    "coopo-reset-adam",
}


@pytest.mark.parametrize("results", ["handoffs", "cpu-heldout", "ablations", "cpu"])
def test_committed_runs_configs_rebuild_a_valid_run(results: str):
    """Every committed run's recorded config (bench.json and config.json) still rebuilds a
    valid TrainConfig, so each run can be resumed, re-run or re-reported from what it
    recorded, whatever today's defaults are (principle: the resolved config is enough to
    rebuild the run)."""
    root = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / results / "runs"
    records = sorted(root.glob("*/*/seeds-*/bench.json"))
    assert records, f"no committed runs under {root}"
    rebuilt = 0
    for f in records:
        rec = json.loads(f.read_text())
        try:
            cfg = config_from_dict(rec["config"])
        except ConfigError as e:  # a run of an option since removed: refused, naming the commit
            assert f"option removed; runs that use it need commit {REMOVED_AT}" in str(e)
            assert rec["method"] in REMOVED_METHODS, rec["method"]
            continue
        rebuilt += 1
        validate_config(cfg)
        assert list(cfg.seeds) == rec["seeds"]
        run_config = f.parent / "config.json"
        if run_config.is_file():
            assert config_from_dict(json.loads(run_config.read_text())).seeds == cfg.seeds
    assert rebuilt


def test_bench_refuses_runs_made_on_other_data(tmp_path: Path):
    """A finished run whose recorded dataset content differs from the dataset the results
    directory holds now (rebuilt by other code in a fresh checkout) is not silently kept next
    to runs on the new data; its files are left as they were."""
    out = tmp_path / "b"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    path = harness.run_dir(out, spec)
    path.mkdir(parents=True)
    dataset = harness.dataset_path(out, spec.dataset, suite.dataset_size)
    (path / "bench.json").write_text(json.dumps(harness.spec_record(spec, dataset)))
    (path / "dataset.json").write_text(json.dumps({"hash": "0123456789abcdef"}))
    (path / harness.FINISHED).write_text("{}")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    with pytest.raises(BenchError, match="0123456789abcdef") as e:
        run_suite(suite, out, workers=1)
    now = harness.dataset_hash(dataset)
    assert now in str(e.value) and "another --out" in str(e.value)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    # the same content is accepted: the finished run is skipped, not re-run
    (path / "dataset.json").write_text(json.dumps({"hash": now}))
    summary = run_suite(suite, out, workers=1)
    assert summary.finished == [] and not summary.failed


@pytest.mark.slow
def test_bench_refuses_new_runs_next_to_runs_on_data_built_elsewhere(tmp_path: Path):
    """The dataset rebuilt in a fresh checkout on another host differs from what the results
    directory's other runs trained on (builds depend on the CPU's vector extensions): a new run
    on it is refused before anything is written, naming both builds' hosts."""
    out = tmp_path / "b"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1], seeds=(0,))
    spec = expand(suite)[0]
    sibling = out / "runs" / spec.dataset / "another-method" / "seeds-0_1_2"
    sibling.mkdir(parents=True)
    host = {
        "cpu": {
            "model": "AMD EPYC",
            "cores": 2,
            "vector_flags": ["avx2", "avx512f"],
            "family": 25,
            "model_number": 17,
        }
    }
    record = {"hash": "fedcba9876543210", "extra": {"provenance": {"host": host}}}
    (sibling / "dataset.json").write_text(json.dumps(record))
    with pytest.raises(BenchError) as e:
        run_suite(suite, out, workers=1)
    said = str(e.value)
    assert (
        "fedcba9876543210" in said
        and "built on AMD EPYC (family 25, model 17) with avx2, avx512f" in said
    )
    assert str(sibling) in said and "another --out" in said
    dataset = harness.dataset_path(out, spec.dataset, suite.dataset_size)
    assert harness.dataset_hash(dataset) in said
    assert not (out / "suite.json").exists() and not (out / "provenance.json").exists()
    assert not harness.run_dir(out, spec).exists()
    argv = ["bench", SMOKE_SPEC, "--out", str(out), "--seeds", "0", "--methods", spec.method]
    assert main([*argv, "--no-report"]) == 1  # the command line says so too ...
    assert not (out / "COMMAND").exists()  # ... and a refused invocation is not recorded
    # the sibling on the same content is no obstacle
    (sibling / "dataset.json").write_text(json.dumps({"hash": harness.dataset_hash(dataset)}))
    summary = run_suite(suite, out, workers=1)
    assert summary.finished == [spec.name] and not summary.failed


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
                SMOKE_SPEC,
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


@pytest.mark.slow
def test_smoke_suite_through_ray_on_a_local_instance(tmp_path: Path):
    ray = pytest.importorskip("ray")
    out = tmp_path / "ray"
    suite = dataclasses.replace(SMOKE, methods=SMOKE.methods[:1])
    # The run was interrupted earlier on this machine: its Ray task must resume it elsewhere.
    first = expand(suite)[0]
    interrupted_run(out, suite, first, phases=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_suite(suite, out, backend="ray", cpus_per_run=1)
    finally:
        ray.shutdown()
    assert not summary.failed and len(summary.finished) == 1
    for spec in expand(suite):
        path = harness.run_dir(out, spec)
        assert (path / "results.json").is_file() and (path / METRICS_GZ).is_file()
        assert not (path / METRICS).exists()  # the driver's partial one was replaced
        assert (path / "policy").is_dir() and not (path / "checkpoints").exists()
        # config.json names this machine's paths again, whatever node trained it
        cfg = json.loads((path / "config.json").read_text())
        assert cfg["run_dir"] == str(path) and Path(cfg["dataset"]).parent == out / "datasets"
    assert "resuming" in (harness.run_dir(out, first) / "log.txt").read_text()
    # the same directory then counts as finished for the local backend
    again = run_suite(suite, out)
    assert again.skipped == 1 and not again.finished


def test_estimates_grow_with_budget_seeds_and_ensembles():
    estimate_seconds, rlpd = project_suites().estimate_seconds, project_suites().rlpd

    base = expand(SUITES["cpu"])[0]
    double = dataclasses.replace(
        base, config={**base.config, "online_steps": 2 * base.config["online_steps"]}
    )
    more_seeds = dataclasses.replace(base, seeds=tuple(range(2 * len(base.seeds))))
    assert estimate_seconds(double) > estimate_seconds(base)
    assert estimate_seconds(more_seeds) == pytest.approx(2 * estimate_seconds(base))
    first = [
        s for s in expand(SUITES["cpu"]) if s.seeds == base.seeds and s.dataset == base.dataset
    ]
    by_method = {s.method: estimate_seconds(s) for s in first}
    assert by_method["rlpd"] > by_method["coopo"] > by_method["sac-scratch"]
    # Cal-QL updates cost more than SAC's, and more with more sampled actions
    coopo = next(s for s in first if s.method == "coopo")
    assert coopo.config["online"] == "cal_ql"
    with_sac = dataclasses.replace(coopo, config={**coopo.config, "online": "sac"})
    assert estimate_seconds(coopo) > 1.5 * estimate_seconds(with_sac)
    ten = {**coopo.config, "cal_ql": {**coopo.config["cal_ql"], "num_samples": 10}}
    assert estimate_seconds(dataclasses.replace(coopo, config=ten)) > estimate_seconds(coopo)
    assert rlpd(20).overrides["utd_ratio"] == 20


def test_worker_estimate_counts_evaluations_updates_and_seeds():
    from coopo.bench.suites import evaluations

    rlpd, worker_seconds = project_suites().rlpd, project_suites().worker_seconds

    specs = {s.method: s for s in expand(SUITES["cpu"]) if s.seeds == (0, 1, 2, 3, 4)}
    # 2.5k-step evaluations inside each online phase plus one at every phase end
    assert evaluations(specs["coopo"].config) == 6 + 3 * 3
    assert evaluations(specs["coopo-1cycle"].config) == 2 + 11
    assert evaluations(specs["sac-scratch"].config) == 1 + 11
    r = specs["rlpd"]
    more = dataclasses.replace(r, config={**r.config, "utd_ratio": r.config["utd_ratio"] + 1})
    assert worker_seconds(more) > worker_seconds(r) > worker_seconds(specs["sac-scratch"])
    one = dataclasses.replace(r, seeds=(0,))
    assert worker_seconds(r) == pytest.approx(5 * worker_seconds(one))
    assert rlpd(3).overrides["rlpd"]["target_entropy_scale"] == 0.5


def test_relocate_points_a_moved_run_at_its_new_paths(tmp_path: Path):
    (tmp_path / "config.json").write_text(
        json.dumps({"dataset": "/elsewhere/d.npz", "run_dir": "/x", "seeds": [0]})
    )
    harness.relocate(tmp_path, tmp_path / "d.npz")
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg == {"dataset": str(tmp_path / "d.npz"), "run_dir": str(tmp_path), "seeds": [0]}


# ---------------------------------------------------------------- workers on GPUs
H100 = harness.Gpu(0, "NVIDIA H100 80GB HBM3", 81559)


def test_gpu_workers_allocate_on_demand_within_their_share():
    env = harness.worker_env({"PATH": "/bin"}, slot=0, workers=4, cpus=16, gpus=[H100])
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.9 / 4, abs=1e-3)
    assert "CUDA_VISIBLE_DEVICES" not in env and env["PATH"] == "/bin"
    # without a GPU nothing GPU-specific is set; the CPU threads are shared out
    cpu = harness.worker_env({}, slot=0, workers=2, cpus=2, gpus=[])
    assert "XLA_PYTHON_CLIENT_PREALLOCATE" not in cpu
    assert "intra_op_parallelism_threads=1" in cpu["XLA_FLAGS"]
    # the user's own settings win
    mine = harness.worker_env(
        {"XLA_PYTHON_CLIENT_PREALLOCATE": "true"}, slot=0, workers=4, cpus=16, gpus=[H100]
    )
    assert mine["XLA_PYTHON_CLIENT_PREALLOCATE"] == "true"


def test_workers_are_spread_over_gpus_and_fit_their_memory():
    second = harness.Gpu(1, "NVIDIA H100 80GB HBM3", 81559)
    envs = [harness.worker_env({}, i, 4, 16, [H100, second]) for i in range(4)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0", "1"]
    assert float(envs[0]["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.45, abs=1e-3)
    small = harness.Gpu(0, "small", 6 * 1024)  # 2 runs of 2 GiB fit in 90% of 6 GiB
    assert harness.plan_workers(0, cpus=16, gpus=[small]) == 2
    assert harness.plan_workers(0, cpus=16, gpus=[H100]) == 16  # cores bound it here
    assert harness.plan_workers(0, cpus=2, gpus=[]) == 2
    assert harness.plan_workers(3, cpus=16, gpus=[small]) == 3  # an explicit --workers is kept


class FakeWorker:
    """Stands in for a worker process: ``work`` runs when the driver waits for it."""

    def __init__(self, work, code: int) -> None:
        self.work, self.code, self.returncode = work, code, None

    def communicate(self) -> tuple[str, str]:
        self.work()
        self.returncode = self.code
        return "", "no worker in this test"

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        raise AssertionError("nothing interrupts these tests")


def test_the_bench_passes_the_gpu_settings_to_its_workers(tmp_path: Path, monkeypatch):
    small = harness.Gpu(0, "small", 6 * 1024)
    monkeypatch.setattr(harness, "detect_gpus", lambda: [small])
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
    seen: list[dict[str, str]] = []

    def fake_start(cmd, env):  # stands in for the worker process
        seen.append(env)
        return FakeWorker(lambda: None, 1)

    monkeypatch.setattr(harness, "_start_worker", fake_start)
    suite = dataclasses.replace(SMOKE, seeds=(0,))
    summary = run_suite(suite, tmp_path / "b")
    assert len(seen) == len(expand(suite)) and len(summary.failed) == len(seen)
    for env in seen:
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"]) == pytest.approx(0.45, abs=1e-3)


def test_bench_progress_shows_runs_done_and_each_runs_phase_on_a_terminal(
    tmp_path: Path, monkeypatch
):
    import io
    import re
    import time

    from rich.console import Console

    monkeypatch.setattr(harness, "POLL_SECONDS", 0.05)

    def fake_start(cmd, env):  # a run that logs one record, then finishes
        path = Path(cmd[3])

        def work() -> None:
            record = {"seed": 0, "cycle": 1, "phase": "online", "env_steps": 150, "grad_steps": 7}
            (path / "metrics.jsonl").write_text(json.dumps(record) + "\n")
            time.sleep(0.5)
            (path / "results.json").write_text(json.dumps({"final_return": {"0": 1.0}}))

        return FakeWorker(work, 0)

    monkeypatch.setattr(harness, "_start_worker", fake_start)
    suite = dataclasses.replace(SMOKE, seeds=(0,))
    n = len(expand(suite))
    for terminal in (True, False):
        buf = io.StringIO()
        console = Console(file=buf, force_terminal=terminal, width=160)
        summary = run_suite(suite, tmp_path / f"b{terminal}", workers=1, console=console)
        assert len(summary.finished) == n
        out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())  # colours off
        assert (f"{n}/{n}" in out and "runs done" in out) == terminal
        assert ("cycle 2/2 online, 7 updates" in out) == terminal
        assert f"[{n}/{n}] done" in out  # the result lines are printed either way


def at_once(fn, n: int = 2) -> list:
    """``fn()`` in ``n`` threads started together: their results (re-raising any error)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(fn) for _ in range(n)]
    return [f.result() for f in futures]


def test_invocations_sharing_a_results_directory_build_a_dataset_once(tmp_path, monkeypatch):
    """Two `coopo bench` invocations started together on one --out used to build the same
    dataset at once, and the second rename of the shared temporary file failed (FileNotFoundError).
    Now the second waits for the first build and reuses its file."""
    import time

    from coopo import data

    builds: list[str] = []
    small = data.build_dataset("Pendulum-v1", "random", 200, seed=0, progress=False)

    def slow_build(path, recipe, size, expert_policy_dir, console):
        builds.append(recipe)
        time.sleep(0.5)  # long enough for the other invocation to arrive mid-build
        return data.write_npz(small, path)

    monkeypatch.setattr(harness, "_build_dataset", slow_build)
    got = at_once(
        lambda: harness.prepare_dataset(tmp_path, "hopper-random", 200, None, harness.Console())
    )
    assert builds == ["hopper-random"]
    assert got[0] == got[1] and data.read_npz(got[0]).size == small.size


def test_concurrent_writes_of_one_npz_both_land(tmp_path):
    """write_npz gives each writer its own temporary file, so two writers of one path never
    rename each other's file away."""
    from coopo import data

    ds = data.build_dataset("Pendulum-v1", "random", 200, seed=0, progress=False)
    at_once(lambda: [data.write_npz(ds, tmp_path / "d.npz") for _ in range(20)])
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_wall_clock_counts_a_killed_invocation_up_to_its_last_flush(tmp_path: Path):
    import time

    run = tmp_path / "run"
    run.mkdir()
    t0 = time.perf_counter()
    first = harness.WallClock(run, flush_s=0.05)
    # counted from its start: a kill before the first flush still leaves the invocation
    started = json.loads((run / "wall_time.json").read_text())
    assert started["invocations"] == 1 and started["seconds"] < 0.05
    time.sleep(0.3)
    # what a SIGKILL leaves behind: the last flush, without stop() having run
    killed = json.loads((run / "wall_time.json").read_text())
    assert killed["invocations"] == 1 and 0.1 <= killed["seconds"] <= time.perf_counter() - t0
    first._stopped.set()  # the killed process's ticker is gone; stop writing
    first._ticker.join()
    # the next invocation (the resume) adds its own time to what was recorded
    second = harness.WallClock(run, flush_s=60.0)
    time.sleep(0.1)
    spent = second.stop()
    total = json.loads((run / "wall_time.json").read_text())
    assert total["invocations"] == 2
    assert total["seconds"] == pytest.approx(killed["seconds"] + spent, abs=0.06)
    assert total["hosts"] and total["provenance"]["versions"]["jax"]
    assert not (run / "wall_time.json.tmp").exists()  # written atomically


def test_command_lines_of_concurrent_invocations_are_all_kept(tmp_path: Path):
    """Two `coopo bench` invocations sharing --out (chunks run side by side) both record their
    command: an append waits while another invocation holds the results directory's lock,
    then adds its line to what that one wrote instead of rewriting what it read before."""
    import fcntl
    import threading

    file = tmp_path / "COMMAND"
    file.write_text("coopo bench cpu --seeds 0\n")
    with open(tmp_path / ".lock", "w") as held:  # another invocation, mid-update
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = threading.Thread(
            target=harness.append_command, args=(file, "coopo bench cpu --seeds 1")
        )
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive(), "appended without waiting for the lock"
        file.write_text(file.read_text() + "coopo bench cpu --seeds 2\n")  # the holder's line
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert file.read_text().splitlines() == [
        "coopo bench cpu --seeds 0",
        "coopo bench cpu --seeds 2",
        "coopo bench cpu --seeds 1",
    ]
    harness.append_command(file, "coopo bench cpu --seeds 1")  # a rerun adds no second line
    assert file.read_text().count("--seeds 1") == 1
