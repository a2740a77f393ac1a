"""The docs: the site builds with --strict (a broken link or a missing page fails), the
README stays one screen deep and its links resolve, the CLI reference is generated."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="the docs extra")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "COOPO_CACHE_DIR": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    for option in ("--offline-steps", "--cal-ql.num-samples", "--max-phases", "--export-d4rl"):
        assert option in cli, option  # rendered from the configs at build time
    api = (tmp_path / "site" / "reference" / "api" / "index.html").read_text()
    assert "coopo.api.train" in api


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
    # the first command installs and runs the default; the second is .ci/run's command
    first, second = re.findall(r"^python3 -m venv .*?(?=   #|$)", text, re.M)[:2]
    assert first.endswith("coopo train")
    assert second.strip() in (ROOT / ".ci" / "run").read_text()


def test_every_docs_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    missing = {p for p in pages if p not in nav}
    assert not missing, missing
