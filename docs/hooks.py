"""MkDocs hook: renders the CLI reference (docs/reference/cli.md) from each verb's ``--help``,
so the page is generated from the typed configs, never copied by hand."""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

MARKER = "<!-- cli-reference -->"

VERBS: list[tuple[str, list[str]]] = [
    ("coopo", ["--help"]),
    ("coopo train", ["train", "--help"]),
    ("coopo resume", ["resume", "--help"]),
    ("coopo eval", ["eval", "--help"]),
    ("coopo export", ["export", "--help"]),
    ("coopo data build", ["data", "build", "--help"]),
    ("coopo data build TASK-QUALITY", ["data", "build", "hopper-medium", "--help"]),
    ("coopo data info", ["data", "info", "--help"]),
    ("coopo data train-behaviour", ["data", "train-behaviour", "--help"]),
    ("coopo bench", ["bench", "--help"]),
    ("coopo report", ["report", "--help"]),
]


def help_text(argv: list[str]) -> str:
    """What ``coopo ARGV`` prints, at a fixed width (the page does not depend on a terminal)."""
    from coopo.cli import main

    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        with contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as e:
                code = int(e.code or 0)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    if code != 0:
        raise RuntimeError(f"coopo {' '.join(argv)} exited with {code}")
    return out.getvalue().rstrip()


def cli_reference() -> str:
    parts = []
    for title, argv in VERBS:
        parts.append(f"## `{title}`\n\n```text\n{help_text(argv)}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
