"""Progress bars: shown on a terminal, silent otherwise."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from coopo import progress
from coopo.data import build_dataset


def console_into(buf: io.StringIO, terminal: bool) -> Console:
    return Console(file=buf, force_terminal=terminal, width=120)


@pytest.mark.parametrize("terminal", [True, False])
def test_dataset_building_shows_progress_on_a_terminal_only(
    terminal: bool, monkeypatch: pytest.MonkeyPatch
):
    buf = io.StringIO()
    monkeypatch.setattr(progress, "default_console", lambda: console_into(buf, terminal))
    build_dataset("InvertedPendulum-v5", "random", size=200, seed=0)
    if terminal:
        assert "building InvertedPendulum-v5 dataset" in buf.getvalue()
        assert "200/200" in buf.getvalue()
    else:
        assert buf.getvalue() == ""


def test_progress_can_be_turned_off(monkeypatch: pytest.MonkeyPatch):
    buf = io.StringIO()
    monkeypatch.setattr(progress, "default_console", lambda: console_into(buf, True))
    build_dataset("InvertedPendulum-v5", "random", size=50, seed=0, progress=False)
    assert buf.getvalue() == ""


def test_behaviour_training_shows_progress_on_a_terminal(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from coopo.recipes.behaviour import train_behaviour

    buf = io.StringIO()
    monkeypatch.setattr(progress, "default_console", lambda: console_into(buf, True))
    train_behaviour(
        "InvertedPendulum-v5",
        target_return=1.0,
        out_dir=tmp_path,
        max_steps=2_000,
        eval_every=1_000,
        eval_episodes=1,
    )
    out = buf.getvalue()
    assert "training InvertedPendulum-v5 behaviour policy (SAC)" in out
    assert "target 1" in out and "1000/2000" in out
