"""benchmarks/handoff_analysis.py: the drop at a switch and the first-switch table, on
hand-made metrics with known answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "handoff_analysis.py"
spec = importlib.util.spec_from_file_location("handoff_analysis", PATH)
ha = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ha)


def ev(seed, cycle, phase, env_steps, score, phase_end=False, mse=0.1):
    return {
        "seed": seed,
        "cycle": cycle,
        "phase": phase,
        "env_steps": env_steps,
        "eval/return": score,
        "eval/normalized_score": score,
        "eval/phase_end": float(phase_end),
        "eval/data_action_mse": mse,
        "eval/q_data": 10.0,
        "eval/q_policy": 12.0,
    }


def run(seed, off1, online1, off2, online2):
    """Two cycles of a 2k-step online phase evaluated every 1k steps."""
    rows = [ev(seed, 0, "offline", 0, off1, True)]
    rows += [ev(seed, 0, "online", 1000 * (i + 1), s, i == 1) for i, s in enumerate(online1)]
    rows += [ev(seed, 1, "offline", 2000, off2, True)]
    rows += [ev(seed, 1, "online", 2000 + 1000 * (i + 1), s, i == 1) for i, s in enumerate(online2)]
    return rows


def test_drop_is_end_of_offline_minus_the_worst_evaluation_of_the_window():
    rows = run(0, 30.0, [10.0, 20.0], 40.0, [35.0, 38.0]) + run(
        1, 20.0, [18.0, 5.0], 30.0, [30.0, 31.0]
    )
    s = ha.summarise({("d", "m"): rows}, window=2000)["d"]["m"]
    assert sorted(s["drop_per_seed_switch"]) == pytest.approx([0.0, 5.0, 15.0, 20.0])
    assert s["drop_mean"] == pytest.approx(10.0)
    assert s["end_of_offline_by_cycle"] == pytest.approx([25.0, 35.0])
    f = s["first_switch"]  # seed 0: 30 -> min 10; seed 1: 20 -> min 5
    assert f["drop"] == pytest.approx((20.0 + 15.0) / 2)
    assert f["end_of_offline"] == pytest.approx(25.0)
    assert f["score_at_window_end"] == pytest.approx((20.0 + 5.0) / 2)
    assert f["q_gap_after"] == pytest.approx(2.0)
    # final: the mean of the last 3 evaluations of each seed, then over seeds
    assert s["final_mean"] == pytest.approx(((40 + 35 + 38) / 3 + (30 + 30 + 31) / 3) / 2)


def test_the_window_limits_the_evaluations_judged_after_a_switch():
    rows = run(0, 30.0, [25.0, 0.0], 40.0, [35.0, 38.0])
    s = ha.summarise({("d", "m"): rows}, window=1000)["d"]["m"]
    assert s["first_switch"]["drop"] == pytest.approx(5.0)  # the 0 at 2k is outside


def test_criteria_pair_the_cycled_run_with_its_control_by_seed():
    cycled = run(0, 30.0, [28.0, 32.0], 40.0, [39.0, 41.0]) + run(
        1, 20.0, [18.0, 25.0], 10.0, [12.0, 14.0]
    )
    control = run(0, 30.0, [20.0, 30.0], 30.0, [30.0, 30.0]) + run(
        1, 20.0, [10.0, 10.0], 10.0, [10.0, 11.0]
    )
    summary = ha.summarise({("d", "cyc"): cycled, ("d", "one"): control}, window=2000)
    r = ha.criteria(summary, [("cyc", "one"), ("absent", "one")])["d"]
    assert set(r) == {"cyc"}
    c = r["cyc"]
    # drops: seed 0: 30-28, 40-39; seed 1: 20-18, 10-12 (a rise counts as -2)
    assert c["drop_mean"] == pytest.approx((2 + 1 + 2 - 2) / 4)
    assert c["drop_ok"]
    assert c["end_of_offline_by_cycle"] == pytest.approx([25.0, 25.0])
    assert c["end_of_offline_never_falls"]  # equal means do not fall
    assert c["seeds_never_falling"] == "1/2"  # seed 1 falls 20 -> 10
    # finals (last 3 evals): cycled 40, 12; control 30, 31/3 -> differences 10 and 12 - 31/3
    d = [40.0 - 30.0, 12.0 - 31.0 / 3]
    assert c["paired_seeds"] == 2
    assert c["paired_difference"] == pytest.approx(sum(d) / 2)
    assert c["paired_low"] < c["paired_difference"] < c["paired_high"]


def test_criteria_pair_the_drops_by_seed_too():
    # drops per seed (mean over its two switches): cycled 5, 1, 3; control 20, 10, 24
    cycled = (
        run(0, 30.0, [25.0, 30.0], 30.0, [25.0, 30.0])
        + run(1, 30.0, [29.0, 30.0], 30.0, [29.0, 30.0])
        + run(2, 30.0, [27.0, 30.0], 30.0, [27.0, 30.0])
    )
    control = (
        run(0, 30.0, [10.0, 30.0], 30.0, [10.0, 30.0])
        + run(1, 30.0, [20.0, 30.0], 30.0, [20.0, 30.0])
        + run(2, 30.0, [6.0, 30.0], 30.0, [6.0, 30.0])
    )
    summary = ha.summarise({("d", "cyc"): cycled, ("d", "one"): control}, window=2000)
    assert summary["d"]["cyc"]["drop_by_seed"] == pytest.approx({"0": 5.0, "1": 1.0, "2": 3.0})
    c = ha.criteria(summary, [("cyc", "one")])["d"]["cyc"]
    d = [5.0 - 20.0, 1.0 - 10.0, 3.0 - 24.0]  # -15, -9, -21
    assert c["drop_paired_seeds"] == 3
    assert c["drop_paired_difference"] == pytest.approx(sum(d) / 3)
    assert c["control_drop"] == pytest.approx(18.0)
    # t interval by hand: mean -15, sd 6, se 6/sqrt(3), t(0.975, 2) = 4.3027
    half = 4.302652729911275 * 6.0 / 3**0.5
    assert c["drop_paired_low"] == pytest.approx(-15.0 - half)
    assert c["drop_paired_high"] == pytest.approx(-15.0 + half)
    assert c["drop_paired_p"] < 0.05
    # the drop tests stay out of the Holm family of the final-score tests
    assert c["paired_p_holm"] == pytest.approx(c["paired_p"])


def test_a_cycled_method_judged_against_two_controls_keeps_both_rows():
    cycled = run(0, 30.0, [28.0, 32.0], 40.0, [39.0, 41.0]) + run(
        1, 20.0, [18.0, 25.0], 10.0, [12.0, 14.0]
    )
    one = run(0, 30.0, [20.0, 30.0], 30.0, [30.0, 30.0]) + run(
        1, 20.0, [10.0, 10.0], 10.0, [10.0, 11.0]
    )
    other = run(0, 30.0, [30.0, 30.0], 30.0, [30.0, 30.0]) + run(
        1, 20.0, [20.0, 20.0], 10.0, [10.0, 10.0]
    )
    summary = ha.summarise(
        {("d", "cyc"): cycled, ("d", "one"): one, ("d", "other"): other}, window=2000
    )
    r = ha.criteria(summary, [("cyc", "one"), ("cyc", "other")])["d"]
    assert set(r) == {"cyc vs one", "cyc vs other"}
    assert r["cyc vs one"]["control"] == "one"
    assert r["cyc vs other"]["control"] == "other"
    # finals: cycled 40, 12; other 30, 10
    assert r["cyc vs other"]["paired_difference"] == pytest.approx((10.0 + 2.0) / 2)
    assert r["cyc vs one"]["paired_difference"] != r["cyc vs other"]["paired_difference"]


def test_a_seed_without_evaluations_yet_does_not_count():
    rows = run(0, 30.0, [10.0, 20.0], 40.0, [35.0, 38.0])
    rows += [{"seed": 1, "cycle": 0, "phase": "offline", "env_steps": 0, "offline/loss": 1.0}]
    s = ha.summarise({("d", "m"): rows}, window=2000)["d"]["m"]
    assert s["seeds"] == 1
    assert s["final_mean"] == pytest.approx((40 + 35 + 38) / 3)


def test_criteria_holm_adjust_the_paired_p_values_over_the_whole_table():
    def cell(finals):  # one run per seed whose last 3 evaluations all equal `final`
        return [r for s, f in enumerate(finals) for r in run(s, f, [f, f], f, [f, f])]

    summary = ha.summarise(
        {
            ("d", "one"): cell([10.0, 20.0, 30.0]),
            ("d", "a"): cell([11.0, 22.0, 32.0]),  # differences 1, 2, 2
            ("d", "b"): cell([15.0, 21.0, 40.0]),  # differences 5, 1, 10
            ("e", "one"): cell([10.0, 20.0, 30.0]),
            ("e", "a"): cell([10.0, 23.0, 31.0]),  # differences 0, 3, 1
        },
        window=2000,
    )
    crit = ha.criteria(summary, [("a", "one"), ("b", "one")])
    rows = [crit["d"]["a"], crit["d"]["b"], crit["e"]["a"]]
    p = sorted((r["paired_p"], i) for i, r in enumerate(rows))
    # Holm by hand: the k-th smallest p times (m - k), made non-decreasing, capped at 1
    adjusted, running = {}, 0.0
    for k, (pk, i) in enumerate(p):
        running = max(running, min(1.0, pk * (len(p) - k)))
        adjusted[i] = running
    for i, r in enumerate(rows):
        assert r["paired_p_holm"] == pytest.approx(adjusted[i])
        assert r["paired_p_holm"] >= r["paired_p"]


def test_criteria_flag_a_large_drop_and_falling_end_of_offline_scores():
    rows = run(0, 30.0, [10.0, 20.0], 25.0, [24.0, 26.0])
    c = ha.criteria(ha.summarise({("d", "cyc"): rows}, window=2000), [("cyc", "one")])["d"]["cyc"]
    assert c["drop_mean"] == pytest.approx((20.0 + 1.0) / 2)
    assert not c["drop_ok"]
    assert not c["end_of_offline_never_falls"]
    assert "paired_difference" not in c  # no control run


def test_runs_without_results_json_are_marked_unfinished(tmp_path):
    import json

    for method, done in (("a", True), ("b", False)):
        d = tmp_path / "runs" / "d" / method / "seeds-0"
        d.mkdir(parents=True)
        rows = run(0, 30.0, [28.0, 32.0], 40.0, [39.0, 41.0])
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if done:
            (d / "results.json").write_text("{}")
    assert ha.unfinished(tmp_path) == {("d", "b")}
    s = ha.summarise(ha.load_runs(tmp_path), 2000, ha.unfinished(tmp_path))["d"]
    assert s["a"]["finished"] and not s["b"]["finished"]
    c = ha.criteria({"d": s}, [("a", "b")])["d"]["a"]
    assert c["finished"] and not c["control_finished"]


def test_finished_only_leaves_out_a_cells_unfinished_seeds(tmp_path):
    import json

    for seeds, done, final in (("seeds-0", True, 40.0), ("seeds-1", False, 0.0)):
        d = tmp_path / "runs" / "d" / "m" / seeds
        d.mkdir(parents=True)
        rows = run(int(seeds[-1]), 30.0, [28.0, 32.0], final, [final, final])
        (d / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        if done:
            (d / "results.json").write_text("{}")
    both = ha.summarise(ha.load_runs(tmp_path), 2000)["d"]["m"]
    done = ha.summarise(ha.load_runs(tmp_path, finished_only=True), 2000)["d"]["m"]
    assert both["seeds"] == 2 and both["final_mean"] == pytest.approx(20.0)
    assert done["seeds"] == 1 and done["final_mean"] == pytest.approx(40.0)


def test_the_controls_drop_is_matched_to_the_score_each_switch_started_from():
    # cycled: switch 1 starts at 30 (worst after: 10, drop 20), switch 2 at 40 (drop 5)
    cycled = run(0, 30.0, [10.0, 20.0], 40.0, [35.0, 38.0])
    # control: one online phase evaluated every 1k steps from 1k to 6k
    scores = [20.0, 35.0, 22.0, 60.0, 50.0, 55.0]
    control = [ev(0, 0, "offline", 0, 20.0, True)]
    control += [ev(0, 0, "online", 1000 * (i + 1), x) for i, x in enumerate(scores)]
    # with a 2k window, evaluations with a whole window: 20 (-> 22: -2), 35 (-> 22: 13),
    # 22 (-> 50: -28), 60 (-> 50: 10); within 10 points of 30: 20, 35, 22; of 40: 35
    got = ha.matched_drops({("d", "c"): cycled, ("d", "k"): control}, [("c", "k")], window=2000)
    r = got["d"]["c vs k"]["same_seed"]
    assert r["switches_matched"] == 2 and r["switches"] == 2
    assert r["drop"] == pytest.approx((20.0 + 5.0) / 2)
    assert r["control_drop_matched"] == pytest.approx(((-2.0 + 13.0 - 28.0) / 3 + 13.0) / 2)
    # nothing within 1 point of 30 or 40: no switch is matched
    none = ha.matched_drops({("d", "c"): cycled, ("d", "k"): control}, [("c", "k")], 2000, 1.0)
    assert none["d"]["c vs k"]["same_seed"]["switches_matched"] == 0
    assert none["d"]["c vs k"]["same_seed"]["control_drop_matched"] is None
    # the control as seed 1: nothing matches within seed 0, everything as before across seeds
    other = [dict(x, seed=1) for x in control]
    got = ha.matched_drops({("d", "c"): cycled, ("d", "k"): other}, [("c", "k")], window=2000)
    assert got["d"]["c vs k"]["same_seed"]["switches_matched"] == 0
    assert got["d"]["c vs k"]["any_seed"] == r
