"""The report: its analysis on synthetic results with known answers, and the written report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from coopo.bench.report import (
    analyse,
    comparisons,
    compute_rows,
    drift_rows,
    forgetting_rows,
    load_results,
    provenance_line,
    reduction_rows,
    write_report,
)


def fake_results(root: Path, finals: dict[str, list[float]], o2o: str = "base") -> Path:
    """A results directory whose curves rise linearly from 0 to a known final score."""
    methods = [
        {"name": m, "description": m, "baseline": m != "coopo", "offline_to_online": m == o2o}
        for m in finals
    ]
    (root / "runs").mkdir(parents=True)
    (root / "suite.json").write_text(
        json.dumps(
            {
                "name": "fake",
                "datasets": ["hopper-medium"],
                "methods": methods,
                "targets": [50.0],
                "budget_note": "synthetic",
            }
        )
    )
    for m, scores in finals.items():
        run = root / "runs" / "hopper-medium" / m / "seeds"
        run.mkdir(parents=True)
        seeds = list(range(len(scores)))
        (run / "bench.json").write_text(
            json.dumps({"dataset": "hopper-medium", "method": m, "seeds": seeds})
        )
        (run / "config.json").write_text(
            json.dumps({"cycles": 1, "offline_steps": 0, "online_steps": 1000, "eval_episodes": 5})
        )
        (run / "results.json").write_text("{}")
        lines = []
        for s, final in zip(seeds, scores, strict=True):
            for k in range(1, 11):  # evaluations every 100 env steps, linear to `final`
                lines.append(
                    {
                        "seed": s,
                        "env_steps": 100 * k,
                        "phase": "online",
                        "cycle": 0,
                        "eval/normalized_score": final * k / 10,
                        "eval/phase_end": float(k == 10),
                        "eval/data_action_mse": 0.1 * k,
                    }
                )
        (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return root


def test_analysis_of_known_curves(tmp_path: Path):
    res = load_results(fake_results(tmp_path, {"coopo": [100.0, 100.0], "base": [50.0, 50.0]}))
    an = analyse(res)
    # final score = mean of the last 3 evaluations of a ramp to 100: (80 + 90 + 100) / 3
    assert an.final[("hopper-medium", "coopo")] == (90.0, 90.0, 90.0)
    assert an.best_o2o == {"hopper-medium": "base"}
    steps, budget = an.interactions[("hopper-medium", "coopo", "50% of expert")]
    assert budget == 1000 and list(steps) == [500.0, 500.0]  # 100 * k/10 >= 50 at k = 5
    # base touches 50 only at its last evaluation: no two later evaluations hold it
    steps, _ = an.interactions[("hopper-medium", "base", "50% of expert")]
    assert list(steps) == [float("inf"), float("inf")]


def test_analysis_tables_of_known_curves(tmp_path: Path):
    root = fake_results(tmp_path, {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]})
    res = load_results(root)
    an = analyse(res)
    (cmp,) = comparisons(res, an)
    assert (cmp.method, cmp.baseline) == ("coopo", "base")
    assert cmp.better == ["hopper-medium"] and not cmp.worse and not cmp.tie
    # coopo holds 50 from k = 6, 5, 6 of 10 evaluations (median 600); no run of base holds it
    # (the seed ending at 50 touches it only at its last evaluation), so base's median over
    # its runs is never, and is not made 1.0k by counting its runs at the budget
    assert (
        cmp.faster == [("hopper-medium", "median 0.6k, 3/3 held", "median never, 0/3 held")]
        and not cmp.slower
    )
    ((name, cells),) = reduction_rows(res, an, "hopper-medium")
    assert name == "coopo vs base" and len(cells) == 2  # 50% of expert, final score of base
    assert cells[0] == "baseline's median never (median 0.6k, 3/3 held vs median never, 0/3 held)"
    assert forgetting_rows(res, an) == []  # no offline phase, no switch
    drift = {(d, m): (mse, kl, ll) for d, m, mse, kl, ll in drift_rows(res)}
    mse, kl, ll = drift[("hopper-medium", "coopo")]
    assert mse == pytest.approx((1.0, 1.0, 1.0)) and kl is None and ll is None
    assert compute_rows(res) == []  # no wall_time.json


def test_report_states_who_wins_and_embeds_figures(tmp_path: Path):
    root = fake_results(tmp_path / "r", {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]})
    md, html = write_report(root)
    text = md.read_text()
    assert "**coopo vs base**: higher final score on hopper-medium" in text
    assert "reached 50% of expert in fewer online steps" in text
    assert "| coopo | 85.5 [" in text
    for fig in ("learning_curves.png", "performance_profile.png", "drift.png"):
        assert (md.parent / fig).stat().st_size > 1000
    page = html.read_text()
    assert page.count("data:image/png;base64,") == 4 and "<table>" in page


def test_report_says_when_coopo_loses(tmp_path: Path):
    root = fake_results(tmp_path / "r", {"coopo": [10.0, 12.0, 11.0], "base": [40.0, 50.0, 45.0]})
    text = write_report(root)[0].read_text()
    assert "**lower** final score on hopper-medium" in text
    assert "needed **more** online steps" in text or "never" in text


def test_report_refuses_a_directory_that_is_not_a_bench(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="suite.json"):
        load_results(tmp_path)


def test_report_on_a_partial_grid_marks_what_is_missing(tmp_path: Path):
    import shutil

    root = fake_results(tmp_path / "r", {"coopo": [90.0, 100.0], "base": [40.0, 50.0]})
    src, dst = root / "runs" / "hopper-medium" / "base", root / "runs" / "walker2d-medium" / "base"
    shutil.copytree(src, dst)
    bench = dst / "seeds" / "bench.json"
    bench.write_text(bench.read_text().replace("hopper-medium", "walker2d-medium"))
    unfinished = root / "runs" / "walker2d-medium" / "coopo" / "seeds"
    unfinished.mkdir(parents=True)
    (unfinished / "bench.json").write_text(
        json.dumps({"dataset": "walker2d-medium", "method": "coopo", "seeds": [0]})
    )
    suite = json.loads((root / "suite.json").read_text())
    suite["datasets"] = ["hopper-medium", "walker2d-medium"]
    (root / "suite.json").write_text(json.dumps(suite))
    res = load_results(root)
    assert res.missing == ["walker2d-medium/coopo/seeds"]
    text = write_report(root)[0].read_text()
    assert "| coopo | 85.5 [" in text and "| - |" in text
    assert "1 runs unfinished" in text


@pytest.mark.slow
def test_report_states_the_seeds_of_each_cell_when_they_differ(tmp_path: Path):
    uneven = write_report(
        fake_results(tmp_path / "u", {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0]})
    )
    text = uneven[0].read_text()
    assert (
        "- **Seeds:** 2 to 3 per method and dataset, not yet equal (5 finished seed-runs; " in text
    )
    assert "base on hopper-medium: 2, coopo on hopper-medium: 3)" in text
    even = write_report(
        fake_results(tmp_path / "e", {"coopo": [90.0, 100.0], "base": [40.0, 50.0]})
    )
    assert "- **Seeds:** 2 per method and dataset (4 finished seed-runs)" in even[0].read_text()


def test_report_names_the_suite_cells_with_no_finished_seed(tmp_path: Path):
    root = fake_results(tmp_path / "r", {"coopo": [90.0, 100.0], "base": [40.0, 50.0]})
    suite = json.loads((root / "suite.json").read_text())
    suite["methods"].append(dict(suite["methods"][-1], name="later"))
    suite["datasets"] = [*suite["datasets"], "walker2d-medium"]
    (root / "suite.json").write_text(json.dumps(suite))
    text = write_report(root)[0].read_text()
    assert (
        "- **Seeds:** 2 per method and dataset (4 finished seed-runs; no finished seed yet in 4 "
        "of the suite's 6 cells: coopo on walker2d-medium, base on walker2d-medium, later on "
        "hopper-medium, later on walker2d-medium)"
    ) in text


def test_reductions_compare_medians_over_all_runs():
    from coopo.bench.report import _median_reduction

    r = (0.4, 0.2, 0.6)
    exact, most = np.array([1000.0, 2000.0]), np.array([1000.0, 2000.0, np.inf])
    few = np.array([1000.0, np.inf])
    assert _median_reduction(r, exact, exact) == r
    # a median over runs of which more than half held is a number: the reduction stands
    assert _median_reduction(r, exact, most) == r
    assert _median_reduction(r, exact, few) == (
        "baseline's median never (median 1.5k, 2/2 held vs median never, 1/2 held)"
    )
    assert _median_reduction(r, few, exact).startswith("median never (median never, 1/2 held")
    assert _median_reduction(r, few, few).startswith("neither median held")


@pytest.mark.slow
def test_the_summary_follows_the_paired_test_when_the_seeds_pair(tmp_path: Path):
    # per seed the differences are 10, 40, 70: the cells' intervals do not overlap, but the
    # paired difference (mean 40, sd 30, 3 seeds) is not shown at 5%
    root = fake_results(tmp_path, {"coopo": [60.0, 90.0, 120.0], "base": [50.0, 50.0, 50.0]})
    res = load_results(root)
    an = analyse(res)
    (cmp,) = comparisons(res, an)
    lo_c, hi_b = an.final[("hopper-medium", "coopo")][1], an.final[("hopper-medium", "base")][2]
    assert lo_c > hi_b and cmp.tie and not cmp.better
    text = write_report(root)[0].read_text()
    assert "no clear difference on hopper-medium" in text


def test_compute_rows_put_wall_time_next_to_the_recorded_estimate(tmp_path: Path):
    """The estimate is what the suite's cost recorded in bench.json (the report needs no
    suite definitions); a run recorded without one shows NaN."""
    root = fake_results(tmp_path / "r", {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]})
    run = root / "runs" / "hopper-medium" / "coopo" / "seeds"
    record = {"suite": "cpu", "dataset": "hopper-medium", "method": "coopo", "seeds": [0, 1, 2]}
    (run / "bench.json").write_text(json.dumps({**record, "estimated_seconds": 1234.5}))
    (run / "wall_time.json").write_text(json.dumps({"seconds": 3600.0, "hosts": ["h (cpu)"]}))
    rows = compute_rows(load_results(root))
    assert rows == [("hopper-medium", "coopo", 3600.0, 1234.5, "h (cpu)")]
    (run / "bench.json").write_text(json.dumps(record))
    ((*_, est, _),) = compute_rows(load_results(root))
    assert est != est  # NaN
    text = write_report(root)[0].read_text()
    assert "next to the estimate the suite's cost gave" in text
    # a run still going (no results.json) has no cost yet
    (run / "results.json").unlink()
    assert compute_rows(load_results(root)) == []


def test_provenance_line_names_every_host_and_every_package_version(tmp_path: Path):
    """Results gathered over several invocations on different hosts and package versions: the
    report's provenance line must name each, not just the last record's."""

    def record(commit: str, family: int | None, mujoco: str) -> dict:
        cpu = {"model": "AMD EPYC", "cores": 2}
        if family is not None:
            cpu |= {"family": family, "model_number": 2}
        return {
            "git_commit": commit,
            "versions": {"coopo": "0.1.0", "jax": "0.10.2", "mujoco": mujoco},
            "host": {"cpu": cpu, "gpu": []},
        }

    run = tmp_path / "runs" / "hopper-medium" / "coopo" / "seeds-0"
    run.mkdir(parents=True)
    (tmp_path / "provenance.json").write_text(json.dumps([record("a" * 40, None, "4.0.0")]))
    (run / "provenance.json").write_text(json.dumps([record("b" * 39 + "+dirty", 26, "4.0.1")]))
    line = provenance_line(tmp_path)
    assert line.startswith("commit aaaaaaaaaa, bbbbbbbbbb+changes; ")
    assert "AMD EPYC x2" in line and "AMD EPYC (family 26, model 2) x2" in line
    assert "mujoco 4.0.0 / 4.0.1" in line
    assert "jax 0.10.2," in line  # one version seen once is named once
    assert provenance_line(tmp_path / "nothing-here") == ""


def test_load_results_refuses_a_seed_trained_in_two_run_directories(tmp_path: Path) -> None:
    root = fake_results(tmp_path, {"coopo": [10.0, 20.0], "base": [5.0, 6.0]})
    assert len(load_results(root).runs) == 4
    src = root / "runs" / "hopper-medium" / "coopo" / "seeds"
    dup = src.parent / "seeds-1"
    shutil.copytree(src, dup)
    (dup / "bench.json").write_text(
        json.dumps({"dataset": "hopper-medium", "method": "coopo", "seeds": [1]})
    )
    with pytest.raises(ValueError, match=r"seed 1 of coopo on hopper-medium .*two run"):
        load_results(root)


def test_a_cell_of_one_seed_is_never_called_different(tmp_path: Path) -> None:
    # one seed each: no paired test, and each interval is a point, so no verdict either way
    res = load_results(fake_results(tmp_path, {"coopo": [90.0], "base": [10.0]}))
    (cmp,) = comparisons(res, analyse(res))
    # final score = mean of the last 3 evaluations: 0.9 x the last one
    assert not cmp.better and not cmp.worse and cmp.tie == [("hopper-medium", 81.0, 9.0)]
    assert not cmp.faster and not cmp.slower and len(cmp.unclear) == 1
