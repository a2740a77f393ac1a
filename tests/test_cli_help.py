"""The command line's help and error surface: every verb's --help, missing extras."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from coopo.cli import main
from coopo.recipes import QUALITIES, TASKS


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and output of ``coopo ARGV`` in this process (tyro exits with SystemExit)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


HELP = {
    "train": ["--offline", "--online", "--method", "awac_kl", "rlpd", "--preset"],
    "resume": ["RUN_DIR", "--max-phases"],
    "eval": ["RUN_DIR", "--episodes"],
    "export": ["RUN_DIR", "--out"],
    "bench": ["FILE.py:SUITE", "--list", "--workers", "--backend", "--keep-checkpoints"],
    "report": ["RESULTS_DIR", "--out"],
    "data": ["build", "info", "train-behaviour"],
    "data build": [
        "TASK-QUALITY",
        "--behaviour",
        "--format",
        "--export-d4rl",
        *(f"{t}-{q}" for t in TASKS for q in QUALITIES),
    ],
    "data build hopper-medium": ["--size", "--export-d4rl", "--expert-policy"],
    "data info": ["PATH-OR-ID", "--json"],
    "data train-behaviour": ["--target-return", "--env-id"],
}


@pytest.mark.parametrize("verb", list(HELP))
def test_every_verb_help_exits_zero_and_lists_its_forms_and_choices(verb: str, capsys):
    code, out = run_cli([*verb.split(), "--help"], capsys)
    assert code == 0, out
    flat = " ".join(out.split())
    for word in HELP[verb]:
        assert word in flat, (verb, word)


def test_top_level_help_names_every_verb(capsys):
    code, out = run_cli(["--help"], capsys)
    assert code == 0
    for verb in ("train", "resume", "eval", "export", "bench", "report", "data build"):
        assert verb in out


def test_report_without_its_extra_names_the_extra_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    # As if seaborn were not installed (find_spec returns None for a None sys.modules entry).
    monkeypatch.setitem(sys.modules, "seaborn", None)
    code, out = run_cli(["report", str(tmp_path)], capsys)
    assert code == 1
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out
    assert "pip install 'coopo[report]'" in lines[0] and "seaborn" in lines[0]


def test_core_modules_do_not_import_the_extras():
    """Training, data and the CLI import none of the extras' packages (lazy imports only)."""
    import subprocess

    code = (
        "import sys, coopo, coopo.cli, coopo.runner, coopo.data, coopo.bench.harness;"
        "from coopo.extras import EXTRAS;"
        "bad = [m for ms in EXTRAS.values() for m in ms if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_wandb_without_its_extra_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    monkeypatch.setitem(sys.modules, "wandb", None)
    run = tmp_path / "run"
    argv = ["train", "--preset", "smoke", "--wandb", "--run-dir", str(run), "--no-progress"]
    code, out = run_cli(argv, capsys)
    assert code == 1 and "--wandb" in out and "pip install 'coopo[wandb]'" in out
    assert len([line for line in out.splitlines() if line.strip()]) == 1
    assert not run.exists()
