"""The real CLI on tiny budgets: train, eval, data build and info, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coopo import data
from coopo.cli import main
from coopo.logger import read_metrics
from coopo.policy import load_policy


def test_cli_train_eval_and_run_directory(tmp_path: Path, capsys):
    run = tmp_path / "cli-run"
    rc = main(
        [
            "train",
            "--preset",
            "smoke",
            "--build-size",
            "1000",
            "--run-dir",
            str(run),
            "--no-progress",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "cycle 2/2 online" in out and "done" in out
    assert json.loads((run / "config.json").read_text())["method"] == "coopo"
    records = read_metrics(run)
    evals = [r for r in records if "eval/return" in r]
    assert len(evals) == 4 and [r["phase"] for r in evals] == ["offline", "online"] * 2
    assert evals[-1]["env_steps"] == 400
    assert any("offline/critic_loss" in r for r in records) and any(
        "online/alpha" in r for r in records
    )
    assert list((run / "tb" / "seed_0").glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "latest").read_text().startswith("phase-")
    # the handoff probe: the critic's value of the data's and the policy's actions
    assert all("eval/q_data" in r and "eval/q_policy" in r for r in evals)
    info = json.loads((run / "dataset.json").read_text())
    assert info["env_id"] == "InvertedPendulum-v5" and info["episode_return_mean"] > 0
    assert "normalized_return" not in info  # no reference returns for this task
    policy = load_policy(run)
    a = policy(np.zeros(4, np.float32))
    assert a.shape == (1,) and -3.0 <= a[0] <= 3.0
    assert policy(np.zeros((7, 4))).shape == (7, 1)
    with pytest.raises(ValueError, match="size 4"):
        policy(np.zeros(5))
    assert main(["eval", str(run), "--episodes", "2"]) == 0
    assert "InvertedPendulum-v5: return" in capsys.readouterr().out
    # a second train into the same directory refuses rather than overwriting
    assert main(["train", "--preset", "smoke", "--run-dir", str(run), "--no-progress"]) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert len(read_metrics(run)) == len(records)


def test_cli_data_build_and_info(tmp_path: Path, capsys):
    out = tmp_path / "d.hdf5"
    assert (
        main(
            [
                "data",
                "build",
                "--env-id",
                "Hopper-v5",
                "--size",
                "200",
                "--format",
                "d4rl",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "wrote 200 transitions" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["transitions"] == 200 and card["env_id"] == "Hopper-v5"
    assert card["ref_max_score"] == 3234.3 and "normalized_mean" in card
    assert main(["data", "build", "--env-id", "Hopper-v5", "--size", "50"]) == 0
    assert data.load("coopo/hopper/random-v0").size == 50
    assert main(["data", "info", "nothing/here-v0"]) == 1
    assert "not found" in capsys.readouterr().err


def test_cli_usage_errors(capsys):
    assert main([]) == 2
    assert main(["fly"]) == 2
    assert main(["train", "--preset", "nope"]) == 2
    capsys.readouterr()
    # a bad option value is a usage error: exit 2, one line on stderr naming the option
    assert main(["train", "--preset", "smoke", "--cycles", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--cycles" in err and len(err.strip().splitlines()) == 1
