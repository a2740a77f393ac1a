"""What a user meets first: --version, python -m coopo, one-line errors with documented exit
codes, --help that does not import JAX, and the built-in default's phase-boundary lines."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import coopo
from coopo.cli import _one_line, main
from tests.conftest import PROJECT_SUITES, cfg

BOX = set("╭╮╰╯│─")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    c = capsys.readouterr()
    return code, c.out, c.err


def python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_version_flag_and_python_dash_m(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.strip() == f"coopo {coopo.__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "coopo", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"coopo {coopo.__version__}"


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--offline", "nosuch"],  # tyro: an invalid choice
        ["train", "--cycles", "x"],  # tyro: not an int
        ["train", "--no-such-option"],  # tyro: unknown option
        ["train", "--cycles", "0"],  # coopo's validation of a value
        ["train", "--preset", "nope"],
        ["eval"],  # tyro: a missing positional
        ["fly"],
        ["data", "build", "hopper-nothing"],
        ["bench", f"{PROJECT_SUITES}:smoke", "--chunk", "7"],
        ["bench", f"{PROJECT_SUITES}:nosuch"],
        ["bench", str(PROJECT_SUITES)],
        ["bench", "no/such/suites.py:cpu"],
        ["bench", "--list", "no/such/suites.py"],
        ["bench"],
    ],
)
def test_usage_errors_are_one_line_on_stderr_with_exit_code_2(argv, capsys):
    code, out, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not BOX & set(err) and "Traceback" not in err


def test_failures_at_run_time_are_one_line_on_stderr_with_exit_code_1(tmp_path: Path, capsys):
    code, out, err = run(["data", "info", str(tmp_path / "missing.hdf5")], capsys)
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "missing.hdf5" in err and out == ""


def test_tyro_panel_becomes_one_line():
    panel = (
        "╭─ Invalid choice ────────────╮\n"
        "│ invalid choice 'x' for      │\n"
        "│ argument '--offline'.       │\n"
        "│ ─────────────────────────── │\n"
        "│ For full helptext, run coopo train --help │\n"
        "╰─────────────────────────────╯\n"
    )
    assert _one_line(panel, "coopo train") == (
        "Invalid choice invalid choice 'x' for argument '--offline'. (see coopo train --help)"
    )


LIGHT_HELP = [
    ["--help"],
    ["resume", "--help"],
    ["eval", "--help"],
    ["export", "--help"],
    ["report", "--help"],
    ["bench", "--help"],
    ["bench", "no/such/file.py:cpu", "--help"],
    ["data", "build", "--help"],
    ["data", "build", "hopper-medium", "--help"],
    ["data", "info", "--help"],
    ["data", "train-behaviour", "--help"],
]


@pytest.mark.parametrize("argv", LIGHT_HELP, ids=" ".join)
def test_help_does_not_import_jax_or_gymnasium(argv, tmp_path: Path):
    code = (
        "import sys\nfrom coopo.cli import main\n"
        f"try:\n    rc = main({argv!r})\nexcept SystemExit as e:\n    rc = e.code or 0\n"
        "heavy = sorted(m for m in ('jax', 'flax', 'gymnasium', 'tensorboardX') if m in sys.modules)\n"
        "print('HEAVY', heavy, rc)"
    )
    proc = python(code, {"COOPO_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY [] 0"


@pytest.mark.slow
def test_train_help_is_rendered_once_then_read_without_jax(tmp_path: Path):
    """`coopo train --help` needs every algorithm's config, so JAX, the first time; after that
    it comes from the cache and equals what a fresh render prints."""
    code = (
        "import sys\nfrom coopo.cli import main\n"
        "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('JAX', 'jax' in sys.modules)"
    )
    env = {"COOPO_CACHE_DIR": str(tmp_path), "COLUMNS": "100"}
    first, second = python(code, env), python(code, env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert first.stdout.strip().endswith("JAX True")
    assert second.stdout.strip().endswith("JAX False")
    text = second.stdout.rsplit("JAX", 1)[0]
    assert text == first.stdout.rsplit("JAX", 1)[0]
    assert "--offline-steps" in text and "--cal-ql.num-samples" in text
    assert list((tmp_path / "help").glob("train-default-*.txt"))


def test_import_coopo_is_light():
    proc = python("import sys, coopo\nprint('jax' in sys.modules, coopo.__version__)")
    assert proc.returncode == 0 and proc.stdout.split()[0] == "False", proc.stdout
    proc = python("import coopo\nprint(coopo.TrainConfig.__name__, callable(coopo.train))")
    assert proc.stdout.split() == ["TrainConfig", "True"], proc.stderr


def test_default_config_is_a_short_run_on_a_built_medium_dataset():
    """`coopo train` with no options builds a medium recipe and runs COOPO (the budgets are a
    choice documented in docs/getting-started.md; this checks the parts a user relies on)."""
    from coopo.config import PRESETS, TrainConfig, validate_config

    default = TrainConfig()
    assert PRESETS["default"] == default
    validate_config(default)
    assert default.method == "coopo" and default.dataset.startswith("build:")
    assert default.dataset.endswith("-medium") and default.cycles >= 2
    full = PRESETS["full"]
    assert full.cycles * full.offline_steps > default.cycles * default.offline_steps


def test_phase_lines_show_the_data_level_and_the_end_says_what_next(tmp_path: Path, capsys):
    c = dataclasses.replace(cfg(tmp_path), run_dir=str(tmp_path / "run"))
    argv = ["train", "--preset", "smoke", "--run-dir", c.run_dir, "--no-progress"]
    argv += ["--build-size", "1000"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    phase_lines = [line for line in out.splitlines() if line.startswith("cycle ")]
    assert len(phase_lines) == 4 and all("(data " in line for line in phase_lines)
    assert "the dataset's own level" in out
    for verb in (f"coopo eval {c.run_dir}", f"--logdir {c.run_dir}/tb", "coopo bench"):
        assert verb in out
