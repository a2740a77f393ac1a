"""Methods as schedules: every method gets the same budgets."""

from __future__ import annotations

import pytest

from coopo.schedule import schedule


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
