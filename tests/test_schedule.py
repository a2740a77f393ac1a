"""Methods as schedules: every method gets the same budgets."""

from __future__ import annotations

import pytest

from coopo.schedule import num_cycles, schedule


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
