"""The drift switch: an online phase that hands back to anchoring early when a mid-phase
evaluation shows drift, with its unused env steps given to the next online phase."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from coopo import checkpoint as ckpt
from coopo.api import resume, train
from coopo.buffers import mark_last_truncated, replay_add, replay_init
from coopo.config import ConfigError, validate_config
from coopo.logger import read_metrics
from coopo.schedule import DriftSwitch
from coopo.types import NO_MC_RETURN, Transition

from .conftest import cfg

# 2 cycles of 400 env steps, evaluated every 100: three mid-phase evaluations per online phase
DRIFT = {"cycles": 2, "online_steps": 400, "eval_interval": 100}


def evals(run: Path, seed: int = 0) -> list[tuple[int, str, int]]:
    """(cycle, phase, env_steps) of seed ``seed``'s evaluations, in order."""
    return [
        (r["cycle"], r["phase"], r["env_steps"])
        for r in read_metrics(run)
        if r["seed"] == seed and "eval/data_action_mse" in r
    ]


# ----------------------------------------------------------------------------- the rule
def test_the_rule_fires_on_either_measure_above_its_limit_and_never_when_off():
    off = DriftSwitch()
    assert not off.on and off.why(100.0, -50.0, 80.0) is None
    mse = DriftSwitch(mse=0.5)
    assert mse.why(0.5, None, None) is None  # at the limit: not above it
    assert mse.why(0.51, None, None) == "data_action_mse 0.51 > 0.5"
    assert mse.why(None, 0.0, 90.0) is None  # no probe, and the drop rule is off
    drop = DriftSwitch(drop=10.0)
    assert drop.why(9.0, 30.0, 40.0) is None  # 10 below: not more than 10
    assert drop.why(9.0, 29.0, 40.0) == "score 29.0, 11.0 below the end of anchoring (40.0) > 10"
    assert drop.why(9.0, 29.0, None) is None  # no offline phase ended yet
    assert drop.why(9.0, 60.0, 40.0) is None  # a rise
    both = DriftSwitch(mse=1.0, drop=5.0)
    assert both.why(2.0, 0.0, 50.0).startswith("data_action_mse")  # mse is checked first
    assert both.why(0.1, 0.0, 50.0).startswith("score 0.0")


@pytest.mark.parametrize(
    "change, says",
    [
        ({"drift_switch_mse": -1.0}, "--drift-switch-mse: must be >= 0"),
        ({"drift_switch_drop": 5.0, "method": "o2o"}, "--drift-switch-drop: .*--method coopo"),
        ({"drift_switch_mse": 1.0, "cycles": 1}, "--drift-switch-mse: .*--cycles >= 2"),
        (
            {"drift_switch_mse": 1.0, "eval_interval": 0},
            "--drift-switch-mse: .*0 < --eval-interval",
        ),
        ({"drift_switch_mse": 1.0, "eval_interval": 400}, "--eval-interval < --online-steps"),
    ],
)
def test_settings_where_the_switch_cannot_work_are_refused(tmp_path: Path, change, says):
    c = cfg(tmp_path, **{**DRIFT, **change})
    with pytest.raises(ConfigError, match=says):
        validate_config(c)


def test_the_drop_rule_needs_reference_scores(tmp_path: Path):
    with pytest.raises(ConfigError, match="--drift-switch-drop: needs D4RL reference scores"):
        train(cfg(tmp_path, **DRIFT, drift_switch_drop=5.0))
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_the_newest_row_of_each_seeds_buffer_is_marked_truncated_unless_it_terminated():
    buf = replay_init(2, 1, capacity=4, batch_shape=(2,))

    def rows(n: int, terminated: float) -> Transition:
        z = jnp.zeros((n,))
        return Transition(
            jnp.zeros((n, 2)),
            jnp.zeros((n, 1)),
            z,
            jnp.zeros((n, 2)),
            z + terminated,
            z,
            z + NO_MC_RETURN,
        )

    import jax

    add = jax.vmap(replay_add)
    assert (mark_last_truncated(buf).data.truncated == 0).all()  # empty: nothing to mark
    buf = add(buf, jax.tree_util.tree_map(lambda *x: jnp.stack(x), rows(3, 0.0), rows(3, 1.0)))
    buf = add(buf, jax.tree_util.tree_map(lambda *x: jnp.stack(x), rows(2, 0.0), rows(2, 1.0)))
    # 5 rows into capacity 4: the newest is row 0 (wrapped); seed 1's rows all terminated
    marked = mark_last_truncated(buf).data.truncated
    np.testing.assert_array_equal(marked, [[1, 0, 0, 0], [0, 0, 0, 0]])


# ----------------------------------------------------------------------------- whole runs
@pytest.mark.slow
def test_a_drifting_online_phase_hands_back_early_keeps_the_budget_and_resumes_exactly(
    tmp_path: Path, capsys
):
    run = tmp_path / "run"
    drifting = cfg(tmp_path, **DRIFT, drift_switch_mse=1e-12)  # any distance is drift
    result = train(drifting)
    assert result.finished
    said = capsys.readouterr().out
    assert "back to anchoring early (data_action_mse" in said
    assert "the next online phase gets 300 more env steps" in said
    e = evals(run)
    # cycle 1's online phase ends at its first mid-phase evaluation (100 of 400 env steps);
    # the last online phase runs to its end, 400 + 300 steps
    assert [(c, s) for c, p, s in e if p == "online"] == [
        (0, 100),
        (0, 100),
        (1, 200),
        (1, 300),
        (1, 400),
        (1, 500),
        (1, 600),
        (1, 700),
        (1, 800),
    ]
    assert json.loads((run / "results.json").read_text())["env_steps"] == 800
    # a run stopped after the early switch and resumed reproduces the unbroken one
    part = tmp_path / "part"
    train(dataclasses.replace(drifting, run_dir=str(part), max_phases=2))
    latest = ckpt.latest(part)
    assert latest is not None
    # the steps owed to the next online phase are part of the checkpoint
    assert json.loads((latest / "manifest.json").read_text())["counters"]["online_carry"] == 300
    assert resume(part).finished
    assert read_metrics(run) == read_metrics(part)
    full = json.loads((run / "results.json").read_text())
    assert json.loads((part / "results.json").read_text()) == full


@pytest.mark.slow
def test_a_switch_that_never_fires_leaves_the_run_as_it_was(tmp_path: Path):
    train(cfg(tmp_path, "plain", **DRIFT))
    train(cfg(tmp_path, "never", **DRIFT, drift_switch_mse=1e9))
    assert read_metrics(tmp_path / "plain") == read_metrics(tmp_path / "never")


@pytest.mark.slow
def test_the_drop_rule_compares_with_the_end_of_the_preceding_offline_phase(
    tmp_path: Path, monkeypatch
):
    from coopo import evaluation

    monkeypatch.setitem(evaluation.D4RL_REFERENCE_SCORES, "invertedpendulum", (0.0, 1000.0))
    seen: list[tuple[float | None, float | None]] = []
    why = DriftSwitch.why

    def spy(self, action_mse, score, anchored):
        seen.append((score, anchored))
        return why(self, action_mse, score, anchored)

    monkeypatch.setattr(DriftSwitch, "why", spy)
    run = tmp_path / "run"
    train(cfg(tmp_path, **DRIFT, seeds=(0, 1), drift_switch_drop=1e9))  # never fires
    scores: dict[tuple[int, str, int], list[float]] = {}
    for r in read_metrics(run):
        if "eval/normalized_score" in r:
            scores.setdefault((r["cycle"], r["phase"], r["env_steps"]), []).append(
                r["eval/normalized_score"]
            )
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    anchored = mean[(0, "offline", 0)]
    # the first online phase's three mid-phase evaluations (the last online phase is not checked)
    want = [(mean[(0, "online", s)], anchored) for s in (100, 200, 300)]
    assert np.allclose(np.array(seen, float), want, rtol=1e-6) and len({a for _, a in seen}) == 1


def test_online_phases_run_back_to_back_each_take_their_steps(tmp_path: Path):
    """Behaviour training (coopo data train-behaviour) calls the online phase again and again
    with no checkpoint between: each call runs its steps from step 0, and returns a new record
    of the run's progress instead of changing the one it started from."""
    from coopo.runner import Trainer
    from coopo.schedule import Phase

    c = cfg(tmp_path, method="online", random_steps=0)
    (tmp_path / "run").mkdir()
    trainer = Trainer(c, tmp_path / "run")
    try:
        state, start = trainer.init_state(), ckpt.Counters()
        with trainer.monitor.open(start, 200, False):
            for index in range(2):
                before = trainer.counters
                state = trainer.online_phase(state, Phase("online", 100, 0), index)
                assert before.env_steps == 100 * index  # the earlier record is untouched
                assert trainer.counters.env_steps == 100 * (index + 1)
                assert trainer.counters.phase_step == 0 and trainer.counters.online_carry == 0
        assert start == ckpt.Counters()
    finally:
        trainer.close()
