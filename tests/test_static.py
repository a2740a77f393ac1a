"""Static checks run with the suite: ruff (lint + format) and mypy on the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)


def test_ruff():
    ruff = str(Path(sys.executable).parent / "ruff")
    lint = run(ruff, "check", "coopo", "tests", "benchmarks")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(ruff, "format", "--check", "coopo", "tests", "benchmarks")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy_is_clean_and_sees_each_algorithms_options(tmp_path: Path):
    """mypy finds nothing in the package, and the run config's per-algorithm fields are
    static: it knows ``cfg.sac`` is SAC's Config, so a misspelt option or a wrong type in a
    user's script is caught before a run starts (one mypy run checks both)."""
    code = tmp_path / "use_config.py"
    code.write_text(
        "from coopo.config import TrainConfig\n"
        "cfg = TrainConfig()\n"
        "ok: float = cfg.sac.actor_lr + cfg.cal_ql.num_samples\n"
        "bad = cfg.sac.actor_learning_rate\n"
        "worse: str = cfg.iql.expectile\n"
    )
    result = run(sys.executable, "-m", "mypy", "coopo", str(code))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert all(line.startswith(str(code)) for line in errors), out  # none in coopo/
    assert '"Config" has no attribute "actor_learning_rate"' in out
    assert 'Incompatible types in assignment (expression has type "float"' in out
    assert len(errors) == 2, out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """coopo module -> the coopo modules it imports (at the top or inside functions)."""
    import ast

    pkg = root / "coopo"
    modules = {}
    for path in pkg.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    up = name.split(".")[: len(name.split(".")) - node.level + is_pkg]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import submodule` depends on the submodule, anything else on pkg
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.add(sub if sub in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for t in sorted(graph[node]):
            assert state.get(t) != 1, "import cycle: " + " -> ".join([*path, node, t])
            if t not in state:
                visit(t, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
