"""benchmarks/drop_noise_floor.py: the drop and spread a frozen policy shows, on episode
scores with known answers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "drop_noise_floor.py"
spec = importlib.util.spec_from_file_location("drop_noise_floor", PATH)
nf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nf)


def test_a_policy_with_identical_episodes_shows_no_drop_and_no_spread():
    s = nf.resampled_statistics(np.full(50, 42.0), eval_episodes=5, window=10, resamples=1000)
    assert s == {"drop_mean": 0.0, "drop_p95": 0.0, "evaluation_std": 0.0, "final_std": 0.0}


def test_two_valued_episodes_give_the_analytic_drop_and_spreads():
    # Episodes score 0 or 10 with equal chance, one episode per evaluation: the worst of 10
    # evaluations is 10 only if all are 10 (2^-10), so E[drop] = 5 - 10 * 2^-10.
    scores = np.array([0.0, 10.0] * 50)
    s = nf.resampled_statistics(scores, eval_episodes=1, window=10, resamples=200_000)
    assert s["drop_mean"] == pytest.approx(5.0 - 10.0 * 2.0**-10, abs=0.05)
    assert s["evaluation_std"] == pytest.approx(5.0, abs=0.05)
    assert s["final_std"] == pytest.approx(5.0 / np.sqrt(3), abs=0.05)


def test_more_episodes_per_evaluation_shrink_the_drop():
    rng = np.random.default_rng(0)
    scores = rng.normal(40.0, 20.0, 300)
    d5 = nf.resampled_statistics(scores, 5, 10, 20_000)["drop_mean"]
    d10 = nf.resampled_statistics(scores, 10, 10, 20_000)["drop_mean"]
    # The expected max of 10 standard normals is about 1.54, plus E[x0 - mean] = 0.
    assert d5 == pytest.approx(1.54 * 20.0 / np.sqrt(5), rel=0.1)
    assert d10 == pytest.approx(d5 / np.sqrt(2), rel=0.1)
