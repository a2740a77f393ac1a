"""How methods look in report figures, and where their cycles switch.

Every method gets its own colour *and* line style, so curves stay apart in print, in
greyscale and for colour-blind readers (the Okabe-Ito palette; seaborn's "colorblind" palette
put two of five methods in near-identical colours). Colours and styles follow the method's
position in the report's method list, so a method looks the same in every figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Okabe & Ito (2008), ordered for contrast on white (yellow last).
COLORS = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)
LINESTYLES: tuple[Any, ...] = (
    "-",
    "--",
    "-.",
    ":",
    (0, (5, 1, 1, 1, 1, 1)),
    (0, (8, 2)),
    (0, (1, 1)),
    (0, (3, 1, 3, 1, 1, 1)),
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def method_styles(methods: list[str]) -> dict[str, dict[str, Any]]:
    """matplotlib keyword arguments (color, linestyle, marker) per method, all distinct pairs.

    Past len(COLORS) methods the styles shift against the colours, so (colour, style) pairs
    still never repeat for up to len(COLORS) * len(LINESTYLES) methods.
    """
    out: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(methods):
        lap = i // len(COLORS)
        out[m] = {
            "color": COLORS[i % len(COLORS)],
            "linestyle": LINESTYLES[(i + lap) % len(LINESTYLES)],
            "marker": MARKERS[(i + lap) % len(MARKERS)],
        }
    return out


def cycle_switches(rows: Iterable[dict[str, Any]]) -> list[int]:
    """Env steps at which a run went back to the dataset between online phases: the env step
    counts of its phase-end evaluations of offline phases, after the first online step."""
    return sorted(
        {
            int(r["env_steps"])
            for r in rows
            if r.get("eval/phase_end") == 1.0 and r.get("phase") == "offline" and r["env_steps"] > 0
        }
    )
