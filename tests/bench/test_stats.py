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


def test_final_score_is_the_mean_of_the_last_three_evaluations():
    assert stats.final_score(COOPO_LIKE) == pytest.approx((55.0 + 50.0 + 70.0) / 3)
    assert stats.final_score(COOPO_LIKE, last=1) == 70.0
    short = curve([(100, 10.0, "online", 0, False), (200, 20.0, "online", 0, True)])
    assert stats.final_score(short) == 15.0  # fewer evaluations than 3: all of them
    assert np.isnan(stats.final_score(curve([])))


def test_normalized_auc_by_hand():
    # Trapezoids in logged order over [0, 400]: (40+25)/2*100 + (25+35)/2*100 + 0 (the
    # offline phase at 200) + (55+50)/2*100 + (50+70)/2*100 = 3250+3000+5250+6000 = 17500.
    assert stats.normalized_auc(COOPO_LIKE, 400) == pytest.approx(17_500 / 400)
    # A constant curve has the constant as its AUC, whatever the grid.
    flat = curve([(250, 30.0, "online", 0, False), (1000, 30.0, "online", 0, True)])
    assert stats.normalized_auc(flat, 1000) == pytest.approx(30.0)
    # A ramp 10 -> 100 evaluated at 100..1000, first evaluation after 0: held flat at 10 back
    # to 0 (area 1,000), then (10 + 100) / 2 * 900 = 49,500: 50,500 / 1,000 = 50.5.
    ramp = curve([(100 * k, 10.0 * k, "online", 0, k == 10) for k in range(1, 11)])
    assert stats.normalized_auc(ramp, 1000) == pytest.approx(50.5)
    assert np.isnan(stats.normalized_auc(curve([]), 1000))


def test_the_online_grid_drops_the_later_end_of_offline_evaluations():
    grid = stats.online_grid(COOPO_LIKE)
    # the pre-trained policy at step 0 stays (every offline-to-online method has it); the end
    # of offline phase 2 at step 200 goes (a one-switch method has no such evaluation)
    assert list(grid.env_steps) == [0, 100, 200, 300, 400]
    assert list(grid.score) == [40.0, 25.0, 35.0, 50.0, 70.0]
    assert grid.phase == ("offline", "online", "online", "online", "online")
    scratch = curve([(100, 5.0, "online", 0, False), (200, 6.0, "online", 0, True)])
    assert list(stats.online_grid(scratch).env_steps) == [100, 200]


@pytest.mark.parametrize(
    "target, expected",
    [(30.0, 200.0), (35.0, 200.0), (50.0, float("inf")), (55.0, float("inf")), (20.0, 0.0)],
)
def test_interactions_to_held_target(target, expected):
    # on the shared grid the scores are 40, 25, 35, 50, 70 at env steps 0, 100, 200, 300, 400
    # (the end of offline phase 2, 55 at step 200, is not on it): >= 30 first held from step
    # 200 (35, 50, 70); >= 50 only at the last two evaluations, which two more cannot
    # confirm: never held (counting the end-of-offline 55 would have held it from step 200).
    assert stats.interactions_to_held_target(COOPO_LIKE, target) == expected


def test_an_end_of_offline_evaluation_does_not_complete_a_held_window():
    run = curve(
        [
            (0, 10.0, "offline", 0, True),
            (100, 10.0, "online", 0, False),
            (200, 60.0, "online", 0, True),
            (200, 65.0, "offline", 1, True),  # COOPO's extra evaluation between two phases
            (300, 62.0, "online", 1, False),
            (400, 30.0, "online", 1, True),
        ]
    )
    # 60, 65, 62 would be a held window from step 200; on the online grid it is 60, 62, 30
    assert stats.interactions_to_held_target(run, 55.0) == float("inf")
    assert stats.interactions_to_target(run, 63.0) == float("inf")  # 65 was offline only


def test_a_target_touched_once_is_not_held():
    spike = curve(
        [
            (100, 10.0, "online", 0, False),
            (200, 90.0, "online", 0, False),
            (300, 10.0, "online", 0, False),
            (400, 60.0, "online", 0, False),
            (500, 61.0, "online", 0, False),
            (600, 62.0, "online", 0, True),
        ]
    )
    assert stats.interactions_to_target(spike, 60.0) == 200.0
    assert stats.interactions_to_held_target(spike, 60.0) == 400.0
    # The last two evaluations cannot be confirmed by two more.
    assert stats.interactions_to_held_target(spike, 61.5) == float("inf")


@pytest.mark.parametrize(
    "target, expected",
    # 50 is first met online at step 300: the end-of-offline 55 at step 200 is off the grid
    [(30.0, 0.0), (50.0, 300.0), (60.0, 400.0), (70.0, 400.0), (70.1, float("inf"))],
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


def test_forgetting_in_a_fixed_window_sees_the_same_evaluations_for_every_method():
    # One long online phase (O2O) evaluated every 100 steps over 400: the dip at 300 lies
    # beyond a 200-step window, so only the evaluations at 100 and 200 count.
    long = curve(
        [
            (0, 50.0, "offline", 0, True),
            (100, 45.0, "online", 0, False),
            (200, 48.0, "online", 0, False),
            (300, 10.0, "online", 0, False),
            (400, 60.0, "online", 0, True),
        ]
    )
    assert stats.forgetting(long) == [40.0]
    assert stats.forgetting(long, window=200) == [5.0]
    # COOPO's phases of 200 steps: the window covers each whole phase (windows are measured
    # from each switch's own env-step count).
    assert stats.forgetting(COOPO_LIKE, window=200) == stats.forgetting(COOPO_LIKE)
    assert stats.forgetting(COOPO_LIKE, window=100) == [15.0, 5.0]
    assert stats.forgetting(COOPO_LIKE, window=50) == []


def test_data_level_is_the_dataset_mean_return_normalised():
    # refs 0..200: returns 50 and 150 -> mean 100 -> 50 points.
    assert stats.data_level(np.array([50.0, 150.0]), 0.0, 200.0) == pytest.approx(50.0)
    assert stats.data_level(np.array([20.0]), 20.0, 120.0) == pytest.approx(0.0)


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


def test_probability_of_improvement_known_answers():
    # Every x above every y: 1; the reverse: 0; identical: 0.5 (rliable's convention).
    hi, lo = np.array([10.0, 11.0, 12.0]), np.array([1.0, 2.0, 3.0])
    assert stats.probability_of_improvement(hi, lo, reps=200) == (1.0, 1.0, 1.0)
    assert stats.probability_of_improvement(lo, hi, reps=200)[0] == 0.0
    assert stats.probability_of_improvement(hi, hi, reps=200)[0] == 0.5
    # x = {1, 3}, y = {2}: one of two pairs has x > y -> 0.5; x = {1, 3, 5}, y = {2, 4}:
    # pairs with x > y: (3,2), (5,2), (5,4) = 3 of 6.
    three, two = np.array([1.0, 3.0, 5.0]), np.array([2.0, 4.0])
    assert stats.probability_of_improvement(three, two, reps=200)[0] == 0.5
    # Two tasks: 1 on the first, 0 on the second -> 0.5 averaged.
    x = np.array([[10.0, 0.0], [11.0, 1.0]])
    y = np.array([[0.0, 10.0], [1.0, 11.0]])
    assert stats.probability_of_improvement(x, y, reps=200)[0] == 0.5


def test_probability_of_improvement_interval_covers_the_truth():
    # X ~ N(1, 1), Y ~ N(0, 1): P(X > Y) = Phi(1 / sqrt 2) = 0.760.
    from scipy.stats import norm

    truth = norm.cdf(1 / np.sqrt(2))
    rng = np.random.default_rng(5)
    point, lo, hi = stats.probability_of_improvement(
        rng.normal(1, 1, (200, 1)), rng.normal(0, 1, (200, 1)), reps=300
    )
    assert lo < truth < hi and lo <= point <= hi and hi - lo < 0.15


def test_paired_difference_by_hand():
    # d = (2, 4, 6): mean 4, sd 2, se 2/sqrt 3, t(2) 97.5% = 4.302653 -> 4 +- 4.9683
    x, y = np.array([12.0, 24.0, 36.0]), np.array([10.0, 20.0, 30.0])
    r = stats.paired_difference(x, y)
    half = 4.302652729749462 * 2 / np.sqrt(3)
    assert r.mean == pytest.approx(4.0) and r.n == 3
    assert (r.low, r.high) == (pytest.approx(4 - half), pytest.approx(4 + half))
    # t = 4 / (2 / sqrt 3) = 3.4641, two-sided p with 2 df = 0.07418
    assert r.p_value == pytest.approx(0.0741799, rel=1e-4)
    # Pairing removes the seeds' shared luck: a constant offset on noisy seeds is exact.
    noise = np.random.default_rng(0).integers(-30, 30, 10).astype(float)  # exact sums
    exact = stats.paired_difference(noise + 5.0, noise)
    assert (exact.mean, exact.low, exact.high, exact.p_value) == pytest.approx((5.0, 5.0, 5.0, 0.0))
    with pytest.raises(ValueError, match="paired"):
        stats.paired_difference(x, y[:2])


def test_holm_adjustment_by_hand():
    # sorted p = 0.01, 0.02, 0.04 (m = 3): 3*0.01 = 0.03, max(0.03, 2*0.02) = 0.04,
    # max(0.04, 1*0.04) = 0.04; back in the input order, NaN passes through.
    adj = stats.holm([0.04, 0.01, float("nan"), 0.02])
    np.testing.assert_allclose(adj[[0, 1, 3]], [0.04, 0.03, 0.04])
    assert np.isnan(adj[2])
    assert stats.holm([0.5, 0.9])[1] == 1.0  # capped at 1


def test_runs_that_never_hold_are_counted_not_averaged_in_at_the_budget():
    assert interactions_cell(np.array([np.inf, np.inf]), 1000) == "never (0/2)"
    # the old cell averaged the never-held run in at the budget: >0.6k
    assert (
        interactions_cell(np.array([200.0, np.inf]), 1000) == "1/2 held, median 0.2k [0.2k, 0.2k]"
    )
    assert interactions_cell(np.array([200.0, 400.0]), 1000).startswith("2/2 held, median 0.3k")


def test_held_summary_and_survival_median():
    h = stats.held_summary(np.array([200.0, np.inf, 400.0, 600.0]))
    assert (h.held, h.runs, h.median) == (3, 4, 400.0) and h.fraction == 0.75
    assert h.low <= 400.0 <= h.high
    none = stats.held_summary(np.array([np.inf, np.inf]))
    assert none.held == 0 and np.isnan(none.median)
    # over all runs, a never-held run counts as never: finite only if more than half held
    assert stats.survival_median(np.array([100.0, 200.0, np.inf])) == 200.0
    assert stats.survival_median(np.array([100.0, np.inf, np.inf])) == float("inf")


def test_ratio_interval_of_survival_medians():
    ours = np.array([100.0, 100.0, 100.0, 100.0])
    theirs = np.array([200.0, 200.0, 200.0, np.inf])
    point, lo, hi = stats.ratio_interval(ours, theirs, reps=300, center=stats.survival_median)
    # 1 - 100/200; resamples where most of theirs never held count as a reduction of 1
    assert point == 0.5 and lo == 0.5 and hi == 1.0
    point, lo, hi = stats.ratio_interval(theirs, ours, reps=300, center=stats.survival_median)
    assert point == -1.0 and lo == -np.inf and hi == -1.0


# ----------------------------------------------------------------------------- report
