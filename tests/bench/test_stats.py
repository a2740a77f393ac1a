"""The report's statistics on synthetic curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from coopo.bench import stats
from coopo.bench.report import (
    interactions_cell,
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
