"""The Markdown pieces that the report and its evidence section both write tables with."""

from __future__ import annotations

import math


def ci_text(point: float, lo: float, hi: float, digits: int = 1) -> str:
    """A point and its interval, ``point [lo, hi]`` (``n/a`` for a point that is not finite)."""
    if not math.isfinite(point):
        return "n/a"
    return f"{point:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: the header row, its rule, one line a row."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
