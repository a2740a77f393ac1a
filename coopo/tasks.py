"""The D4RL-style recipes' tasks and qualities, importable without JAX or Gymnasium (``--help``)."""

from __future__ import annotations

from typing import Any

TASKS: dict[str, tuple[str, dict[str, Any]]] = {
    "hopper": ("Hopper-v5", {}),
    "halfcheetah": ("HalfCheetah-v5", {}),
    "walker2d": ("Walker2d-v5", {}),
    "ant": ("Ant-v5", {"include_cfrc_ext_in_observation": False}),
}
"""Task -> (Gymnasium env id, gymnasium.make kwargs)."""

QUALITIES = ("random", "medium", "medium-replay", "expert", "medium-expert")
"""D4RL's dataset qualities, each a recipe (coopo.recipes)."""


def parse_recipe(name: str) -> tuple[str, str]:
    """'hopper-medium-replay' -> ('hopper', 'medium-replay'), with a clear error otherwise."""
    task, _, quality = name.partition("-")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r} in recipe {name!r}; tasks: {', '.join(TASKS)}")
    if quality not in QUALITIES:
        raise ValueError(
            f"unknown quality {quality!r} in recipe {name!r}; qualities: {', '.join(QUALITIES)}"
        )
    return task, quality
