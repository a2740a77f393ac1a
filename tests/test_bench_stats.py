"""The report's statistics on synthetic curves with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coopo.bench import stats
from coopo.bench.report import (
    analyse,
    comparisons,
    compute_rows,
    drift_rows,
    forgetting_rows,
    interactions_cell,
    load_results,
    reduction_rows,
    write_report,
)
from coopo.bench.stats import Curve


def curve(points: list[tuple[int, float, str, int, bool]]) -> Curve:
    """(env_steps, score, phase, cycle, phase_end) rows -> Curve, through the metrics path."""
    rows = [
        {
            "seed": 0,
            "env_steps": e,
            "eval/normalized_score": s,
            "phase": p,
            "cycle": c,
            "eval/phase_end": float(end),
        }
        for e, s, p, c, end in points
    ]
    rows.insert(0, {"seed": 0, "env_steps": 0, "phase": "offline", "cycle": 0, "offline/x": 1.0})
    return Curve.of(rows)


COOPO_LIKE = curve(
    [
        (0, 40.0, "offline", 0, True),  # end of offline phase 1
        (100, 25.0, "online", 0, False),
        (200, 35.0, "online", 0, True),
        (200, 55.0, "offline", 1, True),  # end of offline phase 2
        (300, 50.0, "online", 1, False),
        (400, 70.0, "online", 1, True),
    ]
)


def test_curve_ignores_rows_without_the_score():
    assert list(COOPO_LIKE.env_steps) == [0, 100, 200, 200, 300, 400]
    assert COOPO_LIKE.phase[0] == "offline" and COOPO_LIKE.phase_end[0]


def test_final_score_is_the_last_evaluation():
    assert stats.final_score(COOPO_LIKE) == 70.0
    assert np.isnan(stats.final_score(curve([])))


@pytest.mark.parametrize(
    "target, expected",
    [(30.0, 0.0), (50.0, 200.0), (60.0, 400.0), (70.0, 400.0), (70.1, float("inf"))],
)
def test_interactions_to_target(target, expected):
    assert stats.interactions_to_target(COOPO_LIKE, target) == expected


def test_forgetting_at_each_offline_to_online_switch():
    # cycle 1: 40 -> min(25, 35) = 25 (drop 15); cycle 2: 55 -> min(50, 70) = 50 (drop 5)
    assert stats.forgetting(COOPO_LIKE) == [15.0, 5.0]
    improving = curve([(0, 10.0, "offline", 0, True), (50, 20.0, "online", 0, True)])
    assert stats.forgetting(improving) == [-10.0]
    online_only = curve([(50, 20.0, "online", 0, False), (100, 30.0, "online", 0, True)])
    assert stats.forgetting(online_only) == []


def test_on_grid_holds_the_latest_evaluation():
    grid = np.array([0, 50, 100, 250, 400])
    np.testing.assert_array_equal(stats.on_grid(COOPO_LIKE, grid), [40.0, 40.0, 25.0, 55.0, 70.0])
    late = curve([(100, 1.0, "online", 0, True)])
    assert np.isnan(stats.on_grid(late, np.array([0]))[0])


def test_iqm_golden_value():
    # IQM of 1..8: the mean of the middle half (3, 4, 5, 6)
    assert stats.iqm(np.arange(1.0, 9.0).reshape(4, 2)) == pytest.approx(4.5)


def test_intervals_cover_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(0)
    true_mean, trials, covered = 3.0, 150, 0
    for t in range(trials):
        x = rng.normal(true_mean, 2.0, size=(10, 2))  # 10 seeds x 2 tasks
        point, lo, hi = stats.interval(x, reps=400, seed=t)
        assert lo <= point <= hi
        covered += lo <= true_mean <= hi
    # A percentile bootstrap with 10 runs per task under-covers a little; 95% nominal.
    assert 0.85 <= covered / trials <= 0.995


def test_intervals_are_reproducible_and_leave_the_global_rng_alone():
    x = np.random.default_rng(3).normal(size=(3, 4))  # several tasks: rliable's global-RNG path
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    assert stats.interval(x, reps=300) == stats.interval(x, reps=300)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_interval_of_identical_runs_is_a_point():
    point, lo, hi = stats.interval(np.full((5, 1), 7.0), reps=200)
    assert point == lo == hi == 7.0


def test_ratio_interval_recovers_a_known_reduction():
    rng = np.random.default_rng(1)
    theirs = rng.normal(1000, 50, 30)
    ours = rng.normal(500, 25, 30)
    point, lo, hi = stats.ratio_interval(ours, theirs, reps=500)
    assert point == pytest.approx(1 - ours.mean() / theirs.mean())
    assert lo < 0.5 < hi and hi - lo < 0.1
    assert np.isnan(stats.ratio_interval(ours, np.zeros(3))[0])


def test_censored_interactions_are_marked_as_lower_bounds():
    assert interactions_cell(np.array([np.inf, np.inf]), 1000) == "never (0/2)"
    cell = interactions_cell(np.array([200.0, np.inf]), 1000)
    assert cell.startswith(">0.6k") and cell.endswith("(1/2)")
    assert interactions_cell(np.array([200.0, 400.0]), 1000).startswith("0.3k")


# ----------------------------------------------------------------------------- report
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
            json.dumps({"cycles": 1, "online_steps": 1000, "eval_episodes": 5})
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
    assert an.final[("hopper-medium", "coopo")] == (100.0, 100.0, 100.0)
    assert an.best_o2o == {"hopper-medium": "base"}
    steps, budget = an.interactions[("hopper-medium", "coopo", "50% of expert")]
    assert budget == 1000 and list(steps) == [500.0, 500.0]  # 100 * k/10 >= 50 at k = 5
    steps, _ = an.interactions[("hopper-medium", "base", "50% of expert")]
    assert list(steps) == [1000.0, 1000.0]


def test_analysis_tables_of_known_curves(tmp_path: Path):
    root = fake_results(tmp_path, {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]})
    res = load_results(root)
    an = analyse(res)
    (cmp,) = comparisons(res, an)
    assert (cmp.method, cmp.baseline) == ("coopo", "base")
    assert cmp.better == ["hopper-medium"] and not cmp.worse and not cmp.tie
    # coopo reaches 50 at k = 6, 5, 6 of 10 evaluations; of base only the seed ending at 50
    # does (at k = 10), the others count at the budget: a lower bound, marked '>'
    assert cmp.faster == [("hopper-medium", "0.6k", ">1.0k")] and not cmp.slower
    ((name, cells),) = reduction_rows(res, an, "hopper-medium")
    assert name == "coopo vs base" and len(cells) == 2  # 50% of expert, final score of base
    point, lo, hi = cells[0]  # type: ignore[misc]
    assert point == pytest.approx(1 - (600 + 500 + 600) / 3 / 1000) and lo <= point <= hi
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
    assert "| coopo | 95.0 [" in text
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
    assert "| coopo | 95.0 [" in text and "| - |" in text
    assert "1 runs unfinished" in text
