"""The handoff options reach the runner: the online phase's KL term is on when configured
(and only then), and every evaluation logs the handoff probe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from coopo.config import PRESETS
from coopo.logger import read_metrics
from coopo.runner import train

SMOKE = dataclasses.replace(PRESETS["smoke"], progress=False, build_size=1_000)


@pytest.mark.parametrize("coef", [0.0, 0.5])
def test_online_anchor_kl_term_is_on_exactly_when_configured(tmp_path: Path, coef: float):
    cfg = dataclasses.replace(
        SMOKE,
        run_dir=str(tmp_path / "run"),
        sac=dataclasses.replace(SMOKE.sac, anchor_kl_coef=coef),
    )
    train(cfg)
    rows = read_metrics(tmp_path / "run")
    online = [r for r in rows if "online/anchor_kl_weight" in r]
    assert {r["cycle"] for r in online} == {0, 1}  # every online phase logged it
    assert all(r["online/anchor_kl_weight"] == pytest.approx(coef) for r in online)
    evals = [r for r in rows if "eval/return" in r]
    assert evals and all("eval/q_data" in r and "eval/q_policy" in r for r in evals)
