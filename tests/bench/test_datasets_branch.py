"""benchmarks/datasets.py: the datasets behind committed results stored on, and fetched from,
their own git branch, checked against the hashes the runs recorded."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

from coopo.data import write_npz

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "datasets.py"
spec = importlib.util.spec_from_file_location("bench_datasets", PATH)
bd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bd)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pendulum_dataset) -> Path:
    """A repository with one committed results directory whose run recorded its dataset."""
    root = tmp_path / "repo"
    results = root / "benchmarks" / "results" / "suite"
    run = results / "runs" / "pendulum" / "coopo" / "seeds-0"
    run.mkdir(parents=True)
    write_npz(pendulum_dataset, results / "datasets" / "pendulum-n600.npz")
    (run / "bench.json").write_text(json.dumps({"dataset_file": "pendulum-n600.npz"}))
    (run / "dataset.json").write_text(json.dumps({"hash": pendulum_dataset.content_hash()}))
    git(root.parent, "init", "-q", "-b", "main", str(root))
    for key, value in (("user.name", "t"), ("user.email", "t@example.org")):
        git(root, "config", key, value)
    git(root, "add", "benchmarks/results/suite/runs")
    git(root, "commit", "-q", "-m", "results")
    monkeypatch.setattr(bd, "ROOT", root)
    monkeypatch.setattr(bd, "RESULTS", root / "benchmarks" / "results")
    return root


def test_stored_datasets_come_back_byte_for_byte(repo: Path, capsys):
    results = repo / "benchmarks" / "results" / "suite"
    data = results / "datasets" / "pendulum-n600.npz"
    before = data.read_bytes()
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")
    assert bd.main(["store", str(results)]) == 0
    # the branch holds the file at its working-tree path; main, its index and tree are untouched
    listing = git(repo, "ls-tree", "-r", "--name-only", bd.BRANCH).split()
    assert listing == ["benchmarks/results/suite/datasets/pendulum-n600.npz"]
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == status
    assert bd.main(["store", str(results)]) == 0  # again: nothing new to commit
    assert "already holds" in capsys.readouterr().out
    assert len(git(repo, "rev-list", bd.BRANCH).split()) == 1
    data.unlink()
    assert bd.main(["status"]) == 0
    assert "missing, on bench-datasets" in capsys.readouterr().out
    assert bd.main(["fetch", str(results)]) == 0
    assert data.read_bytes() == before
    assert not list(data.parent.glob("*.tmp"))


def test_a_file_that_is_not_what_the_runs_trained_on_is_refused(repo: Path):
    results = repo / "benchmarks" / "results" / "suite"
    data = results / "datasets" / "pendulum-n600.npz"
    record = next(results.glob("runs/*/*/*/dataset.json"))
    right = record.read_text()
    record.write_text(json.dumps({"hash": "0123456789abcdef"}))
    with pytest.raises(SystemExit, match="0123456789abcdef"):
        bd.main(["store", str(results)])  # nothing stored
    assert not git(repo, "branch", "--list", bd.BRANCH).strip()
    record.write_text(right)
    assert bd.main(["store", str(results)]) == 0
    data.unlink()
    record.write_text(json.dumps({"hash": "0123456789abcdef"}))
    with pytest.raises(SystemExit, match="recorded 0123456789abcdef"):
        bd.main(["fetch", str(results)])
    assert not data.exists() and not list(data.parent.iterdir())  # nothing half-written


def test_fetch_without_the_branch_says_how_to_get_it(repo: Path):
    with pytest.raises(SystemExit, match=f"git fetch origin {bd.BRANCH}"):
        bd.main(["fetch"])
