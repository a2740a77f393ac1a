"""Progress bars for long work (dataset building, behaviour training, benchmarks).

Shown on a terminal, silent otherwise: output piped to a file or a CI log gets no bars (the
work's own result lines are printed as before).
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def default_console() -> Console:
    return Console(stderr=True)


def make_progress(console: Console | None = None, enabled: bool = True) -> Progress:
    """A rich progress display on ``console`` (default: stderr), disabled when ``enabled`` is
    false or the console is not a terminal."""
    console = console or default_console()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )
