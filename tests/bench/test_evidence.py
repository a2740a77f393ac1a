"""The report's comparisons on synthetic run directories with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coopo.bench import evidence
from coopo.bench.report import analyse, load_results

from .test_report import fake_results


def with_level(root: Path, level: float) -> Path:
    """Give every run of a fake results directory a dataset.json recording the data level."""
    for bench in (root / "runs").rglob("bench.json"):
        (bench.parent / "dataset.json").write_text(json.dumps({"normalized_return": level}))
    return root


def gather(root: Path) -> evidence.Evidence:
    an = analyse(load_results(root))
    assert an.evidence is not None
    return an.evidence


def test_known_comparison(tmp_path: Path):
    # Ramps to 90/100/95 against 40/50/45: final (mean of last 3 = 0.9 x final) differs by
    # 45 on every seed, so the paired interval is the point and p = 0.
    root = with_level(
        fake_results(tmp_path, {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]}), 30.0
    )
    ev = gather(root)
    assert ev.data_level == {"hopper-medium": 30.0}
    (per_ds, across) = ev.comparisons
    assert (per_ds.method, per_ds.baseline, per_ds.dataset) == ("coopo", "base", "hopper-medium")
    assert per_ds.final.mean == pytest.approx(45.0) and per_ds.final.n == 3
    assert per_ds.final.p_value == 0.0 and per_ds.final_holm == 0.0
    assert per_ds.poi == (1.0, 1.0, 1.0) and across.poi[0] == 1.0 and across.final is None
    # AUC of a ramp to F evaluated at 100..1000 over a 1000-step budget: 0.505 F
    np.testing.assert_allclose(ev.auc[("hopper-medium", "coopo")], [45.45, 50.5, 47.975])
    assert per_ds.auc.mean == pytest.approx(0.505 * 50)
    # held targets, data level + 10 = 40 first; a ramp to 90 holds 40 from k = 5 (45, 54, 63)
    an = analyse(load_results(root))
    assert an.targets["hopper-medium"][0] == ("data level + 10", 40.0)
    steps, budget = an.interactions[("hopper-medium", "coopo", "data level + 10")]
    assert list(steps) == [500.0, 400.0, 500.0] and budget == 1000
    # the fake runs never switch: no forgetting window
    assert an.window is None and not an.forgetting


def test_holm_spans_every_paired_test_of_the_report(tmp_path: Path):
    rng = np.random.default_rng(0)
    finals = {m: list(50 + rng.normal(0, 10, 6)) for m in ("coopo", "base", "other")}
    res = load_results(with_level(fake_results(tmp_path, finals), 20.0))
    an = analyse(res)
    ev = evidence.gather(res, ["coopo"], ["base", "other"], an.final_runs, an.matrices, {})
    tests = [c for c in ev.comparisons if c.final is not None]
    assert len(tests) == 2
    raw = [p for c in tests for p in (c.final.p_value, c.auc.p_value)]
    adj = [p for c in tests for p in (c.final_holm, c.auc_holm)]
    from statsmodels.stats.multitest import multipletests

    np.testing.assert_allclose(adj, multipletests(raw, method="holm")[1])
    assert all(a >= r for a, r in zip(adj, raw, strict=True))


def test_markdown_states_wins_losses_and_ties(tmp_path: Path):
    root = with_level(
        fake_results(tmp_path, {"coopo": [10.0, 12.0, 11.0], "base": [40.0, 50.0, 45.0]}), 25.0
    )
    res = load_results(root)
    text = "\n".join(evidence.markdown(res, gather(root)))
    assert "**lower** final score than base on hopper-medium" in text
    assert "| hopper-medium | 25.0 |" in text  # the data level table
    assert "| *data level* | 25.0 |" in text  # reference row in the AUC table


def test_data_level_is_computed_from_the_dataset_file_when_not_recorded(tmp_path: Path):
    from coopo import data

    ds = data.Dataset(
        observations=np.zeros((4, 2), np.float32),
        actions=np.zeros((4, 1), np.float32),
        rewards=np.array([1.0, 1.0, 3.0, 3.0], np.float32),
        next_observations=np.zeros((4, 2), np.float32),
        terminated=np.array([0, 1, 0, 1], bool),
        truncated=np.zeros(4, bool),
    )
    (tmp_path / "datasets").mkdir()
    data.write_npz(ds, tmp_path / "datasets" / "d.npz")
    run = tmp_path / "run"
    run.mkdir()
    (run / "bench.json").write_text(json.dumps({"dataset_file": "d.npz"}))
    (run / "dataset.json").write_text(
        json.dumps({"env_id": "Hopper-v5", "ref_min_score": 0.0, "ref_max_score": 8.0})
    )
    # episode returns 2 and 6: mean 4 of 0..8 -> 50
    assert evidence.data_level(tmp_path, run) == pytest.approx(50.0)
    (run / "bench.json").write_text(json.dumps({"dataset_file": "missing.npz"}))
    assert evidence.data_level(tmp_path, run) is None


def test_report_renders_the_new_statistics_from_run_directories(tmp_path: Path):
    """A whole report from synthetic run directories: final score as the mean of the last 3,
    AUC, paired differences with Holm, probability of improvement, held targets above the data
    level, the data level as a table row and a line in the curves, and what produced it."""
    from coopo.bench import report

    root = with_level(
        fake_results(tmp_path / "r", {"coopo": [90.0, 100.0, 95.0], "base": [40.0, 50.0, 45.0]}),
        30.0,
    )
    (root / "provenance.json").write_text(
        json.dumps(
            [
                {
                    "git_commit": "abcdef0123456789",
                    "host": {"cpu": {"model": "Test CPU", "cores": 2}, "gpu": []},
                    "versions": {"coopo": "0.1.0", "jax": "9.9"},
                }
            ]
        )
    )
    (root / "COMMAND").write_text("coopo bench fake --chunk 1\ncoopo bench fake --chunk 2\n")
    lines: list[float] = []
    real = evidence.add_data_level
    monkey = lambda ax, level: (lines.append(level), real(ax, level))  # noqa: E731
    evidence.add_data_level = monkey
    try:
        md, html = report.write_report(root)
    finally:
        evidence.add_data_level = real
    text = md.read_text()
    assert lines == [30.0]  # the learning curves' reference line
    assert "mean of its last 3 evaluations" in text
    assert "| *data level* | 30.0 |" in text and "| coopo | 85.5 [" in text
    assert "## Area under the learning curve" in text
    # paired: every seed 45 apart -> interval is the point, p < 0.001, Holm too
    assert "| coopo vs base | hopper-medium | 45.0 [45.0, 45.0] (n=3) | <0.001 | <0.001 |" in text
    assert "1.00 [1.00, 1.00]" in text  # probability of improvement
    assert "higher final score than base on hopper-medium (+45.0)" in text
    assert "## Online interactions to a held target" in text and "data level + 10 (40.0)" in text
    assert "commit abcdef0123; Test CPU x2; coopo 0.1.0, jax 9.9" in text
    assert "coopo bench fake --chunk 1\ncoopo bench fake --chunk 2\n" in text  # one per line
    assert "<table>" in html.read_text()
