"""Report figure styles: distinct colour and line style per method; cycle switch points."""

from __future__ import annotations

from coopo.bench.styles import COLORS, cycle_switches, method_styles


def test_every_method_gets_a_distinct_colour_and_a_distinct_line_style():
    methods = ["coopo", "awac-ft", "iql-ft", "rlpd", "sac-scratch"]
    styles = method_styles(methods)
    assert len({s["color"] for s in styles.values()}) == len(methods)
    assert len({str(s["linestyle"]) for s in styles.values()}) == len(methods)
    # awac-ft and rlpd (near-identical under seaborn's colorblind palette) are far apart
    assert styles["awac-ft"]["color"] != styles["rlpd"]["color"]
    many = method_styles([f"m{i}" for i in range(3 * len(COLORS))])
    pairs = {(s["color"], str(s["linestyle"])) for s in many.values()}
    assert len(pairs) == len(many)


def test_cycle_switches_are_the_offline_phase_ends_between_online_phases():
    rows = [
        {"phase": "offline", "env_steps": 0, "eval/phase_end": 1.0},
        {"phase": "online", "env_steps": 500, "eval/phase_end": 0.0},
        {"phase": "online", "env_steps": 1000, "eval/phase_end": 1.0},
        {"phase": "offline", "env_steps": 1000, "eval/phase_end": 1.0},
        {"phase": "offline", "env_steps": 1000, "offline/critic_loss": 1.0},
        {"phase": "online", "env_steps": 2000, "eval/phase_end": 1.0},
        {"phase": "offline", "env_steps": 2000, "eval/phase_end": 1.0},
        {"phase": "online", "env_steps": 3000, "eval/phase_end": 1.0},
    ]
    assert cycle_switches(rows) == [1000, 2000]
    o2o = [r for r in rows if r["env_steps"] == 0 or r["phase"] == "online"]
    assert cycle_switches(o2o) == []
