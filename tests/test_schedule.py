"""Methods as schedules: every method gets the same budgets."""

from __future__ import annotations

import pytest

from coopo.schedule import Budget, Clock, num_cycles, schedule


@pytest.mark.parametrize("method", ["coopo", "o2o", "offline", "online"])
def test_schedules_share_budgets(method):
    plan = schedule(method, cycles=3, offline_steps=100, online_steps=40)
    off = sum(p.steps for p in plan if p.kind == "offline")
    on = sum(p.steps for p in plan if p.kind == "online")
    assert off == (300 if method != "online" else 0)
    assert on == (120 if method != "offline" else 0)
    if method == "coopo":
        assert [p.kind for p in plan] == ["offline", "online"] * 3
        assert [p.cycle for p in plan] == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("method", ["coopo", "o2o", "offline", "online"])
def test_num_cycles_counts_the_cycles_of_the_schedule(method):
    plan = schedule(method, 3, 10, 20)
    assert num_cycles(method, 3) == len({p.cycle for p in plan})
    assert num_cycles(method, 3) == (3 if method == "coopo" else 1)


@pytest.mark.parametrize(
    ("method", "want"),
    [
        ("coopo", (300, 120, 6, 3, 40)),
        ("o2o", (300, 120, 2, 1, 120)),
        ("offline", (300, 0, 1, 0, None)),
        ("online", (0, 120, 1, 1, 120)),
    ],
)
def test_budget_is_read_off_the_schedule(method, want):
    config = {"method": method, "cycles": 3, "offline_steps": 100, "online_steps": 40, "x": 1}
    b = Budget.from_config(config)
    got = (b.offline_updates, b.online_env_steps, b.phases, b.online_phases, b.online_phase_steps)
    assert got == want
    assert b.progress_steps == want[0] + want[1]
    assert b == Budget.of(method, 3, 100, 40)


def test_clock_advances_into_a_new_value():
    start = Clock()
    later = start.advanced(env=50, grad=100, progress=50).advanced(grad=7)
    assert (later.env_steps, later.grad_steps, later.progress_steps) == (50, 107, 50)
    assert start == Clock(0, 0, 0)
    with pytest.raises(AttributeError):
        later.env_steps = 1  # type: ignore[misc]
