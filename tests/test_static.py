"""Static checks run with the suite: ruff (lint + format) and mypy on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_ruff():
    ruff = str(Path(sys.executable).parent / "ruff")
    lint = run(ruff, "check", "coopo", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(ruff, "format", "--check", "coopo", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy():
    result = run(sys.executable, "-m", "mypy", "coopo")
    assert result.returncode == 0, result.stdout + result.stderr
